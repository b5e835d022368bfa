/**
 * Server side of an island: renders the component into a marker element that carries its
 * props as JSON; the island's bundle hydrates every marker of its name in the browser.
 */
import type { ComponentType } from "preact";

let collecting: Set<string> | null = null;

/** Renders synchronously while recording which islands the output contains. */
export function collectIslands<T>(render: () => T): { result: T; islands: Set<string> } {
  const islands = new Set<string>();
  collecting = islands;
  try {
    return { result: render(), islands };
  } finally {
    collecting = null;
  }
}

// deno-lint-ignore no-explicit-any
export function Island<P extends Record<string, any>>(
  { name, component: C, props }: { name: string; component: ComponentType<P>; props: P },
) {
  collecting?.add(name);
  return (
    <div data-island={name} data-props={JSON.stringify(props)}>
      <C {...props} />
    </div>
  );
}

/**
 * Server side of an island: renders the component into a marker element that carries its
 * props as JSON; the island's bundle hydrates every marker of its name in the browser.
 */
import type { ComponentType } from "preact";

/** A registered island (routes/pages/islands.ts): what the bundler builds and pages render. */
export interface IslandDef<P> {
  /** names the marker element and the bundle entry */
  name: string;
  /** the module whose default export is `component`: the bundle entry hydrates it */
  module: URL;
  component: ComponentType<P>;
}

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
  { of, props }: { of: IslandDef<P>; props: P },
) {
  collecting?.add(of.name);
  const C = of.component;
  return (
    <div data-island={of.name} data-props={JSON.stringify(props)}>
      <C {...props} />
    </div>
  );
}

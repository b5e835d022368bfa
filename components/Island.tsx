/**
 * Server side of an island: renders the component into a marker element that carries its
 * props as JSON; the island's bundle hydrates every marker of its name in the browser.
 */
import { type ComponentType, createContext } from "preact";
import { useContext } from "preact/hooks";

/** A registered island (routes/pages/islands.ts): what the bundler builds and pages render. */
export interface IslandDef<P> {
  /** names the marker element and the bundle entry */
  name: string;
  /** the module whose default export is `component`: the bundle entry hydrates it */
  module: URL;
  component: ComponentType<P>;
}

/**
 * Where a render records the islands it contains (so the document loads their scripts):
 * renderDocument provides a fresh set per page, every <Island> below adds its name.
 */
export const IslandsRendered = createContext<Set<string> | null>(null);

// deno-lint-ignore no-explicit-any
export function Island<P extends Record<string, any>>(
  { of, props }: { of: IslandDef<P>; props: P },
) {
  useContext(IslandsRendered)?.add(of.name);
  const C = of.component;
  return (
    <div data-island={of.name} data-props={JSON.stringify(props)}>
      <C {...props} />
    </div>
  );
}

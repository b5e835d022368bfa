/**
 * lib/ is the ground floor: nothing in it imports (or starts a Worker from) routes/, islands/
 * or workers/; the composition root hands those down instead (lib/compose.ts, workers/urls.ts).
 */
import { assertEquals } from "./helpers/assert.ts";

const ROOT = new URL("../", import.meta.url);
const UP = ["routes/", "islands/", "workers/"];
const SPECIFIER = /(?:from\s+|import\s*\(\s*|new URL\(\s*)["']([^"']+)["']/g;

async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* sources(new URL(`${e.name}/`, dir));
    else if (/\.tsx?$/.test(e.name)) yield new URL(e.name, dir);
  }
}

Deno.test("lib/ never reaches up into routes/, islands/ or workers/", async () => {
  const found: string[] = [];
  for await (const file of sources(new URL("lib/", ROOT))) {
    const text = await Deno.readTextFile(file);
    for (const [, spec] of text.matchAll(SPECIFIER)) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, file).href.slice(ROOT.href.length);
      if (UP.some((dir) => target.startsWith(dir))) {
        found.push(`${file.href.slice(ROOT.href.length)} -> ${target}`);
      }
    }
  }
  assertEquals(found, []);
});

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** Deno's own module graph of `roots` (type-only imports included), project files only. */
async function moduleGraph(roots: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const own = (s?: string) => s?.startsWith(ROOT.href) ? s.slice(ROOT.href.length) : undefined;
  for (const root of roots) {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    assertEquals(info.code, 0, `deno info ${root} failed`);
    const { modules } = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: GraphModule[];
    };
    for (const m of modules) {
      const from = own(m.specifier);
      if (!from) continue;
      const to = (m.dependencies ?? []).flatMap((d) =>
        [own(d.code?.specifier), own(d.type?.specifier)].filter((s): s is string => !!s)
      );
      graph.set(from, [...new Set([...(graph.get(from) ?? []), ...to])]);
    }
  }
  return graph;
}

/** One import loop of `graph`, as the files around it, or null when it has none. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | null => {
    state.set(file, "open");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(file, "done");
    return null;
  };
  for (const file of graph.keys()) {
    if (state.has(file)) continue;
    const found = visit(file);
    if (found) return found;
  }
  return null;
}

Deno.test("findCycle finds a loop and only a loop", () => {
  const chain = new Map([["a", ["b"]], ["b", ["c"]], ["c", []]]);
  assertEquals(findCycle(chain), null);
  chain.set("c", ["b"]);
  assertEquals(findCycle(chain), ["b", "c", "b"]);
});

Deno.test("no import cycle among the server's, the Workers' and the islands' modules", async () => {
  const roots = ["main.ts", "poller.ts"];
  for (const dir of ["workers/", "islands/"]) {
    for await (const file of sources(new URL(dir, ROOT))) {
      roots.push(file.href.slice(ROOT.href.length));
    }
  }
  const graph = await moduleGraph(roots.sort());
  // the graph really is the project's: the composition root reaches the WinRM client
  assertEquals((graph.get("main.ts") ?? []).length > 0, true);
  assertEquals([...graph.keys()].some((f) => f.startsWith("lib/winrm/")), true);
  assertEquals(findCycle(graph), null);
});

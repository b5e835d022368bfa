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

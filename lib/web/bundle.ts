/**
 * Browser assets: the islands the caller registers are bundled with `deno bundle` (code
 * splitting, so Preact and signals load once per page) into memory when the server starts,
 * and served under a content-hashed path. A fresh clone needs no build step.
 */
const ROOT = new URL("../../", import.meta.url);

/** What the bundler needs of an island: its name and the module that default-exports it. */
export interface IslandEntry {
  name: string;
  module: URL;
}

export interface Asset {
  body: Uint8Array;
  type: string;
}

export interface WebAssets {
  /** island name -> URL of its entry module, under the build's prefix /static/js/<hash> */
  entries: Map<string, string>;
  /** path under /static -> file */
  files: Map<string, Asset>;
  /** URL of the stylesheet (hashed query string) */
  css: string;
  /** set when the islands could not be bundled: pages still render, without interactivity */
  error?: string;
}

function entrySource({ name, module }: IslandEntry): string {
  return `import { h, hydrate } from "preact";
import C from ${JSON.stringify(module.href)};
for (const el of document.querySelectorAll('[data-island="${name}"]')) {
  hydrate(h(C, JSON.parse(el.getAttribute("data-props") || "{}")), el);
}
`;
}

async function hash(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(d.slice(0, 5), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function bundleIslands(islands: readonly IslandEntry[]): Promise<Map<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-islands-" });
  try {
    const entries: string[] = [];
    for (const island of islands) {
      const p = `${dir}/${island.name}.ts`;
      await Deno.writeTextFile(p, entrySource(island));
      entries.push(p);
    }
    const out = `${dir}/out`;
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--config",
        new URL("deno.json", ROOT).pathname,
        "--platform",
        "browser",
        "--format",
        "esm",
        "--minify",
        "--code-splitting",
        "--outdir",
        out,
        ...entries,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const res = await cmd.output();
    if (!res.success) {
      throw new Error(`deno bundle failed: ${new TextDecoder().decode(res.stderr).slice(0, 2000)}`);
    }
    const files = new Map<string, Uint8Array>();
    for await (const e of Deno.readDir(out)) {
      if (e.isFile && e.name.endsWith(".js")) {
        files.set(e.name, await Deno.readFile(`${out}/${e.name}`));
      }
    }
    return files;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export async function buildWebAssets(islands: readonly IslandEntry[]): Promise<WebAssets> {
  const files = new Map<string, Asset>();
  const css = await Deno.readFile(new URL("static/app.css", ROOT));
  files.set("/app.css", { body: css, type: "text/css; charset=utf-8" });
  const cssUrl = `/static/app.css?v=${await hash(css)}`;
  const entries = new Map<string, string>();
  let error: string | undefined;
  try {
    const js = await bundleIslands(islands);
    const all = new Uint8Array([...js.values()].flatMap((b) => [...b]));
    const id = await hash(all);
    for (const [file, body] of js) {
      files.set(`/js/${id}/${file}`, { body, type: "text/javascript; charset=utf-8" });
    }
    for (const { name } of islands) entries.set(name, `/static/js/${id}/${name}.js`);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  return { entries, files, css: cssUrl, error };
}

/**
 * Browser assets: every island under islands/ (a PascalCase .tsx file) is bundled with
 * `deno bundle` (code splitting, so Preact and signals load once per page) into memory when
 * the server starts, and served under a content-hashed path. A fresh clone needs no build step.
 */
const ROOT = new URL("../../", import.meta.url);
const ISLAND_FILE = /^([A-Z][A-Za-z0-9]*)\.tsx$/;

export interface Asset {
  body: Uint8Array;
  type: string;
}

export interface WebAssets {
  /** URL prefix of this build, e.g. /static/js/3fa2c1d0 */
  base: string;
  /** island name -> URL of its entry module */
  entries: Map<string, string>;
  /** path under /static -> file */
  files: Map<string, Asset>;
  /** URL of the stylesheet (hashed query string) */
  css: string;
  /** set when the islands could not be bundled: pages still render, without interactivity */
  error?: string;
}

export async function islandNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(new URL("islands/", ROOT))) {
    const m = ISLAND_FILE.exec(e.name);
    if (e.isFile && m) names.push(m[1]);
  }
  return names.sort();
}

function entrySource(name: string): string {
  const url = new URL(`islands/${name}.tsx`, ROOT).href;
  return `import { h, hydrate } from "preact";
import C from ${JSON.stringify(url)};
for (const el of document.querySelectorAll('[data-island="${name}"]')) {
  hydrate(h(C, JSON.parse(el.getAttribute("data-props") || "{}")), el);
}
`;
}

async function hash(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(d.slice(0, 5), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function bundleIslands(names: string[]): Promise<Map<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-islands-" });
  try {
    const entries: string[] = [];
    for (const n of names) {
      const p = `${dir}/${n}.ts`;
      await Deno.writeTextFile(p, entrySource(n));
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

export async function buildWebAssets(): Promise<WebAssets> {
  const files = new Map<string, Asset>();
  const css = await Deno.readFile(new URL("static/app.css", ROOT));
  files.set("/app.css", { body: css, type: "text/css; charset=utf-8" });
  const cssUrl = `/static/app.css?v=${await hash(css)}`;
  const entries = new Map<string, string>();
  let base = "/static/js/none";
  let error: string | undefined;
  try {
    const names = await islandNames();
    const js = await bundleIslands(names);
    const all = new Uint8Array([...js.values()].flatMap((b) => [...b]));
    const id = await hash(all);
    base = `/static/js/${id}`;
    for (const [file, body] of js) {
      files.set(`/js/${id}/${file}`, { body, type: "text/javascript; charset=utf-8" });
    }
    for (const n of names) entries.set(n, `${base}/${n}.js`);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  return { base, entries, files, css: cssUrl, error };
}

/** Every file a page loads for these islands: their entries and the chunks they import. */
export function moduleClosure(assets: WebAssets, islands: Iterable<string>): string[] {
  const seen = new Set<string>();
  const visit = (url: string) => {
    if (seen.has(url)) return;
    const file = assets.files.get(url.slice("/static".length));
    if (!file) return;
    seen.add(url);
    const text = new TextDecoder().decode(file.body);
    for (const m of text.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) {
      visit(`${url.slice(0, url.lastIndexOf("/"))}/${m[1]}`);
    }
  };
  for (const name of islands) {
    const url = assets.entries.get(name);
    if (url) visit(url);
  }
  return [...seen];
}

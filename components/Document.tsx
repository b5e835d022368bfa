/** Turns a page's body into the HTML document, with the scripts of the islands it contains. */
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import { IslandsRendered } from "./Island.tsx";
import type { WebAssets } from "../lib/web/bundle.ts";

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

export function renderDocument(assets: WebAssets, title: string, body: ComponentChildren): string {
  const islands = new Set<string>();
  const html = renderToString(
    <IslandsRendered.Provider value={islands}>{body}</IslandsRendered.Provider>,
  );
  const scripts = [...islands].map((n) => assets.entries.get(n)).filter((u) => u !== undefined)
    .map((u) => `<script type="module" src="${u}"></script>`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="color-scheme" content="light dark">` +
    `<title>${escape(title)} · NMSlite</title>` +
    `<link rel="stylesheet" href="${assets.css}">${scripts}</head><body>${html}</body></html>`;
}

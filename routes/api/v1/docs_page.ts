/**
 * A self-contained page rendering /api/v1/openapi.json: no CDN, so it works on an isolated
 * network. Each operation shows its method, path, summary, parameters and body schema.
 */
// deno-lint-ignore no-explicit-any
type Doc = any;

const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function renderDocsPage(doc: Doc): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Doc>)) {
      const tag = op.tags?.[0] ?? "other";
      const params = (op.parameters ?? []).map((p: Doc) =>
        `<li><code>${esc(p.name)}</code> <small>${esc(p.in)}${
          p.required ? ", required" : ""
        }</small></li>`
      ).join("");
      const body = op.requestBody?.content?.["application/json"]?.schema;
      const responses = Object.entries(op.responses ?? {}).map(([code, r]) =>
        `<li><code>${esc(code)}</code> ${esc((r as Doc).description)}</li>`
      ).join("");
      const html = `<details><summary><span class="m ${esc(method)}">${
        esc(method.toUpperCase())
      }</span>
        <code>/api/v1${esc(path)}</code> ${esc(op.summary)}${
        op.security ? "" : " <em>(no auth)</em>"
      }</summary>
        ${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ""}
        ${body ? `<h4>Body</h4><pre>${esc(JSON.stringify(resolve(doc, body), null, 2))}</pre>` : ""}
        <h4>Responses</h4><ul>${responses}</ul></details>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const sections = [...byTag].map(([tag, ops]) =>
    `<section><h2>${esc(tag)}</h2>${ops.join("")}</section>`
  )
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info?.title)} ${esc(doc.info?.version)}</title>
<style>
:root{color-scheme:light dark;font-family:system-ui,sans-serif}
body{max-width:60rem;margin:auto;padding:1rem}
details{border:1px solid #8884;border-radius:6px;margin:.4rem 0;padding:.4rem .6rem}
summary{cursor:pointer}
.m{display:inline-block;min-width:4.5rem;font-weight:600}
.get{color:#2a7}.post{color:#27c}.put{color:#c80}.delete{color:#c33}
pre{overflow:auto;background:#8881;padding:.5rem}
</style></head><body>
<h1>${esc(doc.info?.title)} <small>${esc(doc.info?.version)}</small></h1>
<p>${esc(doc.info?.description)} Machine-readable: <a href="openapi.json">openapi.json</a>.
Authenticate with <code>POST /api/v1/auth/login</code>, then send <code>Authorization: Bearer &lt;access_token&gt;</code>.</p>
${sections}</body></html>`;
}

function resolve(doc: Doc, schema: Doc, depth = 0): Doc {
  if (depth > 6 || schema === null || typeof schema !== "object") return schema;
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return resolve(doc, doc.components?.schemas?.[name], depth + 1);
  }
  if (Array.isArray(schema)) return schema.map((s) => resolve(doc, s, depth + 1));
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, resolve(doc, v, depth + 1)]),
  );
}

/** What every page module uses to answer: the document with layout, or a bare page (login). */
import type { Context } from "hono";
import type { ComponentChildren } from "preact";
import type { AppEnv } from "../http/env.ts";
import { renderDocument } from "../../components/Document.tsx";
import { Layout } from "../../components/Layout.tsx";
import { csrfTokenOf } from "../http/session.ts";
import type { WebAssets } from "../../lib/web/bundle.ts";

/** Pages load only their own scripts and styles; nothing inline, nothing from elsewhere. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface View {
  /** A page inside the layout, for the signed-in user. */
  page(
    c: Context<AppEnv>,
    title: string,
    body: ComponentChildren,
    status?: number,
  ): Promise<Response>;
  /** A page without navigation (login). */
  bare(c: Context, title: string, body: ComponentChildren, status?: number): Promise<Response>;
}

export function createView(assets: () => Promise<WebAssets>): View {
  const html = (c: Context, doc: string, status: number) =>
    c.html(doc, status as 200, { "cache-control": "no-store", "content-security-policy": CSP });
  return {
    async page(c, title, body, status = 200) {
      const a = await assets();
      const doc = renderDocument(
        a,
        title,
        <Layout user={c.get("user")} path={c.req.path} csrf={csrfTokenOf(c)}>{body}</Layout>,
      );
      return html(c, doc, status);
    },
    async bare(c, title, body, status = 200) {
      return html(c, renderDocument(await assets(), title, <main id="main">{body}</main>), status);
    },
  };
}

/** A dashboard URL for signed-in users: createPages serves `path` behind the cookie session. */
export interface Page {
  path: string;
  get(c: Context<AppEnv>, view: View): Promise<Response>;
}

/** Editing controls are shown to operators and admins; the API refuses viewers anyway. */
export function canEdit(c: Context<AppEnv>): boolean {
  return c.get("user").role !== "viewer";
}

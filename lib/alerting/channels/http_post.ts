/**
 * One HTTP POST to a channel's receiver (webhook, Alertmanager) and the outcome the outbox
 * acts on. node:http(s) rather than fetch() because the connection must go to the address the
 * target guard checked: its `lookup` hook hands over that address, so the name is resolved
 * once and a changing DNS answer cannot redirect the connection. Redirects are never followed.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { DeliveryOutcome } from "../notification.ts";
import {
  checkTarget,
  type ResolvedAddress,
  type Resolver,
  TargetRefusedError,
} from "./target_guard.ts";

export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowLinkLocal: boolean;
  /** verify the server certificate (https); true unless the settings say otherwise */
  tlsVerify: boolean;
  /** extra trusted CA certificates (PEM) for https */
  caPem?: string;
  /** values that must never appear in an outcome's detail */
  secrets: string[];
  resolve?: Resolver;
  signal?: AbortSignal;
}

const MAX_RESPONSE = 64 * 1024;
const SNIPPET = 200;

export async function postJson(opts: PostOptions): Promise<DeliveryOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(opts.url);
  const where = url.origin; // the path may carry a token (Slack, Teams): never report it
  const fail = (retryable: boolean, status: string, detail: string): DeliveryOutcome => ({
    ok: false,
    retryable,
    status,
    detail: redact(detail, [...opts.secrets, decodeURIComponent(url.password)]),
    durationMs: elapsed(),
  });

  let checked: ResolvedAddress[];
  try {
    checked = await checkTarget(url.hostname, opts);
  } catch (e) {
    if (e instanceof TargetRefusedError) return fail(false, "refused", e.message);
    return fail(true, "dns", `cannot resolve ${url.hostname}: ${errorText(e)}`);
  }

  if (opts.signal?.aborted) return fail(true, "aborted", `${where}: delivery aborted`);

  const client = url.protocol === "https:" ? https : http;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return await new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const req = client.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port || (url.protocol === "https:" ? 443 : 80),
      path: url.pathname + url.search,
      method: "POST",
      headers: {
        ...opts.headers,
        "content-length": String(new TextEncoder().encode(opts.body).length),
      },
      auth: url.username
        ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
        : undefined,
      servername: url.protocol === "https:" && !isIP(host) ? host : undefined,
      rejectUnauthorized: opts.tlsVerify,
      ca: opts.caPem || undefined,
      agent: false,
      lookup: ((
        _host: string,
        options: { all?: boolean },
        cb: (...args: unknown[]) => void,
      ) => {
        if (options?.all) cb(null, checked);
        else cb(null, checked[0].address, checked[0].family);
      }) as never,
    }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (c: Uint8Array) => {
        if (size < MAX_RESPONSE) chunks.push(c);
        size += c.length;
      });
      res.on("error", (e) => finish(fail(true, "network", `${where}: ${errorText(e)}`)));
      res.on("end", () => {
        if (status >= 200 && status < 300) {
          finish({ ok: true, status: `HTTP ${status}`, durationMs: elapsed() });
          return;
        }
        const text = new TextDecoder().decode(concat(chunks)).replace(/\s+/g, " ").trim();
        const snippet = text.length > SNIPPET ? text.slice(0, SNIPPET) + "…" : text;
        const why = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
        finish(fail(
          isRetryableStatus(status),
          `HTTP ${status}`,
          `${where} answered ${status}${why}${snippet ? `: ${snippet}` : ""}`,
        ));
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(fail(true, "timeout", `${where}: no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    const onAbort = () => {
      req.destroy();
      finish(fail(true, "aborted", `${where}: delivery aborted`));
    };
    req.on("error", (e) => finish(fail(true, "network", `${where}: ${errorText(e)}`)));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    req.end(opts.body);
  });
}

/** 408, 429 and 5xx may succeed later; any other non-2xx answer will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Replaces every occurrence of a secret (and of its URL-encoded form) with "***". */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue; // too short to tell apart from ordinary text
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join("***");
  }
  return out;
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    return code && !e.message.includes(code) ? `${code} ${e.message}` : e.message;
  }
  return String(e);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

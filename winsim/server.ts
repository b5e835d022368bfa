/**
 * One simulated host's connections: HTTP framing, per-connection auth, NTLM message
 * encryption, injected faults, then WS-Man dispatch.
 */
import {
  decryptMessage,
  encryptedContentType,
  encryptMessage,
  type Sealer,
} from "../lib/winrm/encryption.ts";
import type { NtlmSession } from "../lib/winrm/ntlm/session.ts";
import { concatBytes } from "../lib/winrm/ntlm/wire.ts";
import { type AuthConfig, ConnectionAuth } from "./auth.ts";
import { faultEnvelope } from "./faults.ts";
import type { HostState } from "./hosts.ts";
import { HttpError, HttpReader, type HttpRequest, httpResponse, writeAll } from "./http.ts";
import { handleSoap } from "./wsman.ts";

export interface ServeContext {
  auth: AuthConfig;
  /** open connections, closed by Winsim.close() */
  conns: Set<Deno.Conn>;
}

const SOAP_TYPE = "application/soap+xml;charset=UTF-8";
const encoder = new TextEncoder();

export async function serveWinrm(
  conn: Deno.Conn,
  host: HostState,
  ctx: ServeContext,
  certificate?: Uint8Array,
): Promise<void> {
  host.stats.connections++;
  ctx.conns.add(conn);
  const reader = new HttpReader(conn);
  const auth = new ConnectionAuth(ctx.auth, host, certificate);
  // Responses to pipelined requests leave together once no further request is waiting: a
  // Deno TLS connection cannot turn Nagle off, and a response held back by Nagle would wait
  // for the client's delayed ACK (see README, "Pipelined requests").
  const held: Uint8Array[] = [];
  const flush = async () => {
    if (!held.length) return;
    const out = held.length === 1 ? held[0] : concatBytes(...held);
    held.length = 0;
    await writeAll(conn, out);
  };
  try {
    for (;;) {
      let req: HttpRequest | null;
      try {
        req = await reader.next();
      } catch (err) {
        if (err instanceof HttpError) {
          await writeAll(conn, httpResponse(err.status, [["Connection", "close"]]));
        }
        break;
      }
      if (!req) break;
      host.stats.requests++;
      const early = reader.buffered > 0;
      if (early) host.stats.pipelinedRequests++;
      const fault = host.fault;
      if (fault?.kind === "reset") break;
      if (fault?.kind === "hang") {
        // Never answer; hold the socket until the client gives up.
        while (await conn.read(new Uint8Array(4096)) !== null);
        break;
      }
      if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.ms));
      const res = respond(req, auth, host, ctx.auth);
      if (fault?.kind === "no-pipelining" && early) {
        if (fault.ignore) {
          reader.discard();
        } else {
          held.push(withConnectionClose(res));
          break;
        }
      }
      held.push(res);
      if (!req.keepAlive) break;
      if (reader.buffered === 0 || held.length >= 16) await flush();
    }
    await flush();
  } catch {
    // The peer went away or TLS failed: nothing to answer.
  } finally {
    ctx.conns.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

function respond(req: HttpRequest, auth: ConnectionAuth, host: HostState, cfg: AuthConfig) {
  const path = req.path.split("?")[0].toLowerCase();
  if (path !== "/wsman") return httpResponse(404, [], "");
  if (req.method !== "POST") return httpResponse(405, [["Allow", "POST"]]);
  const outcome = auth.authenticate(req);
  if (!outcome.ok) return httpResponse(401, outcome.headers);
  const res = answer(req, auth, outcome.session, host, cfg);
  return outcome.headers ? withHeaders(res, outcome.headers) : res;
}

function answer(
  req: HttpRequest,
  auth: ConnectionAuth,
  session: NtlmSession | Sealer | undefined,
  host: HostState,
  cfg: AuthConfig,
) {
  // The body-less POST that completes a handshake (pywinrm's setup_encryption).
  if (req.body.length === 0) return httpResponse(200, []);

  const contentType = req.headers.get("content-type") ?? "";
  let soap: string;
  let charset: "UTF-8" | "UTF-16" = "UTF-8";
  const encrypted = contentType.toLowerCase().startsWith("multipart/encrypted");
  if (encrypted) {
    if (!session) return httpResponse(400, []);
    host.stats.sealedMessages++;
    // Kerberos: answer in the label the client sealed with (pywinrm's Negotiate says SPNEGO).
    const label = /protocol="?([^";]+)/i.exec(contentType)?.[1];
    if (label && "protocol" in session) (session as { protocol: string }).protocol = label;
    charset = /charset=UTF-16/i.test(new TextDecoder().decode(req.body.subarray(0, 256)))
      ? "UTF-16"
      : "UTF-8";
    try {
      soap = decode(decryptMessage(session, req.body), charset);
    } catch {
      return httpResponse(400, []);
    }
  } else {
    // AllowUnencrypted=false: an NTLM client on plain HTTP must seal its messages.
    if (session && !auth.tls && !cfg.allowUnencrypted) {
      return httpResponse(401, auth.challengeHeaders());
    }
    if (/charset=UTF-16/i.test(contentType)) charset = "UTF-16";
    soap = decode(req.body, charset);
  }

  const fault = host.fault;
  let status: number;
  let xml: string;
  if (fault?.kind === "fault") {
    host.stats.faults++;
    status = 500;
    xml = faultEnvelope(
      fault.subcode === "TimedOut" ? "timedOut" : "accessDenied",
      /<(?:[\w.-]+:)?MessageID>([^<]*)</.exec(soap)?.[1],
      host.profile.name,
    );
  } else {
    ({ status, xml } = handleSoap(host, soap));
    // Cut mid-element so no XML parser accepts it.
    if (fault?.kind === "malformed") {
      status = 200;
      xml = xml.slice(0, Math.floor(xml.length * 0.6)) + "<<garbage";
    }
  }
  return encrypted && fault?.kind !== "unsealed"
    ? seal(status, session!, xml, charset)
    : httpResponse(
      status,
      [["Content-Type", SOAP_TYPE.replace("UTF-8", charset)]],
      encode(xml, charset),
    );
}

function seal(
  status: number,
  session: NtlmSession | Sealer,
  xml: string,
  charset: "UTF-8" | "UTF-16",
) {
  const body = encryptMessage(session, encode(xml, charset), charset);
  return httpResponse(status, [["Content-Type", encryptedContentType(session as Sealer)]], body);
}

function decode(bytes: Uint8Array, charset: "UTF-8" | "UTF-16"): string {
  return new TextDecoder(charset === "UTF-16" ? "utf-16le" : "utf-8").decode(bytes);
}

function encode(s: string, charset: "UTF-8" | "UTF-16"): Uint8Array {
  if (charset === "UTF-8") return encoder.encode(s);
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 255;
    out[2 * i + 1] = c >> 8;
  }
  return out;
}

/** Port 135 stand-in: accept, swallow whatever arrives, close after a while. */
export async function serveSilent(conn: Deno.Conn, host: HostState, ctx: ServeContext) {
  host.stats.connections++;
  ctx.conns.add(conn);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, 10_000);
  try {
    while (await conn.read(new Uint8Array(4096)) !== null);
  } catch {
    /* closed */
  } finally {
    clearTimeout(timer);
    ctx.conns.delete(conn);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** A TCP-only host's HTTP port: a web server that is not WinRM. */
export async function serveNotWinrm(conn: Deno.Conn, host: HostState, ctx: ServeContext) {
  host.stats.connections++;
  ctx.conns.add(conn);
  try {
    const req = await new HttpReader(conn).next();
    if (req) {
      host.stats.requests++;
      const html = "<html><body><h1>404 - File or directory not found.</h1></body></html>";
      await writeAll(
        conn,
        httpResponse(
          404,
          [["Content-Type", "text/html"], ["Connection", "close"]],
          html,
          "Microsoft-IIS/10.0",
        ),
      );
    }
  } catch {
    /* garbage or closed */
  } finally {
    ctx.conns.delete(conn);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The same response telling the client the connection ends after it. */
function withConnectionClose(res: Uint8Array): Uint8Array {
  return withHeaders(res, [["Connection", "close"]]);
}

/** The same response with more headers after its status line. */
function withHeaders(res: Uint8Array, headers: Array<[string, string]>): Uint8Array {
  const head = new TextDecoder().decode(res.subarray(0, res.indexOf(10) + 1));
  const extra = new TextEncoder().encode(headers.map(([k, v]) => `${k}: ${v}\r\n`).join(""));
  const out = new Uint8Array(res.length + extra.length);
  out.set(res.subarray(0, head.length));
  out.set(extra, head.length);
  out.set(res.subarray(head.length), head.length + extra.length);
  return out;
}

/**
 * Kerberos under HTTP `Negotiate` on one connection: a service ticket from the principal's
 * cache, the AP-REQ (mutual authentication, TLS channel bindings over HTTPS) in a SPNEGO
 * NegTokenInit, and the AP-REP checked from the 200's `WWW-Authenticate`. Like NTLM the
 * context belongs to the connection; over HTTP every message is then sealed with RFC 4121
 * Wrap tokens in the MS-WSMV multipart framing.
 */
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import type { KerberosClient } from "../kerberos/client.ts";
import { KerberosError } from "../kerberos/errors.ts";
import { InitiatorContext, unframe } from "../kerberos/gss.ts";
import {
  MECH_TYPES,
  NEG_STATE,
  negTokenInit,
  negTokenResp,
  readNegTokenResp,
} from "../kerberos/spnego.ts";
import { decodeKrbError } from "../kerberos/messages.ts";
import { Der } from "../kerberos/asn1.ts";
import { krbErrorToError } from "../kerberos/client.ts";
import { channelBindingsHash } from "./ntlm/channel_bindings.ts";
import type { Sealer } from "./encryption.ts";
import type { Connection } from "./connection.ts";
import { type HttpResponse, offered, SOAP_CONTENT_TYPE } from "./http.ts";
import type { HandshakeSender } from "./ntlm_auth.ts";
import { AuthenticationError, ConfigError, ProtocolError } from "./errors.ts";

export const KERBEROS_PROTOCOL = "application/HTTP-Kerberos-session-encrypted";
export const SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted";

/** How the service principal is chosen: from the host name, the IP's reverse name, or fixed. */
export type SpnChoice = "host" | "reverse" | string;

/** A Kerberos failure as the client's error: `problem` names which (wrong_password, …). */
export class KerberosAuthenticationError extends AuthenticationError {
  override name = "KerberosAuthenticationError";
  constructor(readonly problem: string, message: string, readonly krbErrorCode?: number) {
    super(message);
  }
}

/**
 * RFC 4121 Wrap tokens in the MS-WSMV framing: <u32 header length><header><data>. Either
 * end's context (the simulator seals its answers with this too, in the label it was sent).
 */
export class KerberosSealer implements Sealer {
  readonly signatureLength = 60; // AES: 16 token header + 28 rotated + 16 confounder
  constructor(
    readonly context: {
      wrapInto(
        plain: Uint8Array,
        out: Uint8Array,
        at: number,
        sig: Uint8Array,
        sigAt: number,
      ): void;
      unwrapParts(head: Uint8Array, tail: Uint8Array): Uint8Array;
      unwrapPartsWith<T>(head: Uint8Array, tail: Uint8Array, use: (plain: Uint8Array) => T): T;
    },
    public protocol: string,
  ) {}

  sealInto(plain: Uint8Array, out: Uint8Array, at: number, sig: Uint8Array, sigAt: number) {
    this.context.wrapInto(plain, out, at, sig, sigAt);
  }

  unseal(sealed: Uint8Array, signature: Uint8Array): Uint8Array {
    return this.context.unwrapParts(signature, sealed);
  }

  unsealWith<T>(sealed: Uint8Array, signature: Uint8Array, use: (plain: Uint8Array) => T): T {
    return this.context.unwrapPartsWith(signature, sealed, use);
  }
}

/** "127.0.0.1" → "1.0.0.127.in-addr.arpa"; IPv6 → its nibble name under ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return ip.split(".").reverse().join(".") + ".in-addr.arpa";
  const [head, tail = ""] = ip.split("::");
  const groups = (s: string) => s ? s.split(":") : [];
  const h = groups(head), t = groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const hex = all.map((g) => g.padStart(4, "0")).join("");
  return [...hex].reverse().join(".") + ".ip6.arpa";
}

/** PTR names of an IP address (absent or failing: none). */
export type PtrResolver = (ip: string) => Promise<string[]>;

/** The system's resolver, or the DNS server given (tests, or a deployment's own). */
export function dnsPtrResolver(nameServer?: { ipAddr: string; port?: number }): PtrResolver {
  return async (ip) => {
    try {
      return await Deno.resolveDns(
        reverseName(ip),
        "PTR",
        nameServer
          ? { nameServer: { ipAddr: nameServer.ipAddr, port: nameServer.port ?? 53 } }
          : {},
      );
    } catch {
      return []; // NXDOMAIN or no answer
    }
  };
}

/** The SPN for `host`: "HTTP/<host>", the reverse name of an IP, or the fixed name given. */
export async function resolveSpn(
  host: string,
  choice: SpnChoice = "host",
  resolvePtr: PtrResolver = dnsPtrResolver(),
): Promise<string> {
  if (choice !== "host" && choice !== "reverse") return choice;
  const ip = isIP(host.replace(/^\[|\]$/g, ""));
  if (choice === "host") {
    if (ip) {
      throw new ConfigError(
        `Kerberos needs a host name, not the IP address ${host}: a service principal is ` +
          "HTTP/<host name>. Poll the device by its DNS name, or set the credential's SPN " +
          "option (the IP's reverse DNS name, or a fixed SPN such as HTTP/server.example.com)",
      );
    }
    return `HTTP/${host.toLowerCase()}`;
  }
  if (!ip) return `HTTP/${host.toLowerCase()}`;
  const names = await resolvePtr(host.replace(/^\[|\]$/g, ""));
  if (!names.length) {
    throw new ConfigError(
      `Kerberos: ${host} has no reverse DNS name (PTR ${
        reverseName(host.replace(/^\[|\]$/g, ""))
      }) to build the SPN from; add the PTR record or set a fixed SPN such as HTTP/server.example.com`,
    );
  }
  return `HTTP/${names[0].replace(/\.$/, "").toLowerCase()}`;
}

export interface KerberosHandshakeInput {
  client: KerberosClient;
  spn: string;
  https: boolean;
  /** the label sealed bodies carry (Kerberos by default; SPNEGO as pywinrm's Negotiate) */
  protocol?: string;
  /** the request body; carried by the AP-REQ leg over HTTPS */
  body: string;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Establishes the Kerberos context on `conn` (sets conn.sealer). Over HTTPS it returns the
 * response to `body`, which rode on the AP-REQ leg; over HTTP it returns null.
 */
export async function kerberosHandshake(
  transport: HandshakeSender,
  conn: Connection,
  input: KerberosHandshakeInput,
): Promise<HttpResponse | null> {
  let ctx: InitiatorContext;
  try {
    const t = await input.client.serviceTicket(input.spn, input.signal);
    ctx = new InitiatorContext({
      ...t,
      channelBindings: input.https && conn.peerCertificate
        ? channelBindingsHash(conn.peerCertificate)
        : null,
      nowMs: (input.now ?? Date.now)(),
    });
  } catch (err) {
    throw mapKerberosError(err, conn);
  }
  const token = negTokenInit(ctx.initialToken());
  const res = await transport.send(
    conn,
    input.https ? input.body : new Uint8Array(0),
    SOAP_CONTENT_TYPE,
    `Negotiate ${Buffer.from(token).toString("base64")}`,
    input.signal,
  );
  let answer = negotiateToken(res);
  const asked = answer ? micRequested(answer) : false;
  if (asked) {
    // RFC 4178 §5: the acceptor made the context but completes the negotiation only on our
    // mechListMIC (request-mic, or accept-incomplete with its own MIC): check its AP-REP,
    // then send the MIC over the mechTypes we offered on the same connection.
    try {
      completeContext(ctx, answer!);
    } catch (err) {
      throw mapKerberosError(err, conn);
    }
    const mic = negTokenResp({ mechListMic: ctx.getMic(MECH_TYPES) });
    const res2 = await transport.send(
      conn,
      input.https ? input.body : new Uint8Array(0),
      SOAP_CONTENT_TYPE,
      `Negotiate ${Buffer.from(mic).toString("base64")}`,
      input.signal,
    );
    if (res2.status === 401) {
      input.client.forget(input.spn);
      throw new KerberosAuthenticationError(
        "rejected",
        `${conn.endpoint}: the server refused our SPNEGO mechListMIC (HTTP 401)`,
      );
    }
    answer = negotiateToken(res2);
    if (answer) {
      try {
        const last = readNegTokenResp(answer);
        if (last.negState === NEG_STATE.reject) {
          throw new KerberosError("protocol", "the server rejected the SPNEGO negotiation");
        }
        if (last.mechListMic) ctx.verifyMic(MECH_TYPES, last.mechListMic);
      } catch (err) {
        throw mapKerberosError(err, conn);
      }
    }
    conn.sealer = new KerberosSealer(ctx, input.protocol ?? KERBEROS_PROTOCOL);
    return input.https ? res2 : null;
  }
  if (res.status === 401) {
    // The service refused the ticket; a KRB-ERROR inside says why (skew, wrong key…).
    input.client.forget(input.spn);
    const why = answer ? krbErrorIn(answer, conn) : null;
    if (why) throw why;
    if (!offered(res).includes("negotiate")) {
      throw new AuthenticationError(
        `${conn.endpoint}: the server does not offer Negotiate (Kerberos) authentication` +
          ` (offered: ${offered(res).join(", ") || "nothing"})`,
        401,
      );
    }
    throw new KerberosAuthenticationError(
      "rejected",
      `${conn.endpoint}: the server refused the Kerberos ticket for ${input.spn} (HTTP 401): ` +
        "its keytab may not hold the SPN's current key, the user may lack access" +
        (input.https ? ", or the TLS channel binding did not match (a TLS-inspecting proxy?)" : ""),
    );
  }
  if (!answer) {
    throw new KerberosAuthenticationError(
      "mutual",
      `${conn.endpoint}: HTTP ${res.status} without a Negotiate token: the server did not ` +
        "authenticate itself (mutual authentication is required)",
    );
  }
  try {
    completeContext(ctx, answer);
  } catch (err) {
    throw mapKerberosError(err, conn);
  }
  conn.sealer = new KerberosSealer(ctx, input.protocol ?? KERBEROS_PROTOCOL);
  return input.https ? res : null;
}

/** A NegTokenResp that carries the AP-REP and asks for the initiator's mechListMIC. */
function micRequested(token: Uint8Array): boolean {
  if (token[0] !== 0xa1) return false;
  try {
    const r = readNegTokenResp(token);
    return !!r.responseToken && (r.negState === NEG_STATE.requestMic ||
      (r.negState === NEG_STATE.acceptIncomplete && !!r.mechListMic));
  } catch {
    return false;
  }
}

/** Takes the AP-REP out of a NegTokenResp (or a raw krb5 token) and checks the mechListMIC. */
function completeContext(ctx: InitiatorContext, token: Uint8Array) {
  if (token[0] === 0x60) return ctx.complete(token); // raw Kerberos token
  const resp = readNegTokenResp(token);
  if (resp.negState === NEG_STATE.reject) {
    throw new KerberosError("protocol", "the server rejected the SPNEGO negotiation");
  }
  if (!resp.responseToken) {
    throw new KerberosError("protocol", "the server's answer holds no AP-REP");
  }
  ctx.complete(resp.responseToken);
  if (resp.mechListMic) ctx.verifyMic(MECH_TYPES, resp.mechListMic);
}

function krbErrorIn(token: Uint8Array, conn: Connection): Error | null {
  try {
    const inner = token[0] === 0x60 ? token : readNegTokenResp(token).responseToken;
    if (!inner) return null;
    const { tokId, inner: body } = unframe(inner);
    if (tokId !== 0x0300) return null;
    const e = decodeKrbError(Der.read(body));
    return mapKerberosError(krbErrorToError(e, "this user", Date.now()), conn);
  } catch {
    return null;
  }
}

function negotiateToken(res: HttpResponse): Uint8Array | null {
  for (const v of res.headers.get("www-authenticate") ?? []) {
    const m = /^(?:Negotiate|Kerberos)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(v);
    if (m) return new Uint8Array(Buffer.from(m[1], "base64"));
  }
  return null;
}

/** A Kerberos module error as the WinRM client's error, naming the endpoint. */
export function mapKerberosError(err: unknown, conn: { endpoint: string }): Error {
  if (err instanceof KerberosError) {
    if (err.problem === "config") return new ConfigError(`${conn.endpoint}: ${err.message}`);
    if (err.problem === "protocol" && !(err.message.includes("KRB-ERROR"))) {
      return new ProtocolError(`${conn.endpoint}: Kerberos protocol error: ${err.message}`);
    }
    return new KerberosAuthenticationError(
      err.problem,
      `${conn.endpoint}: Kerberos: ${err.message}`,
      err.code,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

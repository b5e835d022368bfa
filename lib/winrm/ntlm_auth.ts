/**
 * The NTLM handshake on one connection and the per-connection sealing, mapping the NTLM
 * module's errors onto the client's error types. See transport.ts for the wire sequence.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { NtlmClient } from "./ntlm/client.ts";
import {
  isNtlmMech,
  NEG_STATE,
  type NegotiateToken,
  negTokenResp,
  readNegotiateToken,
} from "./ntlm/spnego.ts";
import { NtlmAuthenticationError, NtlmIntegrityError, NtlmProtocolError } from "./ntlm/errors.ts";
import { decryptMessageWith, encryptMessageInto } from "./encryption.ts";
import type { Connection } from "./connection.ts";
import { type HttpResponse, offered, SOAP_CONTENT_TYPE } from "./http.ts";
import { AuthenticationError, ProtocolError } from "./errors.ts";

const EMPTY = new Uint8Array(0);

/** What the handshake needs of the transport that calls it: one request on a connection. */
export interface HandshakeSender {
  send(
    conn: Connection,
    body: Uint8Array | string,
    contentType: string,
    authorization: string | null,
    signal?: AbortSignal,
  ): Promise<HttpResponse>;
}

export interface HandshakeInput {
  username: string;
  domain?: string | null;
  password: string;
  https: boolean;
  /** the request body; carried by the AUTHENTICATE leg over HTTPS */
  body: string;
  signal?: AbortSignal;
}

/**
 * Establishes the NTLM context on `conn` (sets conn.ntlm). Over HTTPS it returns the
 * response to `body`, which rode on the AUTHENTICATE leg; over HTTP it returns null.
 */
export async function ntlmHandshake(
  transport: HandshakeSender,
  conn: Connection,
  input: HandshakeInput,
): Promise<HttpResponse | null> {
  let client: NtlmClient;
  let type1: Uint8Array;
  try {
    client = new NtlmClient({
      username: input.username,
      password: input.password,
      domain: input.domain ?? undefined,
      serverCertificate: input.https ? conn.peerCertificate : undefined,
    });
    type1 = client.negotiate();
  } catch (err) {
    throw mapNtlmError(err, conn);
  }
  const r1 = await transport.send(conn, EMPTY, SOAP_CONTENT_TYPE, negotiate(type1), input.signal);
  const challenge = challengeOf(r1);
  if (r1.status !== 401 || !challenge) {
    if (r1.status === 401) {
      throw new AuthenticationError(
        `${conn.endpoint}: the server does not offer NTLM (Negotiate) authentication` +
          ` (offered: ${offered(r1).join(", ") || "nothing"})`,
        401,
      );
    }
    throw new ProtocolError(
      `${conn.endpoint}: expected an NTLM challenge (HTTP 401), got HTTP ${r1.status}`,
      r1.status,
    );
  }
  if (!r1.keepAlive || !conn.alive) {
    throw new ProtocolError(`${conn.endpoint}: the server closed the connection mid-handshake`);
  }
  let type3: Uint8Array;
  let token: NegotiateToken;
  try {
    // Raw NTLMSSP, or wrapped in an SPNEGO NegTokenResp: answer in the form we were answered.
    token = readNegotiateToken(challenge.token);
    type3 = client.authenticate(ntlmChallenge(token, conn));
  } catch (err) {
    throw mapNtlmError(err, conn);
  }
  const r3 = await transport.send(
    conn,
    input.https ? input.body : EMPTY,
    SOAP_CONTENT_TYPE,
    negotiate(
      token.form === "resp" ? negTokenResp({ responseToken: type3 }) : type3,
      challenge.scheme,
    ),
    input.signal,
  );
  if (r3.status === 401) {
    throw new AuthenticationError(
      `${conn.endpoint}: the server rejected the user name or password (HTTP 401, NTLM)` +
        (input.https && conn.peerCertificate
          ? ", or the TLS channel binding: the certificate this client saw (SHA-256 " +
            `${fingerprint(conn.peerCertificate)}) is not the one the server presents, as ` +
            "when a TLS-inspecting proxy sits in between"
          : ""),
      401,
    );
  }
  conn.ntlm = client.session;
  return input.https ? r3 : null;
}

/** Seals `body` into out[at..] as a multipart/encrypted body; returns the end offset. */
export function sealRequestInto(
  conn: Connection,
  body: Uint8Array,
  out: Uint8Array,
  at: number,
): number {
  try {
    return encryptMessageInto(conn.ntlm!, body, out, at);
  } catch (err) {
    throw mapNtlmError(err, conn);
  }
}

/** Unseals a multipart/encrypted body and returns what `use` makes of the plaintext view. */
export function unsealResponse<T>(
  conn: Connection,
  body: Uint8Array,
  use: (plain: Uint8Array) => T,
): T {
  try {
    return decryptMessageWith(conn.ntlm!, body, use);
  } catch (err) {
    throw mapNtlmError(err, conn);
  }
}

/** The CHALLENGE inside a server's token, or why there is none. */
function ntlmChallenge(token: NegotiateToken, conn: Connection): Uint8Array {
  if (token.form === "resp") {
    if (token.negState === NEG_STATE.reject) {
      throw new AuthenticationError(`${conn.endpoint}: the server rejected the NTLM negotiation`);
    }
    if (token.supportedMech !== null && !isNtlmMech(token.supportedMech)) {
      throw new AuthenticationError(
        `${conn.endpoint}: the server chose a mechanism other than NTLM (Kerberos?) in its ` +
          "SPNEGO answer",
      );
    }
  }
  if (token.form === "init" || !token.ntlm) {
    throw new ProtocolError(
      `${conn.endpoint}: the server's Negotiate answer holds no NTLM challenge`,
    );
  }
  return token.ntlm;
}

function fingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex").replace(/(..)(?!$)/g, "$1:").toUpperCase();
}

function negotiate(token: Uint8Array, scheme = "Negotiate"): string {
  return `${scheme} ` +
    Buffer.from(token.buffer, token.byteOffset, token.length).toString("base64");
}

/** The scheme and token of the first `Negotiate <token>` (or `NTLM <token>`) header value. */
function challengeOf(res: HttpResponse): { scheme: string; token: Uint8Array } | null {
  for (const v of res.headers.get("www-authenticate") ?? []) {
    const m = /^(Negotiate|NTLM)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(v);
    if (m) {
      return {
        scheme: m[1].toLowerCase() === "ntlm" ? "NTLM" : "Negotiate",
        token: new Uint8Array(Buffer.from(m[2], "base64")),
      };
    }
  }
  return null;
}

function mapNtlmError(err: unknown, conn: Connection): Error {
  const msg = (err as Error)?.message ?? String(err);
  if (err instanceof NtlmAuthenticationError) {
    return new AuthenticationError(`${conn.endpoint}: ${msg}`);
  }
  if (err instanceof NtlmIntegrityError) {
    return new ProtocolError(`${conn.endpoint}: NTLM message integrity check failed: ${msg}`);
  }
  if (err instanceof NtlmProtocolError) {
    return new ProtocolError(`${conn.endpoint}: NTLM protocol error: ${msg}`);
  }
  return err instanceof Error ? err : new Error(msg);
}

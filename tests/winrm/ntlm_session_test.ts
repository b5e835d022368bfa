/**
 * NTLM client <-> acceptor round trips: handshake, MIC, channel binding,
 * sealing in both directions and the WS-Man multipart framing.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { NtlmClient } from "../../lib/winrm/ntlm/client.ts";
import { NtlmAcceptor } from "../../winsim/ntlm_acceptor.ts";
import { NtlmSession } from "../../lib/winrm/ntlm/session.ts";
import { channelBindingsHash } from "../../lib/winrm/ntlm/crypto.ts";
import {
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  encodeAuthenticate,
  getAvPair,
  MSV_AV_CHANNEL_BINDINGS,
  MSV_AV_FLAGS,
  MSV_AV_TIMESTAMP,
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
  NTLMSSP_NEGOTIATE_SEAL,
} from "../../lib/winrm/ntlm/messages.ts";
import { bytesToHex } from "../../lib/winrm/ntlm/wire.ts";
import {
  NtlmAuthenticationError,
  NtlmIntegrityError,
  NtlmProtocolError,
} from "../../lib/winrm/ntlm/errors.ts";
import {
  decryptMessage,
  ENCRYPTED_CONTENT_TYPE,
  encryptMessage,
  MAX_CHUNKS,
} from "../../lib/winrm/encryption.ts";

const USERS: Record<string, string> = { "vagrant": "Passw0rd!", "CORP\\alice": "S3cret-pw" };
const cert = (name: string) =>
  Deno.readFileSync(new URL(`../fixtures/ntlm/${name}.der`, import.meta.url));
const enc = new TextEncoder();

function handshake(
  clientOpts: Partial<ConstructorParameters<typeof NtlmClient>[0]> = {},
  acceptorOpts: Partial<ConstructorParameters<typeof NtlmAcceptor>[0]> = {},
) {
  const client = new NtlmClient({ username: "vagrant", password: "Passw0rd!", ...clientOpts });
  const acceptor = new NtlmAcceptor({
    lookupPassword: (user, domain) => USERS[domain ? `${domain}\\${user}` : user],
    targetName: "WINSIM",
    ...acceptorOpts,
  });
  const type1 = client.negotiate();
  const type2 = acceptor.challenge(type1);
  const type3 = client.authenticate(type2);
  return { client, acceptor, type1, type2, type3, accept: () => acceptor.accept(type3) };
}

Deno.test("ntlm session: handshake with MIC, then sealing both ways keeps the streams in step", () => {
  const h = handshake();
  const chal = decodeChallenge(h.type2);
  assert(
    getAvPair(decodeAvPairs(chal.targetInfo), MSV_AV_TIMESTAMP),
    "challenge carries MsvAvTimestamp",
  );
  assert(chal.flags & NTLMSSP_NEGOTIATE_KEY_EXCH && chal.flags & NTLMSSP_NEGOTIATE_SEAL);
  const auth = decodeAuthenticate(h.type3);
  assert(auth.mic && auth.mic.some((b) => b !== 0), "MIC present");
  const avFlags = getAvPair(decodeAvPairs(auth.ntChallengeResponse.subarray(44)), MSV_AV_FLAGS)!;
  assertEquals(avFlags[0] & 2, 2, "MsvAvFlags announces the MIC");
  assertEquals(auth.lmChallengeResponse, new Uint8Array(24));

  const { user, domain, session: server } = h.accept();
  assertEquals([user, domain], ["vagrant", ""]);
  const client = h.client.session;
  for (let i = 0; i < 5; i++) {
    const req = enc.encode(`<request n="${i}">${"x".repeat(i * 1000)}</request>`);
    const s = client.seal(req);
    assertEquals(new DataView(s.signature.buffer).getUint32(12, true), i, "sequence number");
    assertEquals(server.unseal(s.sealed, s.signature), req);
    const resp = enc.encode(`<response n="${i}"/>`);
    const r = server.seal(resp);
    assert(bytesToHex(r.sealed) !== bytesToHex(resp), "sealed differs from plaintext");
    assertEquals(client.unseal(r.sealed, r.signature), resp);
  }
  // sign/verify share the sequence and RC4 stream.
  const msg = enc.encode("signed only");
  server.verify(msg, client.sign(msg));
  assertThrows(() => client.verify(msg, server.sign(enc.encode("other"))), NtlmIntegrityError);
});

Deno.test("ntlm session: a challenge stripped of 128-bit keys or key exchange is refused", () => {
  // Someone on the path clearing these would leave the session sealed with 40-bit RC4 keys.
  for (const strip of [NTLMSSP_NEGOTIATE_128, NTLMSSP_NEGOTIATE_KEY_EXCH]) {
    const client = new NtlmClient({ username: "vagrant", password: "Passw0rd!" });
    const acceptor = new NtlmAcceptor({
      lookupPassword: (user) => USERS[user],
      targetName: "WINSIM",
    });
    const type2 = acceptor.challenge(client.negotiate()).slice();
    const view = new DataView(type2.buffer);
    const flags = view.getUint32(20, true); // the CHALLENGE's NegotiateFlags
    assert(flags & strip, "the acceptor offers it");
    view.setUint32(20, (flags & ~strip & ~NTLMSSP_NEGOTIATE_56) >>> 0, true);
    assertThrows(() => client.authenticate(type2), NtlmProtocolError, "128-bit keys");
  }
});

Deno.test("ntlm session: domain user, wrong password and unknown user", () => {
  const ok = handshake({ username: "alice", domain: "CORP", password: "S3cret-pw" }).accept();
  assertEquals([ok.user, ok.domain], ["alice", "CORP"]);
  const err = assertThrows(
    () => handshake({ password: "wrong-pw" }).accept(),
    NtlmAuthenticationError,
  );
  assert(!err.message.includes("wrong-pw") && !err.message.includes("Passw0rd"));
  assertThrows(() => handshake({ username: "nobody" }).accept(), NtlmAuthenticationError);
  // A corrupted NTProofStr is a failed logon, not a crash.
  const h = handshake();
  const auth = decodeAuthenticate(h.type3);
  const ntOffset = new DataView(h.type3.buffer).getUint32(24, true);
  h.type3[ntOffset] ^= 1;
  assertThrows(() => h.acceptor.accept(h.type3), NtlmAuthenticationError);
  assert(auth.ntChallengeResponse.length > 44);
});

Deno.test("ntlm session: MIC tampering and replay are rejected", () => {
  const h = handshake();
  h.type3[72] ^= 0x40; // inside the MIC
  assertThrows(() => h.accept(), NtlmProtocolError, "MIC");
  const h2 = handshake();
  h2.type3[60] &= ~0x20; // clear SEAL in the flags: only the MIC catches this
  assertThrows(() => h2.accept(), NtlmProtocolError, "MIC");
  const h4 = handshake();
  const stripped = encodeAuthenticate({
    ...decodeAuthenticate(h4.type3),
    encryptedRandomSessionKey: new Uint8Array(0),
  });
  assertThrows(() => h4.acceptor.accept(stripped), NtlmProtocolError, "EncryptedRandomSessionKey");
  const h3 = handshake();
  h3.accept();
  assertThrows(() => h3.accept(), NtlmProtocolError, "without a pending CHALLENGE");
  assertThrows(
    () => new NtlmAcceptor({ lookupPassword: () => "x" }).challenge(h3.type3),
    NtlmProtocolError,
  );
});

Deno.test("ntlm session: channel binding verified; mismatch or absence (when required) rejected", () => {
  const ours = cert("cert_rsa_sha256");
  const other = cert("cert_ecdsa_sha384");
  const h = handshake({ serverCertificate: ours }, { certificate: ours });
  const pairs = decodeAvPairs(decodeAuthenticate(h.type3).ntChallengeResponse.subarray(44));
  assertEquals(getAvPair(pairs, MSV_AV_CHANNEL_BINDINGS), channelBindingsHash(ours));
  h.accept();
  assertThrows(
    () => handshake({ serverCertificate: other }, { certificate: ours }).accept(),
    NtlmProtocolError,
    "channel binding",
  );
  handshake({}, { certificate: ours }).accept(); // Relaxed hardening: no CBT is fine
  assertThrows(
    () => handshake({}, { certificate: ours, requireChannelBinding: true }).accept(),
    NtlmProtocolError,
    "channel binding",
  );
});

Deno.test("ntlm session: channelBindingsHash known answers (computed with python ntlm_auth)", () => {
  // sha1WithRSA maps to SHA-256; ECDSA-SHA384 uses SHA-384 (RFC 5929 §4.1).
  assertEquals(
    bytesToHex(channelBindingsHash(cert("cert_rsa_sha256"))),
    "ea8952b166eef70f95ac185c5da8ad66",
  );
  assertEquals(
    bytesToHex(channelBindingsHash(cert("cert_rsa_sha1"))),
    "fbb8c401218e1527ae1d2372753accd0",
  );
  assertEquals(
    bytesToHex(channelBindingsHash(cert("cert_ecdsa_sha384"))),
    "9ddfa633458e28fe20386a671551bf04",
  );
  assertThrows(() => channelBindingsHash(new Uint8Array([0x30, 0x82, 0xff])), NtlmProtocolError);
});

function sessionPair(): { client: NtlmSession; server: NtlmSession } {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const flags = 0xe28a8235;
  return {
    client: new NtlmSession({ exportedSessionKey: key, flags, isServer: false }),
    server: new NtlmSession({ exportedSessionKey: key, flags, isServer: true }),
  };
}

Deno.test("wsman encryption: multipart framing round trip both ways, both charsets", () => {
  assertEquals(
    ENCRYPTED_CONTENT_TYPE,
    'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"',
  );
  const { client, server } = sessionPair();
  const soap = enc.encode(`<s:Envelope>${"<w:Item/>".repeat(1200)}</s:Envelope>`);
  const body = encryptMessage(client, soap);
  const text = new TextDecoder("latin1").decode(body);
  assert(
    text.startsWith(
      "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n",
    ),
  );
  assert(
    text.includes(
      `\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=${soap.length}\r\n`,
    ),
  );
  assert(text.endsWith("--Encrypted Boundary--\r\n"));
  assertEquals(decryptMessage(server, body), soap);
  const reply = enc.encode("<s:Envelope>reply</s:Envelope>");
  assertEquals(decryptMessage(client, encryptMessage(server, reply, "UTF-16")), reply);
  // Windows' own client writes "-- Encrypted Boundary" (WSMV §4.5).
  const alt = replaceBytes(
    encryptMessage(client, soap),
    "--Encrypted Boundary",
    "-- Encrypted Boundary",
  );
  assertEquals(decryptMessage(server, alt), soap);
});

Deno.test("wsman encryption: tamper, wrong Length and truncation raise typed errors", () => {
  const soap = enc.encode("<s:Envelope><s:Body>payload</s:Body></s:Envelope>");
  const typed = (e: unknown) => e instanceof NtlmIntegrityError || e instanceof NtlmProtocolError;
  const trial = (mutate: (b: Uint8Array) => Uint8Array, want?: typeof NtlmIntegrityError) => {
    const { client, server } = sessionPair();
    const body = mutate(encryptMessage(client, soap));
    try {
      decryptMessage(server, body);
    } catch (err) {
      assert(typed(err), `unexpected ${(err as Error).name}: ${(err as Error).message}`);
      if (want) assert(err instanceof want, `expected ${want.name}, got ${(err as Error).name}`);
      return;
    }
    throw new Error("decryptMessage accepted a corrupted body");
  };
  const sealedAt = (b: Uint8Array) => b.length - 24 - soap.length; // before the closing boundary
  trial((b) => (b[sealedAt(b) + 3] ^= 1, b), NtlmIntegrityError);
  trial((b) => (b[sealedAt(b) - 5] ^= 1, b), NtlmIntegrityError); // inside the signature
  const relabel = (n: number) => (b: Uint8Array) =>
    replaceBytes(b, `Length=${soap.length}`, `Length=${n}`);
  trial(relabel(soap.length - 1), NtlmIntegrityError);
  trial(relabel(soap.length + 100), NtlmIntegrityError);
  for (let n = 0; n < 200; n += 3) trial((b) => b.subarray(0, n));
  for (let n = 1; n <= 30; n++) trial((b) => b.subarray(0, b.length - n - 24));
  trial(() => crypto.getRandomValues(new Uint8Array(300)));
  trial(() => enc.encode("--Encrypted Boundary\r\n\tOriginalContent: Length=x\r\n"));
});

Deno.test("wsman encryption: a message in many chunks decodes up to the cap, and no further", () => {
  // A body of 1,600 one-byte chunks cost ~0.6 s: each chunk decoded the whole rest of the body.
  const chunked = (n: number) => {
    const { client, server } = sessionPair();
    const parts: Uint8Array[] = [];
    const latin1 = new TextDecoder("latin1");
    for (let i = 0; i < n; i++) {
      const one = encryptMessage(client, enc.encode(String.fromCharCode(65 + (i % 26))));
      const cut = i === n - 1
        ? one.length
        : latin1.decode(one).lastIndexOf("--Encrypted Boundary--");
      parts.push(one.subarray(0, cut));
    }
    const body = new Uint8Array(parts.reduce((t, p) => t + p.length, 0));
    let at = 0;
    for (const p of parts) body.set(p, at), at += p.length;
    return { server, body };
  };
  const ok = chunked(MAX_CHUNKS);
  const plain = new TextDecoder().decode(decryptMessage(ok.server, ok.body));
  assertEquals(plain.length, MAX_CHUNKS);
  assertEquals(plain.slice(0, 3), "ABC");
  const over = chunked(1_600);
  assertThrows(() => decryptMessage(over.server, over.body), NtlmProtocolError, "chunks");
});

/** Replaces every occurrence of an ASCII string in binary data (text codecs would mangle the sealed part). */
function replaceBytes(b: Uint8Array, from: string, to: string): Uint8Array {
  const f = enc.encode(from);
  const t = enc.encode(to);
  const out: number[] = [];
  let hits = 0;
  for (let i = 0; i < b.length;) {
    if (f.every((x, k) => b[i + k] === x)) {
      out.push(...t);
      i += f.length;
      hits++;
    } else out.push(b[i++]);
  }
  assert(hits > 0, `"${from}" not found`);
  return new Uint8Array(out);
}

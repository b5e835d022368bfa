/**
 * NTLM: known answers from MS-NLMP §4.2.4, the captured pywinrm session
 * (tests/fixtures/ntlm/wire), decoder robustness and username parsing.
 * Client <-> acceptor round trips are in ntlm_session_test.ts.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  encryptSessionKey,
  lmv2Response,
  ntlmv2Blob,
  ntlmv2Response,
  ntowfv2,
  sealKey,
  signKey,
} from "../../lib/winrm/ntlm/crypto.ts";
import {
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  decodeNegotiate,
  encodeAuthenticate,
  encodeChallenge,
} from "../../lib/winrm/ntlm/messages.ts";
import { bytesToHex, hexToBytes } from "../../lib/winrm/ntlm/wire.ts";
import { NtlmSession } from "../../lib/winrm/ntlm/session.ts";
import { sessionFromAuthenticate } from "../../lib/winrm/ntlm/server.ts";
import { NtlmClient, splitUsername } from "../../lib/winrm/ntlm/client.ts";
import { NtlmIntegrityError, NtlmProtocolError } from "../../lib/winrm/ntlm/errors.ts";
import { decryptMessage } from "../../lib/winrm/encryption.ts";
import { Rc4 } from "../../lib/winrm/ntlm/rc4.ts";
import { hmacMd5 } from "../../lib/winrm/ntlm/crypto.ts";
import { SealChannel } from "../../lib/winrm/ntlm/seal_channel.ts";
import { SOURCE_SHA256 } from "../../lib/winrm/ntlm/wasm/seal_wasm.ts";
import { sourceSha256, WASM_MODULES } from "../../scripts/build_wasm.ts";

// MS-NLMP §4.2.1 common values and §4.2.4.3 messages.
const SERVER_CHALLENGE = hexToBytes("0123456789abcdef");
const CLIENT_CHALLENGE = hexToBytes("aaaaaaaaaaaaaaaa");
const RANDOM_SESSION_KEY = hexToBytes("55".repeat(16));
const SPEC_CHALLENGE = hexToBytes(
  "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef" +
    "00000000000000002400240044000000060070170000000f5300650072007600" +
    "6500720002000c0044006f006d00610069006e0001000c005300650072007600" +
    "6500720000000000",
);
const SPEC_AUTHENTICATE = "4e544c4d5353500003000000180018006c00000054005400840000000c000c00" +
  "480000000800080054000000100010005c00000010001000d8000000358288e2" +
  "0501280a0000000f44006f006d00610069006e00550073006500720043004f00" +
  "4d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaa" +
  "aaaaaaaa68cd0ab851e51c96aabc927bebef6a1c010100000000000000000000" +
  "00000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e00" +
  "01000c005300650072007600650072000000000000000000c5dad2544fc97990" +
  "94ce1ce90bc9d03e";

Deno.test("ntlm: MS-NLMP 4.2.4 NTOWFv2, LMv2, NTProofStr, SessionBaseKey, key exchange", () => {
  const key = ntowfv2("Password", "User", "Domain");
  assertEquals(bytesToHex(key), "0c868a403bfd7a93a3001ef22ef02e3f");
  const chal = decodeChallenge(SPEC_CHALLENGE);
  assertEquals(chal.flags, 0xe28a8233);
  assertEquals(chal.targetName, "Server");
  assertEquals(bytesToHex(chal.serverChallenge), "0123456789abcdef");
  assertEquals(decodeAvPairs(chal.targetInfo).map((p) => p.id), [2, 1]);
  const blob = ntlmv2Blob(new Uint8Array(8), CLIENT_CHALLENGE, chal.targetInfo);
  const nt = ntlmv2Response(key, SERVER_CHALLENGE, blob);
  assertEquals(bytesToHex(nt.ntProofStr), "68cd0ab851e51c96aabc927bebef6a1c");
  assertEquals(bytesToHex(nt.sessionBaseKey), "8de40ccadbc14a82f15cb0ad0de95ca3");
  assertEquals(
    bytesToHex(lmv2Response(key, SERVER_CHALLENGE, CLIENT_CHALLENGE)),
    "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa",
  );
  assertEquals(
    bytesToHex(encryptSessionKey(nt.sessionBaseKey, RANDOM_SESSION_KEY)),
    "c5dad2544fc9799094ce1ce90bc9d03e",
  );
});

Deno.test("ntlm: MS-NLMP 4.2.4.3 messages: client output and byte-exact re-encoding", () => {
  assertEquals(
    bytesToHex(encodeChallenge(decodeChallenge(SPEC_CHALLENGE))),
    bytesToHex(SPEC_CHALLENGE),
  );
  // Fed the spec's challenge and randomness, the client produces the spec's responses.
  const client = new NtlmClient(
    { username: "User", domain: "Domain", password: "Password", workstation: "COMPUTER" },
    {
      clientChallenge: CLIENT_CHALLENGE,
      exportedSessionKey: RANDOM_SESSION_KEY,
      timestamp: new Uint8Array(8),
    },
  );
  client.negotiate();
  const ours = decodeAuthenticate(client.authenticate(SPEC_CHALLENGE));
  assertEquals(ours.mic, undefined, "no MsvAvTimestamp in the challenge, so no MIC");
  // Only flags (the spec client narrows them) and version differ from the spec message.
  const reencoded = encodeAuthenticate({
    ...ours,
    flags: 0xe2888235,
    version: hexToBytes("0501280a0000000f"),
  });
  assertEquals(bytesToHex(reencoded), SPEC_AUTHENTICATE);
  const spec = decodeAuthenticate(hexToBytes(SPEC_AUTHENTICATE));
  assertEquals([spec.user, spec.domain, spec.workstation], ["User", "Domain", "COMPUTER"]);
  assertEquals(spec.flags, 0xe2888235);
});

Deno.test("ntlm: MS-NLMP 4.2.4.4 GSS_WrapEx sealing example", () => {
  assertEquals(
    bytesToHex(sealKey(RANDOM_SESSION_KEY, 0xe2888235, "client-to-server")),
    "59f600973cc4960a25480a7c196e4c58",
  );
  assertEquals(
    bytesToHex(signKey(RANDOM_SESSION_KEY, "client-to-server")),
    "4788dc861b4782f35d43fd98fe1a2d39",
  );
  const client = new NtlmSession({
    exportedSessionKey: RANDOM_SESSION_KEY,
    flags: 0xe2888235,
    isServer: false,
  });
  const plain = new Uint8Array([..."Plaintext"].flatMap((c) => [c.charCodeAt(0), 0]));
  const { sealed, signature } = client.seal(plain);
  assertEquals(bytesToHex(sealed), "54e50165bf1936dc996020c1811b0f06fb5f");
  assertEquals(bytesToHex(signature), "010000007fb38ec5c55d497600000000");
  const server = new NtlmSession({
    exportedSessionKey: RANDOM_SESSION_KEY,
    flags: 0xe2888235,
    isServer: true,
  });
  assertEquals(server.unseal(sealed, signature), plain);
});

Deno.test("ntlm: RC4 known answer and streaming across calls", () => {
  const enc = new TextEncoder();
  assertEquals(
    bytesToHex(new Rc4(enc.encode("Key")).update(enc.encode("Plaintext"))),
    "bbf316e8d940af0ad3",
  );
  const data = crypto.getRandomValues(new Uint8Array(1000));
  const whole = new Rc4(enc.encode("k")).update(data);
  const split = new Rc4(enc.encode("k"));
  const joined = new Uint8Array([
    ...split.update(data.subarray(0, 333)),
    ...split.update(data.subarray(333)),
  ]);
  assertEquals(joined, whole);
});

Deno.test("ntlm: WebAssembly sealing agrees with node:crypto HMAC-MD5 and RC4 at every block boundary", () => {
  // Reference: Checksum = HMAC_MD5(SigningKey, SeqNum ‖ Message)[0..8] by node:crypto, sealed
  // with the RC4 stream after the message (MS-NLMP §3.4.4.2). Lengths cover every MD5 padding
  // case (0..200) and messages larger than the module's initial memory (it must grow).
  const lengths = [...Array(201).keys(), 4095, 65536, 200_000, 1_000_000];
  const copy = (plain: Uint8Array) => plain.slice();
  const data = new Uint8Array(1_000_000);
  for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
  for (const keyExch of [true, false]) {
    const signKey = crypto.getRandomValues(new Uint8Array(16));
    const sealKey = crypto.getRandomValues(new Uint8Array(16));
    const sender = new SealChannel(signKey, sealKey, keyExch);
    const receiver = new SealChannel(signKey, sealKey, keyExch);
    const reference = new Rc4(sealKey);
    let seq = 0;
    for (const n of lengths) {
      const msg = data.subarray(0, n);
      const out = new Uint8Array(n + 2);
      const sig = new Uint8Array(20);
      sender.seal(msg, out, 1, sig, 2);
      const seqBytes = new Uint8Array(new Uint32Array([seq]).buffer);
      const mac = hmacMd5(signKey, seqBytes, msg).subarray(0, 8);
      const wantSealed = reference.update(msg);
      const checksum = keyExch ? reference.update(mac) : mac;
      const where = `keyExch ${keyExch} len ${n}`;
      assertEquals(out.subarray(1, n + 1), wantSealed, where);
      assertEquals(
        sig.subarray(2, 18),
        new Uint8Array([1, 0, 0, 0, ...checksum, ...seqBytes]),
        where,
      );
      assertEquals(receiver.unseal(out.subarray(1, n + 1), sig.subarray(2, 18), copy), msg, where);
      seq++;
    }
    // a tampered message fails its check (and both streams have still moved on in step)
    const out = new Uint8Array(100);
    const sig = new Uint8Array(16);
    sender.seal(data.subarray(0, 100), out, 0, sig, 0);
    out[50] ^= 1;
    assertThrows(() => receiver.unseal(out, sig, copy), NtlmIntegrityError, "does not verify");
    sender.seal(data.subarray(0, 10), out, 0, sig, 0);
    assertEquals(receiver.unseal(out.subarray(0, 10), sig, copy), data.subarray(0, 10));
  }
});

Deno.test("ntlm: the embedded WebAssembly was built from the current seal.c", async () => {
  assertEquals(
    SOURCE_SHA256,
    await sourceSha256(WASM_MODULES.ntlm),
    "run `deno task build:wasm` after changing seal.c",
  );
});

// ---- The captured pywinrm session: user vagrant, password Passw0rd!, empty domain.

const WIRE = new URL("../fixtures/ntlm/wire/", import.meta.url);

function capturedType3(): Uint8Array {
  const http = Deno.readTextFileSync(
    new URL("003_req_conn56512_Negotiate_type3_emptybody.http", WIRE),
  );
  const b64 = http.match(/^Authorization: Negotiate (\S+)/m)![1];
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Requests in capture order: [encrypted HTTP body, recorded plaintext]. */
function capturedRequests(): Array<{ name: string; body: Uint8Array; plain: Uint8Array }> {
  const names = [...Deno.readDirSync(WIRE)].map((e) => e.name).sort();
  return names.filter((n) => n.endsWith("_encrypted.http")).map((name) => {
    const raw = Deno.readFileSync(new URL(name, WIRE));
    const text = new TextDecoder("latin1").decode(raw);
    const bodyStart = text.indexOf("\r\n\r\n") + 4;
    const length = Number(text.match(/\r\nContent-Length: (\d+)\r\n/)![1]);
    const n = parseInt(name, 10) + 1;
    const plainName = names.find((x) => parseInt(x, 10) === n && x.includes("_req_decrypted_"))!;
    return {
      name,
      body: raw.subarray(bodyStart, bodyStart + length),
      plain: Deno.readFileSync(new URL(plainName, WIRE)),
    };
  });
}

Deno.test("ntlm: captured type 1 and type 3 decode", () => {
  const http = Deno.readTextFileSync(
    new URL("002_req_conn56512_Negotiate_type1_emptybody.http", WIRE),
  );
  const neg = decodeNegotiate(
    Uint8Array.from(atob(http.match(/Negotiate (\S+)/)![1]), (c) => c.charCodeAt(0)),
  );
  assertEquals(neg.flags >>> 0, 0xe2889032);
  const auth = decodeAuthenticate(capturedType3());
  assertEquals([auth.user, auth.domain, auth.workstation], ["vagrant", "", ""]);
  assertEquals(auth.flags >>> 0, 0xe28a8233);
  assertEquals(auth.encryptedRandomSessionKey.length, 16);
  assert(auth.mic !== undefined, "pywinrm sends a MIC when the challenge has a timestamp");
  const pairs = decodeAvPairs(auth.ntChallengeResponse.subarray(44));
  assert(pairs.some((p) => p.id === 6), "MsvAvFlags present");
});

Deno.test("ntlm: TEST VECTOR: decrypt the captured requests in sequence with derived keys", () => {
  const session = sessionFromAuthenticate(capturedType3(), "Passw0rd!");
  const reqs = capturedRequests();
  assertEquals(reqs[0].name.slice(0, 3), "004");
  assert(reqs.length >= 10, "the whole captured conversation is used");
  // Decrypting every request in order proves the RC4 stream continues across messages.
  for (const r of reqs) {
    assertEquals(bytesToHex(decryptMessage(session, r.body)), bytesToHex(r.plain), r.name);
  }
});

Deno.test("ntlm: captured traffic fails to verify with the wrong password or out of order", () => {
  const reqs = capturedRequests();
  const wrong = sessionFromAuthenticate(capturedType3(), "Passw0rd?");
  assertThrows(() => decryptMessage(wrong, reqs[0].body), NtlmIntegrityError);
  const skipped = sessionFromAuthenticate(capturedType3(), "Passw0rd!");
  assertThrows(() => decryptMessage(skipped, reqs[1].body), NtlmIntegrityError);
});

// ---- Robustness and helpers.

Deno.test("ntlm: garbage and truncated messages raise NtlmProtocolError, never RangeError", () => {
  const auth = capturedType3();
  const samples: Uint8Array[] = [
    new Uint8Array(0),
    new TextEncoder().encode("NTLMSSP"),
    new Uint8Array(64),
  ];
  for (let n = 0; n < auth.length; n += 7) samples.push(auth.subarray(0, n));
  for (let n = 0; n < SPEC_CHALLENGE.length; n += 5) samples.push(SPEC_CHALLENGE.subarray(0, n));
  // Field offsets pointing past the end.
  const bad = auth.slice();
  new DataView(bad.buffer).setUint32(24, 0xfffffff0, true);
  samples.push(bad);
  // Every header byte corrupted, one at a time.
  for (const src of [auth, SPEC_CHALLENGE]) {
    for (let i = 8; i < 88 && i < src.length; i++) {
      for (const v of [0x00, 0x7f, 0xff]) {
        const m = src.slice();
        m[i] = v;
        samples.push(m);
      }
    }
  }
  for (const s of samples) {
    for (const decode of [decodeNegotiate, decodeChallenge, decodeAuthenticate]) {
      try {
        decode(s);
      } catch (err) {
        assert(
          err instanceof NtlmProtocolError,
          `${decode.name}(${s.length} bytes) threw ${(err as Error).name}`,
        );
      }
    }
  }
  assertThrows(() => decodeAuthenticate(bad), NtlmProtocolError);
  assertThrows(() => decodeChallenge(SPEC_CHALLENGE.subarray(0, 40)), NtlmProtocolError);
  assertThrows(() => decodeAvPairs(hexToBytes("0100ff00")), NtlmProtocolError);
  assertThrows(() => sessionFromAuthenticate(hexToBytes("00"), "x"), NtlmProtocolError);
  const client = new NtlmClient({ username: "u", password: "p" });
  client.negotiate();
  assertThrows(() => client.authenticate(auth), NtlmProtocolError, "type 2");
});

Deno.test("ntlm: splitUsername", () => {
  assertEquals(splitUsername("CORP\\alice"), { user: "alice", domain: "CORP" });
  assertEquals(splitUsername("alice@corp.example"), { user: "alice", domain: "corp.example" });
  assertEquals(splitUsername("alice"), { user: "alice", domain: "" });
  assertEquals(splitUsername("alice", "CORP"), { user: "alice", domain: "CORP" });
  assertEquals(splitUsername("alice", null), { user: "alice", domain: "" });
  assertEquals(splitUsername("CORP\\alice", "OTHER"), { user: "alice", domain: "CORP" });
  assertEquals(splitUsername(".\\Administrator"), { user: "Administrator", domain: "." });
  assertEquals(splitUsername("@alice"), { user: "@alice", domain: "" });
});

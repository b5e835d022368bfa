/**
 * Kerberos AES-CTS and HMAC-SHA1 (lib/kerberos/aes_sha1.ts), run twice: by the WebAssembly build
 * of lib/kerberos/wasm/aes_sha1.c and by the system's libcrypto through FFI. Known answers for
 * the primitives (FIPS 197 AES, RFC 2202 HMAC-SHA1), and a randomized cross-check of every
 * Kerberos AES operation against node:crypto (Deno's own Rust AES-CBC and HMAC-SHA1, an
 * independent implementation) over many lengths: DK, RFC 3962 CTS, RFC 3961 encrypt/decrypt and
 * checksum, and RFC 4121 Wrap tokens sealed and opened. The RFC 3962 CTS vectors, impacket's
 * encryptions and MIT's tokens are in crypto_test.ts and gss_vectors_test.ts (through the core a
 * server picks: libcrypto here). Which core a process picks is checked in child processes.
 */
import { createCipheriv, createHmac } from "node:crypto";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  aesSha1Core,
  cbcEncrypt,
  ctsDecrypt as rawCtsDecrypt,
  ctsEncrypt as rawCtsEncrypt,
  expandKeys,
  hmacSha1,
  KC,
  KI,
  useAesSha1Core,
} from "../../lib/kerberos/aes_sha1.ts";
import {
  checksum,
  ctsDecrypt,
  ctsEncrypt,
  decrypt,
  encrypt,
  equal,
  ETYPE,
  type Key,
  nfold,
  randomKey,
  USAGE,
  usageKeys,
} from "../../lib/kerberos/crypto.ts";
import { KerberosIntegrityError } from "../../lib/kerberos/errors.ts";
import { keyedContext } from "../../lib/kerberos/gss.ts";
import { SOURCE_SHA256 } from "../../lib/kerberos/wasm/aes_sha1_wasm.ts";
import { sourceSha256, WASM_MODULES } from "../../scripts/build_wasm.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((x) => parseInt(x, 16)));
const random = (n: number) => {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, o + 65536));
  return b;
};
const te = new TextEncoder();

/** The lengths every operation is checked at: block edges, SHA-1 padding edges, a few KB. */
const LENGTHS = [
  0,
  1,
  2,
  15,
  16,
  17,
  31,
  32,
  33,
  47,
  48,
  49,
  55,
  56,
  63,
  64,
  65,
  100,
  119,
  120,
  127,
  128,
  129,
  1000,
  1303,
  2148,
  4095,
  4096,
  4097,
  8191,
  ...Array.from({ length: 24 }, () => Math.floor(Math.random() * 6000)),
];

// ---- An independent reference: node:crypto (OpenSSL) AES-CBC and HMAC-SHA1.

function refCbc(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, new Uint8Array(16));
  c.setAutoPadding(false);
  const out = new Uint8Array(data.length);
  out.set(c.update(data));
  c.final();
  return out;
}

/** RFC 3962 CBC-CS3: CBC over the zero-padded input, last two blocks swapped, truncated. */
function refCts(key: Uint8Array, plain: Uint8Array): Uint8Array {
  const n = plain.length;
  const k = Math.ceil(n / 16);
  const padded = new Uint8Array(k * 16);
  padded.set(plain);
  const c = refCbc(key, padded);
  if (k === 1) return c;
  const out = new Uint8Array(n);
  out.set(c.subarray(0, (k - 2) * 16));
  out.set(c.subarray((k - 1) * 16), (k - 2) * 16);
  out.set(c.subarray((k - 2) * 16, (k - 2) * 16 + n - (k - 1) * 16), (k - 1) * 16);
  return out;
}

const refHmac = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac("sha1", key).update(data).digest());

/** RFC 3961 DK(base, usage ‖ x): E(c), E(E(c)), … with c the 128-fold of the constant. */
function refDk(base: Uint8Array, usage: number, x: number): Uint8Array {
  const c = nfold(new Uint8Array([usage >>> 24, usage >>> 16, usage >>> 8, usage, x]), 16);
  const blocks = new Uint8Array(base.length); // 16 or 32 bytes: one or two chained blocks
  blocks.set(c);
  return refCbc(base, blocks);
}

function refEncrypt(key: Key, usage: number, conf: Uint8Array, plain: Uint8Array) {
  const data = new Uint8Array(16 + plain.length);
  data.set(conf);
  data.set(plain, 16);
  const ke = refDk(key.value, usage, 0xaa), ki = refDk(key.value, usage, 0x55);
  const out = new Uint8Array(data.length + 12);
  out.set(refCts(ke, data));
  out.set(refHmac(ki, data).subarray(0, 12), data.length);
  return out;
}

// ---- Known answers for the module's primitives.

Deno.test("kerberos wasm: the embedded WebAssembly was built from the current aes_sha1.c", async () => {
  assertEquals(
    SOURCE_SHA256,
    await sourceSha256(WASM_MODULES.kerberos),
    "run `deno task build:wasm` after changing aes_sha1.c",
  );
});

for (const core of ["wasm", "libcrypto"] as const) {
  /** A test run with `core` computing every AES and SHA-1 call (libcrypto is there on Linux). */
  const test = (name: string, fn: () => void) =>
    Deno.test(`kerberos ${core}: ${name}`, () => {
      assert(useAesSha1Core(core), `the ${core} core cannot be used here`);
      assertEquals(aesSha1Core(), core);
      fn();
    });

  test("FIPS 197 appendix C AES-128 and AES-256 block encryptions", () => {
    const plain = unhex("00112233445566778899aabbccddeeff");
    const k128 = unhex("000102030405060708090a0b0c0d0e0f");
    const k256 = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assertEquals(hex(cbcEncrypt(k128, plain)), "69c4e0d86a7b0430d8cdb78070b4c55a");
    assertEquals(hex(cbcEncrypt(k256, plain)), "8ea2b7ca516745bfeafc49904b496089");
    // A one-block CTS "ciphertext" is the block's encryption; decrypting it inverts the cipher.
    assertEquals(hex(rawCtsDecrypt(k128, unhex("69c4e0d86a7b0430d8cdb78070b4c55a"))), hex(plain));
    assertEquals(hex(rawCtsDecrypt(k256, unhex("8ea2b7ca516745bfeafc49904b496089"))), hex(plain));
    assertThrows(() => cbcEncrypt(new Uint8Array(24), plain), RangeError);
  });

  test("RFC 2202 HMAC-SHA1 (Ki and Kc slots)", () => {
    const cases: [Uint8Array, Uint8Array, string][] = [
      [unhex("0b".repeat(20)), te.encode("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"],
      [
        te.encode("Jefe"),
        te.encode("what do ya want for nothing?"),
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
      ],
      [unhex("aa".repeat(20)), unhex("dd".repeat(50)), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"],
      [
        unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
        unhex("cd".repeat(50)),
        "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
      ],
      [
        unhex("0c".repeat(20)),
        te.encode("Test With Truncation"),
        "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
      ],
    ];
    const other = random(16);
    for (const [key, data, want] of cases) {
      assertEquals(hex(hmacSha1(expandKeys(other, key, other), KI, [data])), want);
      assertEquals(hex(hmacSha1(expandKeys(other, other, key), KC, [data])), want);
      // split in parts, and truncated to HMAC-SHA1-96
      const parts = [data.subarray(0, 3), data.subarray(3)];
      assertEquals(hex(hmacSha1(expandKeys(other, key, other), KI, parts, 12)), want.slice(0, 24));
    }
  });

  // ---- Randomized cross-check against node:crypto.

  test("AES-CBC and CTS agree with node:crypto at every length", () => {
    for (const keyLen of [16, 32]) {
      for (const n of LENGTHS) {
        const key = random(keyLen);
        const blocks = random(Math.ceil(n / 16) * 16);
        assertEquals(hex(cbcEncrypt(key, blocks)), hex(refCbc(key, blocks)), `CBC ${keyLen} ${n}`);
        if (n < 16) continue; // CTS needs a block
        const plain = random(n);
        const want = hex(refCts(key, plain));
        const c = rawCtsEncrypt(key, plain);
        assertEquals(hex(c), want, `CTS encrypt aes${keyLen * 8} n=${n}`);
        assertEquals(hex(ctsEncrypt(key, plain)), want);
        assertEquals(hex(rawCtsDecrypt(key, c)), hex(plain), `CTS decrypt aes${keyLen * 8} n=${n}`);
        assertEquals(hex(ctsDecrypt(key, c)), hex(plain));
      }
    }
  });

  test("HMAC-SHA1 agrees with node:crypto at every length and key length", () => {
    for (const n of LENGTHS) {
      for (const keyLen of [0, 1, 16, 20, 32, 63, 64]) {
        const key = random(keyLen), data = random(n);
        const want = hex(refHmac(key, data));
        const keys = expandKeys(random(32), key, key);
        assertEquals(hex(hmacSha1(keys, KI, [data])), want, `HMAC key ${keyLen} n=${n}`);
        assertEquals(
          hex(hmacSha1(keys, KC, [data.subarray(0, n >> 1), data.subarray(n >> 1)])),
          want,
        );
      }
    }
  });

  test("DK, encrypt, decrypt and checksum agree with node:crypto", () => {
    for (const etype of [ETYPE.AES128, ETYPE.AES256]) {
      for (const n of LENGTHS) {
        const key = randomKey(etype);
        const usage = [USAGE.INITIATOR_SEAL, USAGE.ACCEPTOR_SEAL, USAGE.AP_REQ_AUTH, 1][n % 4];
        const k = usageKeys(key, usage);
        assertEquals(hex(k.ke), hex(refDk(key.value, usage, 0xaa)), "Ke");
        assertEquals(hex(k.ki), hex(refDk(key.value, usage, 0x55)), "Ki");
        assertEquals(hex(k.kc), hex(refDk(key.value, usage, 0x99)), "Kc");

        const conf = random(16), plain = random(n);
        const want = hex(refEncrypt(key, usage, conf, plain));
        const c = encrypt(key, usage, plain, conf);
        assertEquals(hex(c), want, `encrypt etype ${etype} n=${n}`);
        assertEquals(hex(decrypt(key, usage, c)), hex(plain), `decrypt etype ${etype} n=${n}`);
        // a fresh random confounder each time: the same plaintext seals differently, and opens
        const r1 = encrypt(key, usage, plain), r2 = encrypt(key, usage, plain);
        assert(hex(r1) !== hex(r2), "confounders repeat");
        assertEquals(hex(decrypt(key, usage, r1)), hex(plain));
        // any flipped bit fails the HMAC: in the confounder, the last byte, the MAC
        for (const at of [0, c.length - 13, c.length - 1]) {
          const bad = c.slice();
          bad[at] ^= 0x10;
          assertThrows(() => decrypt(key, usage, bad), KerberosIntegrityError);
        }

        const cks = checksum(key, usage, plain.subarray(0, n >> 1), plain.subarray(n >> 1));
        assertEquals(hex(cks), hex(refHmac(k.kc, plain).subarray(0, 12)), `checksum n=${n}`);
        assertEquals(cks.length, 12);
      }
    }
  });

  test("Wrap tokens agree with a node:crypto reference and open", () => {
    for (const etype of [ETYPE.AES128, ETYPE.AES256]) {
      const key = randomKey(etype);
      // two contexts per side: the module switches between four usages' keys
      const initiator = keyedContext("initiator", key, { acceptorSubkey: true, sendSeq: 0x1234 });
      const acceptor = keyedContext("acceptor", key, { acceptorSubkey: true, sendSeq: 77 });
      const other = keyedContext("initiator", randomKey(etype), { acceptorSubkey: true });
      let seq = 0x1234;
      for (const n of LENGTHS) {
        const plain = random(n), conf = random(16);
        const { header, data } = initiator.wrap(plain, conf);
        // the reference: encrypt(conf ‖ plain ‖ header with RRC 0), rotated right by 28
        // TOK_ID 05 04, flags Sealed | AcceptorSubkey, filler, EC 0, RRC 0, SND_SEQ
        const hdr = unhex(`050406ff00000000${(seq++).toString(16).padStart(16, "0")}`);
        const parts = new Uint8Array(n + 16);
        parts.set(plain);
        parts.set(hdr, n);
        const c = refEncrypt(key, USAGE.INITIATOR_SEAL, conf, parts);
        const rotated = new Uint8Array(c.length);
        rotated.set(c.subarray(c.length - 28));
        rotated.set(c.subarray(0, c.length - 28), 28);
        hdr[7] = 28;
        assertEquals(hex(header), hex(hdr) + hex(rotated.subarray(0, 44)), `header n=${n}`);
        assertEquals(hex(data), hex(rotated.subarray(44)), `data n=${n}`);

        other.wrap(plain); // another key in the module between sealing and opening
        assertEquals(hex(acceptor.unwrapParts(header, data)), hex(plain), `unwrap n=${n}`);

        // and back, written in place and opened as a view
        const sig = new Uint8Array(70), out = new Uint8Array(n + 5);
        acceptor.wrapInto(plain, out, 5, sig, 10);
        const opened = initiator.unwrapPartsWith(
          sig.subarray(10),
          out.subarray(5),
          (view) => hex(view),
        );
        assertEquals(opened, hex(plain), `acceptor → initiator n=${n}`);

        // a flipped bit in the sealed data is caught (and the context refuses that token)
        if (n > 0) {
          const { header: h2, data: d2 } = initiator.wrap(plain);
          d2[n - 1] ^= 1;
          assertThrows(() => acceptor.unwrapParts(h2, d2), KerberosIntegrityError);
          seq++;
        }
      }
    }
  });

  test("memory grows for a large message and small ones still work", () => {
    const key = randomKey(ETYPE.AES256);
    const initiator = keyedContext("initiator", key, { acceptorSubkey: false });
    const acceptor = keyedContext("acceptor", key, { acceptorSubkey: false });
    for (const n of [10, 300_000, 1_000_000, 10]) {
      const plain = random(n);
      const { header, data } = initiator.wrap(plain);
      assert(equal(acceptor.unwrapParts(header, data), plain), `n=${n}`);
      const conf = random(16);
      assertEquals(
        hex(encrypt(key, USAGE.AP_REQ_AUTH, plain, conf)),
        hex(refEncrypt(key, USAGE.AP_REQ_AUTH, conf, plain)),
        `encrypt n=${n}`,
      );
    }
  });
}

Deno.test("kerberos AES core: libcrypto where FFI is allowed, else WebAssembly", async () => {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/core.ts`;
  const module = new URL("../../lib/kerberos/aes_sha1.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { aesSha1Core } from "${module}"; console.log(aesSha1Core());`,
  );
  const run = async (permissions: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  };
  assertEquals(await run(["--allow-all"]), "libcrypto");
  assertEquals(await run(["--allow-all"], { NMSLITE_NATIVE_CRYPTO: "0" }), "wasm");
  assertEquals(await run(["--allow-read", "--allow-env"]), "wasm"); // no ffi permission
  await Deno.remove(dir, { recursive: true });
});

Deno.test("kerberos AES core: keys expanded by one core are refused by the other", () => {
  assert(useAesSha1Core("libcrypto"));
  const keys = expandKeys(random(32), random(20), random(20));
  assertEquals(hmacSha1(keys, KI, [random(10)]).length, 20);
  assert(useAesSha1Core("wasm"));
  assertThrows(() => hmacSha1(keys, KI, [random(10)]), Error, "another AES core");
});

/**
 * The NTLM handshake's MD5 and HMAC-MD5 (lib/winrm/ntlm/md5.ts): RFC 1321's and RFC 2202's
 * known answers, then node:crypto's answers on every length across the block and padding
 * boundaries, split into parts at every place, and with keys longer than a block.
 */
import { createHash, createHmac } from "node:crypto";
import { assertEquals } from "../helpers/assert.ts";
import { hmacMd5, md5 } from "../../lib/winrm/ntlm/md5.ts";
import { bytesToHex, hexToBytes } from "../../lib/winrm/ntlm/wire.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("md5: RFC 1321 appendix A.5 test suite", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
  ];
  for (const [input, digest] of suite) assertEquals(bytesToHex(md5(text(input))), digest, input);
});

Deno.test("hmacMd5: RFC 2202 §2 test cases", () => {
  const cases: [Uint8Array, Uint8Array, string][] = [
    [hexToBytes("0b".repeat(16)), text("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"],
    [text("Jefe"), text("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"],
    [hexToBytes("aa".repeat(16)), hexToBytes("dd".repeat(50)), "56be34521d144c88dbb8c733f0e8b3f6"],
    [
      hexToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
      hexToBytes("cd".repeat(50)),
      "697eaf0aca3a3aea3a75164746ffaa79",
    ],
    [
      hexToBytes("aa".repeat(80)),
      text("Test Using Larger Than Block-Size Key - Hash Key First"),
      "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
    ],
    [
      hexToBytes("aa".repeat(80)),
      text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
      "6f630fad67cda0ee1fb1f562db3aa53e",
    ],
  ];
  for (const [key, data, mac] of cases) assertEquals(bytesToHex(hmacMd5(key, data)), mac);
});

Deno.test("md5 and hmacMd5 agree with node:crypto on every length and split", () => {
  const data = crypto.getRandomValues(new Uint8Array(300));
  for (let n = 0; n <= 300; n++) {
    const d = data.subarray(0, n);
    const want = createHash("md5").update(d).digest("hex");
    assertEquals(bytesToHex(md5(d)), want, `length ${n}`);
    const cut = (n * 7) % (n + 1);
    assertEquals(bytesToHex(md5(d.subarray(0, cut), d.subarray(cut))), want, `${n} at ${cut}`);
    const key = data.subarray(n % 150, n % 150 + (n % 100));
    assertEquals(
      bytesToHex(hmacMd5(key, d.subarray(0, cut), new Uint8Array(0), d.subarray(cut))),
      createHmac("md5", key).update(d).digest("hex"),
      `hmac key ${key.length}, length ${n}`,
    );
  }
  // one byte at a time: every partial-block path
  const bytes = Array.from(data.subarray(0, 130), (_, i) => data.subarray(i, i + 1));
  assertEquals(
    bytesToHex(md5(...bytes)),
    createHash("md5").update(data.subarray(0, 130)).digest("hex"),
  );
});

Deno.test("md5: the digest is a fresh array each call, not a view of shared state", () => {
  const a = md5(text("a"));
  const b = md5(text("b"));
  assertEquals(bytesToHex(a), "0cc175b9c0f1b6a831c399e269772661");
  assertEquals(bytesToHex(b), "92eb5ffee6ae2fec3ad71c777531578f");
});

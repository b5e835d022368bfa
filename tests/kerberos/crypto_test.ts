/**
 * Known answers: RFC 3961 appendix A.1 (n-fold), RFC 3962 appendix B (string-to-key and
 * AES-CTS), and encryptions/checksums from impacket's independent implementation
 * (impacket.krb5.crypto, fixed confounder 10..1f, usage 24/25).
 */
import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { md4, rc4StringToKey } from "../../lib/kerberos/rc4_hmac.ts";
import {
  checksum,
  checksumType,
  ctsDecrypt,
  ctsEncrypt,
  decrypt,
  encrypt,
  ETYPE,
  nfold,
  stringToKey,
  usageKeys,
} from "../../lib/kerberos/crypto.ts";
import { KerberosError, KerberosIntegrityError } from "../../lib/kerberos/errors.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) =>
  new Uint8Array((s.replace(/\s/g, "").match(/../g) ?? []).map((x) => parseInt(x, 16)));
const te = new TextEncoder();

Deno.test("n-fold: RFC 3961 A.1", () => {
  const cases: [string, number, string][] = [
    ["012345", 64, "be072631276b1955"],
    ["password", 56, "78a07b6caf85fa"],
    ["Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"],
    ["password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"],
    [
      "MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
      192,
      "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
    ],
    ["Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"],
    ["ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"],
    ["kerberos", 64, "6b65726265726f73"],
    ["kerberos", 128, "6b65726265726f737b9b5b2b93132b93"],
  ];
  for (const [input, bits, want] of cases) {
    assertEquals(hex(nfold(te.encode(input), bits / 8)), want, `${bits}-fold(${input})`);
  }
});

Deno.test("string-to-key: RFC 3962 appendix B", () => {
  const cases: [string, string | Uint8Array, number, string, string][] = [
    [
      "password",
      "ATHENA.MIT.EDUraeburn",
      1,
      "42263c6e89f4fc28b8df68ee09799f15",
      "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161",
    ],
    [
      "password",
      "ATHENA.MIT.EDUraeburn",
      2,
      "c651bf29e2300ac27fa469d693bdda13",
      "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff",
    ],
    [
      "password",
      "ATHENA.MIT.EDUraeburn",
      1200,
      "4c01cd46d632d01e6dbe230a01ed642a",
      "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a",
    ],
    [
      "password",
      unhex("1234567878563412"),
      5,
      "e9b23d52273747dd5c35cb55be619d8e",
      "97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31",
    ],
    [
      "X".repeat(64),
      "pass phrase equals block size",
      1200,
      "59d1bb789a828b1aa54ef9c2883f69ed",
      "89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34",
    ],
    [
      "X".repeat(65),
      "pass phrase exceeds block size",
      1200,
      "cb8005dc5f90179a7f02104c0018751d",
      "d78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b",
    ],
    [
      "\u{1D11E}",
      "EXAMPLE.COMpianist",
      50,
      "f149c1f2e154a73452d43e7fe62a56e5",
      "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e",
    ],
  ];
  for (const [pw, salt, iter, k128, k256] of cases) {
    assertEquals(hex(stringToKey(ETYPE.AES128, pw, salt, iter).value), k128, `aes128 ${iter}`);
    assertEquals(hex(stringToKey(ETYPE.AES256, pw, salt, iter).value), k256, `aes256 ${iter}`);
  }
});

Deno.test("AES-CTS: RFC 3962 appendix B", () => {
  const key = te.encode("chicken teriyaki");
  const text = te.encode("I would like the General Gau's Chicken, please, and wonton soup.");
  const cases: [number, string][] = [
    [17, "c6353568f2bf8cb4d8a580362da7ff7f97"],
    [31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"],
    [32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"],
    [
      47,
      "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
    ],
    [
      48,
      "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
    ],
    [
      64,
      "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
    ],
  ];
  for (const [n, want] of cases) {
    assertEquals(hex(ctsEncrypt(key, text.subarray(0, n))), want, `encrypt ${n}`);
    assertEquals(hex(ctsDecrypt(key, unhex(want))), hex(text.subarray(0, n)), `decrypt ${n}`);
  }
});

Deno.test("encrypt/checksum agree with impacket (usage 24/25, fixed confounder)", () => {
  const conf = unhex("101112131415161718191a1b1c1d1e1f");
  const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  const cases: [number, string, Record<number, string>, string][] = [
    [ETYPE.AES256, "26071f2dbfbecdded379cf9d227ed0f8dde26f8beaa0b9a650c5af6f274b1b1e", {
      0: "9721637dceab6fe2e7341b8d3dea43de675717f32f321f57a4ab627d",
      17:
        "9721637dceab6fe2e7341b8d3dea43dec156074d7e8443b9bff89d6e0eae0b3d991851caddf69f7e4223db34eb",
      100:
        "9721637dceab6fe2e7341b8d3dea43de99811eb17a61508199eded986976821620cd8df307fb3f79b2c40e3dd8452cc1d9d4e676a0c8e75c33795d9a50dfc822894c8bfda7c90bc9daa2f60530c99e96d746a742be9bf1634413b05ff074c7e1f6e6f97aea60accb984aba008c39aadb50cf9c2bd23e44fcff8dace21d02e908",
    }, "8170eecf33569806e28e0312"],
    [ETYPE.AES128, "6c3f56be2e4b4653921d4307fa37c36d", {
      0: "89cdb775691eef75ac8acc285833bde9911c38220433b93e3fae4140",
      17:
        "89cdb775691eef75ac8acc285833bde91bf9409c2ff59f6b8829a655efe7e49442b3b0ea066b019ccb2a00f80f",
      100:
        "89cdb775691eef75ac8acc285833bde942a5a372c3de0fbc1c3426336d2ee824e70bb6d6be5125730cf1c52ff73c57b8352f1b83e3025e7369c323f73b0560e4b936a01e8338ddfced616b9be29622bf38f315a17e017e074edc92790073d8b26a841da7c0a516fc8a361034195ac3b3059092a138500afcd1ef3ddef9a58992",
    }, "76543daa3321663569aab55d"],
  ];
  for (const [etype, keyHex, encs, cksum] of cases) {
    const key = stringToKey(etype, "password", "EXAMPLE.COMalice");
    assertEquals(hex(key.value), keyHex);
    for (const [n, want] of Object.entries(encs)) {
      assertEquals(hex(encrypt(key, 24, data(+n), conf)), want, `etype ${etype} n=${n}`);
      assertEquals(hex(decrypt(key, 24, unhex(want))), hex(data(+n)));
    }
    assertEquals(hex(checksum(key, 25, te.encode("hello"))), cksum);
    const bad = unhex(encs[17]);
    bad[20] ^= 1;
    assertThrows(() => decrypt(key, 24, bad), KerberosIntegrityError);
    assertThrows(() => decrypt(key, 22, unhex(encs[17])), KerberosIntegrityError);
  }
});

Deno.test("an RC4-HMAC key cannot key GSS wrap tokens: a typed error", () => {
  const rc4 = stringToKey(ETYPE.RC4_HMAC, "pw", "salt");
  const err = assertThrows(() => usageKeys(rc4, 24), KerberosError);
  assertEquals((err as KerberosError).problem, "etype");
});

Deno.test("RC4-HMAC (RFC 4757): MD4, NT-hash string-to-key, encryption and checksum vectors", async (t) => {
  const te = new TextEncoder();
  await t.step("MD4: RFC 1320 A.5 test suite", () => {
    const suite: [string, string][] = [
      ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
      ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
      ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
      ["message digest", "d9130a8164549fe818874806e1c7014b"],
      ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
      [
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
      ],
      ["1234567890".repeat(8), "e33b4ddc9c38f2199c3e7b164fcc0536"],
    ];
    for (const [m, d] of suite) assertEquals(hex(md4(te.encode(m))), d, m);
  });
  await t.step("string-to-key is the NT hash (non-ASCII too)", () => {
    assertEquals(hex(rc4StringToKey("password")), "8846f7eaee8fb117ad06bdd830b7586c");
    assertEquals(
      hex(stringToKey(ETYPE.RC4_HMAC, "password", "ignored").value),
      "8846f7eaee8fb117ad06bdd830b7586c",
    );
    assertEquals(checksumType(ETYPE.RC4_HMAC), -138);
  });
  // Vectors made with impacket's independent RC4-HMAC (impacket.krb5.crypto._RC4 / _HMACMD5),
  // confounder 00..07, key = NT hash of "password".
  const key = stringToKey(ETYPE.RC4_HMAC, "password", "");
  const conf = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
  await t.step("encryption: usage 3 maps to 8 (AS-REP), usage 1 stays", () => {
    const c3 = encrypt(key, 3, te.encode("hello kerberos rc4"), conf);
    assertEquals(
      hex(c3),
      "e8fca34da9079df8153b422a140485540b8b4fe8752004fbcb299767d8fdae6b88c7fd68d5585cdf61cf",
    );
    assertEquals(new TextDecoder().decode(decrypt(key, 3, c3)), "hello kerberos rc4");
    assertEquals(
      hex(encrypt(key, 1, te.encode("timestamp"), conf)),
      "798214b90d5428909a640ed30133faedd753ec9757a5fd5c0bef0b1685fe71177a",
    );
    const bad = c3.slice();
    bad[30] ^= 1;
    assertThrows(() => decrypt(key, 3, bad), KerberosIntegrityError);
    assertThrows(() => decrypt(key, 1, c3), KerberosIntegrityError); // another usage's key
  });
  await t.step("HMAC-MD5 checksum (-138)", () => {
    assertEquals(
      hex(checksum(key, 10, te.encode("checksum data"))),
      "ff44933c5954bc3f1589becef2947769",
    );
  });
});

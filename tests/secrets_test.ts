import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "./helpers/assert.ts";
import { Keyring, parseMasterKey, SecretDecryptionError } from "../lib/crypto/secrets.ts";

const key = (b: number) => new Uint8Array(32).fill(b);

Deno.test("secrets: AES-256-GCM with a key id; fresh IV each time", async () => {
  const ring = await Keyring.create(key(1));
  const a = await ring.encrypt("Passw0rd!");
  const b = await ring.encrypt("Passw0rd!");
  assertMatch(a, /^v1:[0-9a-f]{8}:/);
  assertNotEquals(a, b);
  assertEquals(await ring.decrypt(a), "Passw0rd!");
  const tampered = a.slice(0, -4) + (a.endsWith("AAAA") ? "BBBB" : "AAAA");
  await assertRejects(() => ring.decrypt(tampered), SecretDecryptionError);
});

Deno.test("secrets: rotation decrypts old values and marks them stale", async () => {
  const old = await Keyring.create(key(1));
  const sealed = await old.encrypt("old secret");
  const rotated = await Keyring.create(key(2), [key(1)]);
  assert(rotated.isStale(sealed));
  assertEquals(await rotated.decrypt(sealed), "old secret");
  const other = await Keyring.create(key(3));
  const err = await assertRejects(() => other.decrypt(sealed), SecretDecryptionError);
  assert(!err.message.includes("old secret"));
});

Deno.test("secrets: master keys parse from hex or base64 of 32 bytes only", () => {
  assertEquals(parseMasterKey("01".repeat(32)), key(1));
  assertEquals(parseMasterKey(btoa(String.fromCharCode(...key(2)))), key(2));
  let threw = false;
  try {
    parseMasterKey("too-short");
  } catch {
    threw = true;
  }
  assert(threw);
});

/**
 * Long inputs go to node:crypto, short ones stay in JavaScript (lib/kerberos/aes_sha1.ts):
 * both paths give the same bytes for AES-128/256-CBC (zero IV) and HMAC-SHA1, either side
 * of the thresholds.
 */
import { assertEquals } from "../helpers/assert.ts";
import {
  Aes,
  cbcDecryptInPlace,
  cbcEncryptInPlace,
  HmacSha1,
  NATIVE_CBC_BYTES,
  NATIVE_HMAC_BYTES,
} from "../../lib/kerberos/aes_sha1.ts";

Deno.test("AES-CBC: node:crypto and the JavaScript rounds agree on long inputs, both ways", () => {
  for (const keyBytes of [16, 32]) {
    const aes = new Aes(crypto.getRandomValues(new Uint8Array(keyBytes)));
    for (const n of [NATIVE_CBC_BYTES - 16, NATIVE_CBC_BYTES, NATIVE_CBC_BYTES + 16, 65_520]) {
      const plain = crypto.getRandomValues(new Uint8Array(n));
      const a = plain.slice();
      const b = plain.slice();
      cbcEncryptInPlace(aes, a);
      cbcEncryptInPlace(aes, b, false);
      assertEquals(a, b, `encrypt ${n} bytes, AES-${keyBytes * 8}`);
      cbcDecryptInPlace(aes, a);
      cbcDecryptInPlace(aes, b, false);
      assertEquals(a, plain, `decrypt ${n} bytes back`);
      assertEquals(b, plain);
    }
  }
});

Deno.test("HMAC-SHA1: node:crypto and the JavaScript compression agree either side of the threshold", () => {
  const h = new HmacSha1(crypto.getRandomValues(new Uint8Array(16)));
  for (const n of [0, 63, NATIVE_HMAC_BYTES - 1, NATIVE_HMAC_BYTES, 70_001]) {
    const data = new Uint8Array(n).map((_, i) => (i * 7919 + n) & 255);
    const a = h.mac(data).slice();
    const b = h.mac(data, false).slice();
    assertEquals(a, b, `${n} bytes`);
  }
});

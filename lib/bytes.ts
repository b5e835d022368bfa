/** Byte helpers shared by the wire formats (NTLM, Kerberos ASN.1, PostgreSQL messages). */

/** The parts, one after another, in one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * MIT keytab files (format 0x0502, what `kadmin ktadd` and `ktpass` write): the service
 * keys an acceptor decrypts tickets with.
 */
import type { Key } from "./crypto.ts";
import { KerberosProtocolError } from "./errors.ts";

export interface KeytabEntry {
  realm: string;
  /** name components, e.g. ["HTTP", "host.example.com"] */
  names: string[];
  kvno: number;
  key: Key;
}

const td = new TextDecoder();

export function parseKeytab(b: Uint8Array): KeytabEntry[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 2 || b[0] !== 0x05 || b[1] !== 0x02) {
    throw new KerberosProtocolError("not a version 0x0502 keytab");
  }
  const out: KeytabEntry[] = [];
  let p = 2;
  const need = (n: number, end: number) => {
    if (p + n > end) throw new KerberosProtocolError("keytab entry truncated");
  };
  while (p + 4 <= b.length) {
    const size = v.getInt32(p);
    p += 4;
    if (size < 0) {
      p += -size; // a deleted entry's hole
      continue;
    }
    const end = p + size;
    if (end > b.length) throw new KerberosProtocolError("keytab entry truncated");
    const str = () => {
      need(2, end);
      const n = v.getUint16(p);
      p += 2;
      need(n, end);
      const s = b.subarray(p, p + n);
      p += n;
      return s;
    };
    need(2, end);
    const count = v.getUint16(p);
    p += 2;
    const realm = td.decode(str());
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push(td.decode(str()));
    need(4 + 4 + 1 + 2, end);
    p += 4 + 4; // name type, timestamp
    let kvno = b[p];
    p += 1;
    const etype = v.getUint16(p);
    p += 2;
    const value = str().slice();
    if (end - p >= 4) kvno = v.getUint32(p); // the 32-bit kvno, when present
    p = end;
    out.push({ realm, names, kvno, key: { etype, value } });
  }
  return out;
}

/** The key for a ticket's (etype, kvno) among a service's entries, or why there is none. */
export function keytabKeyFor(
  entries: KeytabEntry[],
  etype: number,
  kvno: number | null,
): Key {
  const fit = entries.filter((e) => e.key.etype === etype && (kvno === null || e.kvno === kvno));
  if (!fit.length) {
    throw new KerberosProtocolError(
      `no keytab key for etype ${etype}${kvno === null ? "" : ` kvno ${kvno}`}`,
    );
  }
  return fit.reduce((a, b) => (b.kvno > a.kvno ? b : a)).key;
}

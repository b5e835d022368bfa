/** One self-signed certificate per process, shared by every simulated host's HTTPS listener. */
import { selfSignedServerCertificate } from "../lib/tls_certificate.ts";

export interface SimCertificate {
  cert: string;
  key: string;
  der: Uint8Array;
}

let cached: Promise<SimCertificate> | undefined;

export function simCertificate(): Promise<SimCertificate> {
  return cached ??= generate();
}

async function generate(): Promise<SimCertificate> {
  const pems = await selfSignedServerCertificate("winsim", 365);
  return { cert: pems.cert, key: pems.private, der: pemToDer(pems.cert) };
}

export function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** One self-signed certificate per process, shared by every simulated host's HTTPS listener. */
import selfsigned from "selfsigned";

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
  const pems = await selfsigned.generate([{ name: "commonName", value: "winsim" }], {
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      // A leaf, not a CA: clients that pin or trust it must not be able to chain from it.
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private, der: pemToDer(pems.cert) };
}

export function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

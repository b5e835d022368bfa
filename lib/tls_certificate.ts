/**
 * The HTTPS certificate: the configured cert/key files, or a self-signed certificate created
 * on first start in the data directory (RSA 2048, 10 years, SAN localhost + 127.0.0.1).
 */
import selfsigned from "selfsigned";
import { X509Certificate } from "node:crypto";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, colon-separated hex, for an operator to compare in the browser. */
  fingerprint256: string;
  created: boolean;
}

export async function loadTlsMaterial(
  opts: { certFile?: string; keyFile?: string; dataDir: string },
): Promise<TlsMaterial> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) {
      throw new Error("both a TLS certificate file and a key file are needed");
    }
    const cert = await Deno.readTextFile(opts.certFile);
    const key = await Deno.readTextFile(opts.keyFile);
    return { cert, key, fingerprint256: fingerprint(cert), created: false };
  }
  const certPath = `${opts.dataDir}/tls.crt`;
  const keyPath = `${opts.dataDir}/tls.key`;
  try {
    const cert = await Deno.readTextFile(certPath);
    const key = await Deno.readTextFile(keyPath);
    return { cert, key, fingerprint256: fingerprint(cert), created: false };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const pems = await selfSignedServerCertificate("nmslite", 3650);
  await Deno.writeTextFile(keyPath, pems.private, { mode: 0o600 });
  await Deno.chmod(keyPath, 0o600);
  await Deno.writeTextFile(certPath, pems.cert, { mode: 0o644 });
  return {
    cert: pems.cert,
    key: pems.private,
    fingerprint256: fingerprint(pems.cert),
    created: true,
  };
}

/**
 * A self-signed server certificate (RSA 2048, SHA-256) for localhost and 127.0.0.1: a leaf,
 * not a CA, so a client that pins or trusts it cannot chain anything else from it.
 */
export async function selfSignedServerCertificate(
  commonName: string,
  days: number,
): Promise<{ cert: string; private: string }> {
  return await selfsigned.generate([{ name: "commonName", value: commonName }], {
    notAfterDate: new Date(Date.now() + days * 86_400_000),
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }],
      },
    ],
  });
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

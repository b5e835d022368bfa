/**
 * The files NMSlite keeps beside its embedded database: the JWT secret and the master key
 * (created on first start, mode 0600, unless given in the configuration) and the self-signed
 * TLS certificate (lib/tls_certificate.ts).
 */
import { encodeBase64 } from "./crypto/base64.ts";
import { parseMasterKey } from "./crypto/secrets.ts";
import type { Config } from "./config.ts";

export interface LocalSecrets {
  jwtSecret: Uint8Array;
  masterKey: Uint8Array;
  previousKeys: Uint8Array[];
}

export async function loadLocalSecrets(config: Config): Promise<LocalSecrets> {
  // The central role has its secrets from the environment (lib/config.ts): no data dir at all.
  if (config.role !== "central") await Deno.mkdir(config.data_dir, { recursive: true });
  const jwtSecret = config.auth.jwt_secret
    ? new TextEncoder().encode(config.auth.jwt_secret)
    : new TextEncoder().encode(await readOrCreateSecretFile(`${config.data_dir}/jwt.secret`));
  const masterKey = parseMasterKey(
    config.encryption.master_key ?? await readOrCreateSecretFile(`${config.data_dir}/master.key`),
  );
  const previousKeys = (config.encryption.previous_keys ?? "").split(",")
    .map((s) => s.trim()).filter(Boolean).map(parseMasterKey);
  return { jwtSecret, masterKey, previousKeys };
}

/** Reads a 32-byte random secret (base64), creating it with mode 0600 when missing. */
async function readOrCreateSecretFile(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const value = encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
  try {
    // createNew: a second process starting at the same moment must not overwrite the first's key.
    await Deno.writeTextFile(path, value + "\n", { mode: 0o600, createNew: true });
    await Deno.chmod(path, 0o600);
    return value;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return (await Deno.readTextFile(path)).trim();
    throw err;
  }
}

/**
 * Credential profile rules: the password is sealed before it reaches the database and never
 * comes back out through the API; the port follows `use_ssl` unless given; Basic over plain
 * HTTP must be asked for explicitly because it sends the password in clear.
 */
import type { Keyring } from "../crypto/secrets.ts";
import type { Queryable } from "../db/driver.ts";
import type { Credential } from "../messages.ts";
import { credentialProfilesRepo } from "../db/credential_profiles.ts";
import type {
  CredentialProfile,
  CredentialProfileWrite,
  CredentialType,
  TlsVerify,
} from "../db/credential_profiles.ts";

export interface CredentialProfileInput {
  name: string;
  type: CredentialType;
  username: string;
  password?: string;
  domain?: string | null;
  port?: number;
  use_ssl?: boolean;
  tls_verify?: TlsVerify;
  tls_ca_pem?: string | null;
  allow_unencrypted?: boolean;
  kerberos_realm?: string | null;
  kerberos_kdcs?: string[];
  kerberos_spn?: string | null;
}

export class CredentialRuleError extends Error {
  override name = "CredentialRuleError";
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export const DEFAULT_HTTP_PORT = 5985;
export const DEFAULT_HTTPS_PORT = 5986;
/** a `wmi` profile's port is the DCOM activation port (the WMI port itself is dynamic) */
export const DEFAULT_RPC_PORT = 135;

/** Builds the row to store; `existing` supplies what an update leaves out. */
export async function toCredentialWrite(
  keyring: Keyring,
  input: Partial<CredentialProfileInput>,
  existing?: CredentialProfile & { password_enc: string },
): Promise<CredentialProfileWrite> {
  const useSsl = input.use_ssl ?? existing?.use_ssl ?? false;
  const sslChanged = existing !== undefined && input.use_ssl !== undefined &&
    input.use_ssl !== existing.use_ssl;
  const defaultPort = (input.type ?? existing?.type) === "wmi"
    ? DEFAULT_RPC_PORT
    : useSsl
    ? DEFAULT_HTTPS_PORT
    : DEFAULT_HTTP_PORT;
  const port = input.port ?? (sslChanged ? defaultPort : existing?.port ?? defaultPort);
  const type = input.type ?? existing?.type;
  const tlsVerify = input.tls_verify ?? existing?.tls_verify ?? "system";
  const tlsCaPem = input.tls_ca_pem !== undefined ? input.tls_ca_pem : existing?.tls_ca_pem ?? null;
  const allowUnencrypted = input.allow_unencrypted ?? existing?.allow_unencrypted ?? false;
  if (!type) throw new CredentialRuleError("type", "type is required");
  if (tlsVerify === "pinned" && !tlsCaPem) {
    throw new CredentialRuleError(
      "tls_ca_pem",
      "tls_verify 'pinned' needs tls_ca_pem: the CA or server certificate in PEM form",
    );
  }
  if (type === "winrm_basic" && !useSsl && !allowUnencrypted) {
    throw new CredentialRuleError(
      "use_ssl",
      "Basic authentication over plain HTTP sends the password in clear: use HTTPS (use_ssl), or allow Basic over plain HTTP (allow_unencrypted)",
    );
  }
  const kerberos = kerberosFields(type, input, existing);
  let passwordEnc: string;
  if (input.password !== undefined) passwordEnc = await keyring.encrypt(input.password);
  else if (existing) passwordEnc = existing.password_enc;
  else throw new CredentialRuleError("password", "password is required");
  const name = input.name ?? existing?.name;
  const username = input.username ?? existing?.username;
  if (!name) throw new CredentialRuleError("name", "name is required");
  if (!username) throw new CredentialRuleError("username", "username is required");
  return {
    name,
    type,
    username,
    passwordEnc,
    domain: input.domain !== undefined ? input.domain || null : existing?.domain ?? null,
    port,
    use_ssl: useSsl,
    tls_verify: tlsVerify,
    tls_ca_pem: tlsVerify === "pinned" ? tlsCaPem : null,
    allow_unencrypted: allowUnencrypted,
    ...kerberos,
  };
}

/**
 * Kerberos settings: a realm (from user@REALM when not given), KDCs as host[:port], and the
 * SPN choice: null (HTTP/<device host name>), "reverse", or a fixed "HTTP/name".
 */
function kerberosFields(
  type: CredentialType,
  input: Partial<CredentialProfileInput>,
  existing?: CredentialProfile,
): Pick<CredentialProfileWrite, "kerberos_realm" | "kerberos_kdcs" | "kerberos_spn"> {
  if (type !== "winrm_kerberos") {
    return { kerberos_realm: null, kerberos_kdcs: [], kerberos_spn: null };
  }
  const username = input.username ?? existing?.username ?? "";
  const given = input.kerberos_realm !== undefined
    ? input.kerberos_realm
    : existing?.kerberos_realm ?? null;
  const at = username.lastIndexOf("@");
  const realm = (given?.trim() || (at > 0 ? username.slice(at + 1) : "")).toUpperCase();
  if (!realm) {
    throw new CredentialRuleError(
      "kerberos_realm",
      "Kerberos needs a realm: write the user as user@REALM or set kerberos_realm",
    );
  }
  const kdcs = (input.kerberos_kdcs ?? existing?.kerberos_kdcs ?? []).map((k) => k.trim())
    .filter(Boolean);
  for (const k of kdcs) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(k)) {
      throw new CredentialRuleError("kerberos_kdcs", `not a KDC address: ${k} (host[:port])`);
    }
  }
  const spn = (input.kerberos_spn !== undefined ? input.kerberos_spn : existing?.kerberos_spn)
    ?.trim() || null;
  if (spn && spn !== "reverse" && !/^[A-Za-z]+\/[^/\s@]+(@\S+)?$/.test(spn)) {
    throw new CredentialRuleError(
      "kerberos_spn",
      'kerberos_spn is "reverse" or a service principal such as HTTP/server.example.com',
    );
  }
  return { kerberos_realm: realm, kerberos_kdcs: kdcs, kerberos_spn: spn };
}

export class CredentialNotFoundError extends Error {
  override name = "CredentialNotFoundError";
  readonly kind = "credential";
}

/** Decrypts a credential profile for a poller (the only place a password leaves the keyring). */
export async function decryptCredential(
  db: Queryable,
  keyring: Keyring,
  id: number,
): Promise<Credential> {
  const row = await credentialProfilesRepo.getSecret(db, id);
  if (!row) throw new CredentialNotFoundError(`credential profile ${id} no longer exists`);
  return {
    id: row.id,
    type: row.type as Credential["type"],
    username: row.username,
    password: await keyring.decrypt(row.password_enc),
    domain: row.domain,
    port: row.port,
    useSsl: row.use_ssl,
    tlsVerify: row.tls_verify,
    tlsCaPem: row.tls_ca_pem,
    allowUnencrypted: row.allow_unencrypted,
    kerberosRealm: row.kerberos_realm,
    kerberosKdcs: row.kerberos_kdcs ?? [],
    kerberosSpn: row.kerberos_spn,
    version: new Date(row.updated_at).toISOString(),
  };
}

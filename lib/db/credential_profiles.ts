import type { Queryable } from "./driver.ts";
import { containsPattern, listPage, type ListParams, type Page } from "./pagination.ts";

export type CredentialType = "winrm_basic" | "winrm_ntlm" | "winrm_kerberos" | "wmi";
export type TlsVerify = "system" | "pinned" | "insecure";

/** A credential profile as the API shows it: the password never leaves the repository. */
export interface CredentialProfile {
  id: number;
  name: string;
  type: CredentialType;
  username: string;
  domain: string | null;
  port: number;
  use_ssl: boolean;
  tls_verify: TlsVerify;
  tls_ca_pem: string | null;
  allow_unencrypted: boolean;
  /** winrm_kerberos: the realm, KDCs (none: DNS SRV) and SPN choice (null: HTTP/<host name>) */
  kerberos_realm: string | null;
  kerberos_kdcs: string[];
  kerberos_spn: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface CredentialProfileWrite {
  name: string;
  type: CredentialType;
  username: string;
  passwordEnc: string;
  domain: string | null;
  port: number;
  use_ssl: boolean;
  tls_verify: TlsVerify;
  tls_ca_pem: string | null;
  allow_unencrypted: boolean;
  kerberos_realm: string | null;
  kerberos_kdcs: string[];
  kerberos_spn: string | null;
}

const COLUMNS =
  "id, name, type, username, domain, port, use_ssl, tls_verify, tls_ca_pem, allow_unencrypted, kerberos_realm, kerberos_kdcs, kerberos_spn, created_at, updated_at";

type R = CredentialProfile;

export const credentialProfilesRepo = {
  async list(db: Queryable, list: ListParams, q?: string): Promise<Page<CredentialProfile>> {
    return await listPage<R>(db, {
      from: "credential_profiles",
      select: COLUMNS,
      where: q ? ["(name ILIKE $1 OR username ILIKE $1)"] : [],
      params: q ? [containsPattern(q)] : [],
      sortable: { id: "id", name: "lower(name)", type: "type", created_at: "created_at" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<CredentialProfile | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM credential_profiles WHERE id = $1`, [id]))[0];
  },
  async getSecret(db: Queryable, id: number) {
    return (await db.query<R & { password_enc: string }>(
      `SELECT ${COLUMNS}, password_enc FROM credential_profiles WHERE id = $1`,
      [id],
    ))[0];
  },
  async create(db: Queryable, p: CredentialProfileWrite): Promise<CredentialProfile> {
    return (await db.query<R>(
      `INSERT INTO credential_profiles
         (name, type, username, password_enc, domain, port, use_ssl, tls_verify, tls_ca_pem, allow_unencrypted,
          kerberos_realm, kerberos_kdcs, kerberos_spn)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
      [
        p.name,
        p.type,
        p.username,
        p.passwordEnc,
        p.domain,
        p.port,
        p.use_ssl,
        p.tls_verify,
        p.tls_ca_pem,
        p.allow_unencrypted,
        p.kerberos_realm,
        p.kerberos_kdcs,
        p.kerberos_spn,
      ],
    ))[0];
  },
  async update(
    db: Queryable,
    id: number,
    p: CredentialProfileWrite,
  ): Promise<CredentialProfile | undefined> {
    return (await db.query<R>(
      `UPDATE credential_profiles SET name = $2, type = $3, username = $4, password_enc = $5,
         domain = $6, port = $7, use_ssl = $8, tls_verify = $9, tls_ca_pem = $10,
         allow_unencrypted = $11, kerberos_realm = $12, kerberos_kdcs = $13, kerberos_spn = $14,
         updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        p.name,
        p.type,
        p.username,
        p.passwordEnc,
        p.domain,
        p.port,
        p.use_ssl,
        p.tls_verify,
        p.tls_ca_pem,
        p.allow_unencrypted,
        p.kerberos_realm,
        p.kerberos_kdcs,
        p.kerberos_spn,
      ],
    ))[0];
  },
  async usage(
    db: Queryable,
    id: number,
  ): Promise<{ monitors: number; discovery_profiles: number }> {
    return (await db.query<{ monitors: number; discovery_profiles: number }>(
      `SELECT (SELECT count(*)::int FROM monitors WHERE credential_profile_id = $1) AS monitors,
              (SELECT count(*)::int FROM discovery_profiles WHERE credential_profile_id = $1) AS discovery_profiles`,
      [id],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM credential_profiles WHERE id = $1 RETURNING id", [id]))
      .length > 0;
  },
  async listSecrets(db: Queryable): Promise<{ id: number; password_enc: string }[]> {
    return await db.query("SELECT id, password_enc FROM credential_profiles");
  },
  async setSecret(db: Queryable, id: number, passwordEnc: string): Promise<void> {
    await db.query("UPDATE credential_profiles SET password_enc = $2 WHERE id = $1", [
      id,
      passwordEnc,
    ]);
  },
};

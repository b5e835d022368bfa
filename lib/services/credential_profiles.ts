/**
 * Credential profiles: the password is sealed before it is stored and never returned; a
 * profile used by a monitor or a discovery profile cannot be deleted. `test` identifies one
 * host with a stored profile, so an operator learns at once whether it works.
 */
import type { Keyring } from "../crypto/secrets.ts";
import { type CredentialProfile, credentialProfilesRepo } from "../db/credential_profiles.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import {
  CredentialNotFoundError,
  type CredentialProfileInput,
  CredentialRuleError,
  decryptCredential,
  toCredentialWrite,
} from "../inventory/credential_profiles.ts";
import { identifyWindows, type WindowsIdentity } from "../collectors/windows_winrm.ts";
import { identifyWindowsWmi } from "../collectors/windows_wmi.ts";
import { WmiError } from "../wmi/mod.ts";
import { WinrmError } from "../winrm/errors.ts";
import type { WinrmOverrides } from "../winrm/mod.ts";
import { type Actor, audit } from "../audit.ts";
import { found, inUse, invalid, notFound, ServiceError } from "./errors.ts";
import { devicesRepo } from "../db/devices.ts";
import { LOCAL_SITE_ID } from "../db/sites.ts";
import type { Credential } from "../messages.ts";
import { change, type ServiceDeps } from "./service.ts";

const TEST_TIMEOUT_MS = 20_000;

/** What decides how and where a profile's password travels (see `update`). */
const TRANSPORT_FIELDS = [
  "type",
  "port",
  "use_ssl",
  "tls_verify",
  "tls_ca_pem",
  "allow_unencrypted",
  "kerberos_realm",
  "kerberos_kdcs",
  "kerberos_spn",
] as const satisfies readonly (keyof CredentialProfileInput & keyof CredentialProfile)[];

export interface CredentialTestResult {
  ok: boolean;
  ip: string;
  identity: WindowsIdentity | null;
  error: { kind: string; message: string } | null;
  duration_ms: number;
}

/** Runs a command on a live poller node of a site (lib/nodes/hub.ts). */
export interface NodeWork {
  onSite(
    site: number,
    cmd: { kind: "credential-test"; ip: string; credential: Credential; hostName: string | null },
    timeoutMs: number,
  ): Promise<{ ok: boolean; result?: unknown; error?: { kind: string; message: string } }>;
}

export class CredentialProfilesService {
  constructor(
    private readonly deps: ServiceDeps & {
      keyring: Keyring;
      winrm?: WinrmOverrides;
      /** where a site's tests run when the site is not `local` */
      nodes?: () => NodeWork;
    },
  ) {}

  /** `q`: text in the name or user name */
  list(params: ListParams & { q?: string }): Promise<Page<CredentialProfile>> {
    return credentialProfilesRepo.list(this.deps.db, params, params.q);
  }

  get(id: number): Promise<CredentialProfile | undefined> {
    return credentialProfilesRepo.get(this.deps.db, id);
  }

  async create(actor: Actor, body: CredentialProfileInput): Promise<CredentialProfile> {
    const write = await ruled(() => toCredentialWrite(this.deps.keyring, body));
    return await change(this.deps, async (tx) => {
      const row = await credentialProfilesRepo.create(tx, write);
      await audit(tx, actor, "create", "credential_profile", row.id, { name: row.name });
      return row;
    });
  }

  /**
   * Fields left out keep their value, the password too; but a change to how or where the
   * stored password is sent (TRANSPORT_FIELDS) must carry it again. Otherwise whoever may edit
   * a profile, without knowing its password, could turn NTLM over HTTPS into Basic over plain
   * HTTP on another port, or aim Kerberos at a KDC of their own, and read the password off the
   * wire at the next discovery run or poll.
   */
  update(actor: Actor, id: number, body: Partial<CredentialProfileInput>) {
    return change(this.deps, async (tx) => {
      const existing = found(
        await credentialProfilesRepo.getSecret(tx, id),
        "credential profile",
        id,
      );
      const moved = TRANSPORT_FIELDS.filter((k) =>
        body[k] !== undefined &&
        JSON.stringify(body[k] ?? null) !== JSON.stringify(existing[k] ?? null)
      );
      if (moved.length && !body.password) {
        throw invalid(
          "password",
          `is required to change ${moved.join(", ")}: a change to how or where the password ` +
            "is sent needs the password again",
        );
      }
      const write = await ruled(() => toCredentialWrite(this.deps.keyring, body, existing));
      const row = await credentialProfilesRepo.update(tx, id, write);
      await audit(tx, actor, "update", "credential_profile", id, { fields: Object.keys(body) });
      return row;
    }, () => ({ entity: "credential_profile", id, action: "updated" }));
  }

  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      found(await credentialProfilesRepo.get(tx, id), "credential profile", id);
      const usage = await credentialProfilesRepo.usage(tx, id);
      if (usage.monitors > 0) throw inUse("Credential Profile", usage.monitors, "monitor", usage);
      if (usage.discovery_profiles > 0) {
        throw inUse("Credential Profile", usage.discovery_profiles, "discovery profile", usage);
      }
      await credentialProfilesRepo.delete(tx, id);
      await audit(tx, actor, "delete", "credential_profile", id);
    });
  }

  /**
   * Identifies `ip` over WinRM with the stored profile: the identity, or what went wrong. A
   * test sends the profile's secret to `ip`, so an address that is not a known device needs an
   * admin (`anyAddress`), Basic is never sent over plain HTTP, and every test is audited.
   */
  async test(
    actor: Actor,
    id: number,
    ip: string,
    { anyAddress, siteId }: { anyAddress: boolean; siteId?: number },
  ): Promise<CredentialTestResult> {
    let credential;
    try {
      credential = await decryptCredential(this.deps.db, this.deps.keyring, id);
    } catch (err) {
      if (err instanceof CredentialNotFoundError) throw notFound("credential profile", id);
      throw err;
    }
    const deviceId = await devicesRepo.idByIp(this.deps.db, ip);
    // A device's own site decides where the test runs; an address not known yet, the caller.
    const site =
      (deviceId !== undefined
        ? (await devicesRepo.get(this.deps.db, deviceId))?.site_id
        : undefined) ?? siteId ?? LOCAL_SITE_ID;
    const record = (details: Record<string, unknown>) =>
      audit(this.deps.db, actor, "test", "credential_profile", id, {
        ip,
        device_id: deviceId ?? null,
        ...details,
      });
    if (deviceId === undefined && !anyAddress) {
      await record({ refused: "not a known device" });
      throw new ServiceError(
        403,
        "FORBIDDEN",
        `${ip} is not a known device: an operator may test a credential only against a device NMSlite knows; add it as a device first, or ask an admin to test it`,
      );
    }
    if (credential.type === "winrm_basic" && !credential.useSsl) {
      await record({ refused: "basic over http" });
      throw new ServiceError(
        400,
        "INSECURE_TRANSPORT",
        "a test never sends a Basic password over plain HTTP: turn on HTTPS for this profile, or use NTLM",
        { field: "use_ssl" },
      );
    }
    const started = performance.now();
    const result: CredentialTestResult = {
      ok: false,
      ip,
      identity: null,
      error: null,
      duration_ms: 0,
    };
    try {
      const signal = AbortSignal.timeout(TEST_TIMEOUT_MS);
      // Kerberos names the service after the device's host name when the profile names none.
      const hostName = credential.type === "winrm_kerberos" && deviceId !== undefined
        ? (await devicesRepo.get(this.deps.db, deviceId))?.hostname ?? null
        : null;
      if (site !== LOCAL_SITE_ID && this.deps.nodes) {
        // From inside the site's network: a poller node of the site runs it.
        let report;
        try {
          report = await this.deps.nodes().onSite(
            site,
            { kind: "credential-test", ip, credential, hostName },
            TEST_TIMEOUT_MS,
          );
        } catch (err) {
          if ((err as Error).name !== "NoLiveNodeError") throw err;
          throw new ServiceError(503, "NO_POLLER_NODE", (err as Error).message, { site_id: site });
        }
        result.ok = report.ok;
        result.identity = report.ok ? report.result as WindowsIdentity : null;
        result.error = report.ok ? null : report.error ?? { kind: "unexpected", message: "failed" };
      } else {
        result.identity = credential.type === "wmi"
          ? await identifyWindowsWmi(ip, credential, signal)
          : await identifyWindows(ip, credential, signal, this.deps.winrm, hostName);
        result.ok = true;
      }
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      result.error = err instanceof WinrmError || err instanceof WmiError
        ? { kind: err.kind, message: err.message }
        : err instanceof DOMException && err.name === "TimeoutError"
        ? { kind: "timeout", message: `no answer within ${TEST_TIMEOUT_MS / 1000} s` }
        : { kind: "unexpected", message: err instanceof Error ? err.message : String(err) };
    }
    result.duration_ms = Math.round(performance.now() - started);
    await record({ ok: result.ok, error_kind: result.error?.kind ?? null });
    return result;
  }
}

/** The profile rules' refusals, as validation errors naming the field. */
async function ruled<T>(build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (e) {
    if (e instanceof CredentialRuleError) throw invalid(e.field, e.message);
    throw e;
  }
}

/**
 * The fleet benchmark's use of the NMSlite API: a credential profile, one device and one
 * monitor per simulated host (many requests at once), and disabling them all at the end.
 */
import type { ChildServer } from "../scripts/child_server.ts";

export interface Api {
  /** the bearer token (the bench's own API probes use it) */
  token: string;
  /** a token with minutes left: signs in again when the current one is 10 minutes old */
  freshToken(): Promise<string>;
  // Response bodies are read ad hoc after their status was checked.
  // deno-lint-ignore no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/** `client`: for HTTPS, one that trusts the server's certificate (server.caCert) */
export async function login(server: ChildServer, client?: Deno.HttpClient): Promise<Api> {
  const api = `${server.url}/api/v1`;
  const signIn = async () => {
    const res = await fetch(`${api}/auth/login`, {
      client,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: server.adminUsername, password: server.adminPassword }),
    });
    if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status}`);
    return (await res.json()).data.access_token as string;
  };
  let token = await signIn();
  let signedInAt = Date.now();
  let renewing: Promise<string> | undefined;
  const renew = async () => {
    renewing ??= signIn().finally(() => renewing = undefined);
    token = await renewing;
    signedInAt = Date.now();
    return token;
  };
  const send = (method: string, path: string, body: unknown) =>
    fetch(`${api}${path}`, {
      client,
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    get token() {
      return token;
    },
    // (access tokens live 15 minutes; seeding 50,000 hosts on a busy box took 13.5)
    // (a failed sign-in leaves the old token: the probe then reports what the API said)
    freshToken: () =>
      Date.now() - signedInAt > 10 * 60_000 ? renew().catch(() => token) : Promise.resolve(token),
    async call(method, path, body) {
      const sentWith = token;
      let r = await send(method, path, body);
      // Seeding a big fleet on a busy box can outlast an access token: sign in again, once.
      if (r.status === 401) {
        await r.body?.cancel();
        if (token === sentWith) await renew();
        r = await send(method, path, body);
      }
      return { status: r.status, json: await r.json().catch(() => null) };
    },
  };
}

/** Runs `fn` over `items` with `concurrency` calls outstanding; the first error stops it. */
export async function eachConcurrently<T>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

export interface Seeded {
  credentialId: number;
  monitorIds: number[];
  seconds: number;
}

/** A credential profile, then a device and its monitor for every host. */
export async function seedFleet(api: Api, opts: {
  hosts: string[];
  intervalSeconds: number;
  auth: "ntlm" | "basic";
  /** wmi: a `wmi` profile (DCOM activation on 135) instead of WinRM */
  protocol?: "winrm" | "wmi";
  username: string;
  password: string;
  concurrency: number;
  /** every monitor's collection profile (default standard) */
  profile?: string;
  /** the hosts' WinRM HTTP port (default 5985) */
  port?: number;
  onProgress?: (done: number) => void;
}): Promise<Seeded> {
  const started = performance.now();
  const cred = await api.call("POST", "/credential-profiles", {
    name: `fleet-${Date.now().toString(36)}`,
    type: opts.protocol === "wmi" ? "wmi" : opts.auth === "basic" ? "winrm_basic" : "winrm_ntlm",
    username: opts.username,
    password: opts.password,
    port: opts.protocol === "wmi" ? 135 : opts.port ?? 5985,
    use_ssl: false,
    // Basic over plain HTTP must be allowed explicitly; NTLM seals the messages instead.
    ...(opts.auth === "basic" ? { allow_unencrypted: true } : {}),
  });
  if (cred.status !== 201) throw new Error(`credential profile: HTTP ${cred.status}`);
  const plugins = await api.call("GET", "/plugins?limit=500");
  const plugin = plugins.json.data.find((p: { name: string }) => p.name === "windows-winrm");
  if (!plugin) throw new Error("plugin windows-winrm not found");
  const monitorIds: number[] = new Array(opts.hosts.length);
  let done = 0;
  await eachConcurrently(opts.hosts, opts.concurrency, async (ip, i) => {
    const dev = await api.call("POST", "/devices", { ip, hostname: `fleet-${i}` });
    if (dev.status !== 201) throw new Error(`POST /devices ${ip}: HTTP ${dev.status}`);
    const mon = await api.call("POST", "/monitors", {
      device_id: dev.json.data.id,
      credential_profile_id: cred.json.data.id,
      plugin_id: plugin.id,
      polling_interval: opts.intervalSeconds,
      // enabled all together below: polling the first hosts would slow the seeding of the rest
      enabled: false,
      ...(opts.profile && opts.profile !== "standard" ? { config: { profile: opts.profile } } : {}),
    });
    if (mon.status !== 201) {
      throw new Error(`POST /monitors: HTTP ${mon.status} ${JSON.stringify(mon.json)}`);
    }
    monitorIds[i] = mon.json.data.id;
    if (++done % 1000 === 0) opts.onProgress?.(done);
  });
  const enabled = await setEnabled(api, monitorIds, true);
  if (enabled.failed) {
    throw new Error(`${enabled.failed} monitors could not be enabled (${enabled.firstError})`);
  }
  return {
    credentialId: cred.json.data.id,
    monitorIds,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Monitors one PATCH /monitors names at most (the API's bound). */
const BULK = 10_000;

/**
 * Enables or disables the monitors of `ids` with PATCH /monitors, BULK at a time. A request
 * that fails (an overloaded server) is tried three times; the monitors it left as they were
 * are counted, not thrown, so a run still reports.
 */
export async function setEnabled(
  api: Api,
  ids: number[],
  enabled: boolean,
): Promise<{ failed: number; firstError?: string }> {
  let failed = 0;
  let firstError: string | undefined;
  for (let from = 0; from < ids.length; from += BULK) {
    const chunk = ids.slice(from, from + BULK);
    for (let attempt = 1;; attempt++) {
      try {
        const r = await api.call("PATCH", "/monitors", { ids: chunk, enabled });
        if (r.status !== 200) throw new Error(`PATCH /monitors: HTTP ${r.status}`);
        const missing = r.json.data.not_found.length;
        if (missing) throw new Error(`PATCH /monitors: ${missing} monitors not found`);
        break;
      } catch (err) {
        if (attempt < 3) {
          await new Promise((r) => setTimeout(r, 1_000 * attempt));
          continue;
        }
        failed += chunk.length;
        firstError ??= (err as Error).message;
        break;
      }
    }
  }
  return { failed, firstError };
}

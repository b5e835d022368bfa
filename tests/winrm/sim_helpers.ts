/** Shared setup for the WinRM client tests: a simulator and clients for each auth mode. */
import { startWinsim, type Winsim } from "../../winsim/mod.ts";
import { WinrmClient, type WinrmClientOptions } from "../../lib/winrm/mod.ts";

export const PASSWORD = "S3cret-Passw0rd!x";

export type Mode = "basic-https" | "basic-http" | "ntlm-http" | "ntlm-https";
export const MODES: Mode[] = ["basic-https", "basic-http", "ntlm-http", "ntlm-https"];

export async function withSim(
  fn: (sim: Winsim) => Promise<void>,
  opts: { hosts?: number; base?: string } = {},
): Promise<void> {
  const sim = await startWinsim({
    hosts: opts.hosts ?? 1,
    base: opts.base,
    httpPort: 0,
    httpsPort: 0,
    password: PASSWORD,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

export function clientFor(
  sim: Winsim,
  mode: Mode,
  extra: Partial<WinrmClientOptions> = {},
  hostIndex = 0,
): WinrmClient {
  const h = sim.hosts[hostIndex];
  const https = mode.endsWith("https");
  return new WinrmClient({
    host: h.ip,
    port: https ? h.httpsPort! : h.httpPort,
    https,
    auth: mode.startsWith("ntlm") ? "ntlm" : "basic",
    username: sim.username,
    password: PASSWORD,
    allowUnencrypted: mode === "basic-http",
    tls: { verify: "pinned", caPem: sim.certificatePem },
    timeouts: { connectMs: 5_000, readMs: 10_000, operationMs: 20_000 },
    ...extra,
  });
}

/** Runs fn with a client and always closes it (no socket outlives a test). */
export async function using<T>(
  client: WinrmClient,
  fn: (c: WinrmClient) => Promise<T>,
): Promise<T> {
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

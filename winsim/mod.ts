/**
 * Simulated Windows hosts speaking WinRM (WS-Management over HTTP 5985 / HTTPS 5986) with
 * Basic and NTLM, for tests and benchmarks. Each host listens on its own loopback address.
 *
 *   const sim = await startWinsim({ hosts: 3, username: "Administrator", password: "pw" });
 *   sim.hosts[0].ip; sim.setFault(sim.hosts[1].ip, { kind: "hang" }); await sim.close();
 */
import { type AuthConfig } from "./auth.ts";
import { type KeytabEntry, parseKeytab } from "../lib/kerberos/keytab.ts";
import { simCertificate } from "./cert.ts";
import { DcomHost, serveDcom } from "./dcom.ts";
import { checkFault, type SimFault } from "./faults.ts";
import { hostAddresses, HostState, type HostStats } from "./hosts.ts";
import { type ServeContext, serveNotWinrm, serveSilent, serveWinrm } from "./server.ts";
import type { Instance } from "./wmi.ts";
import { CLASSES } from "./wmi_disk_net.ts";

export type { HostStats, SimFault };
export { parseFault, parseFaultSpec } from "./faults.ts";

export interface WinsimOptions {
  /** number of WinRM hosts */
  hosts: number;
  /** first host address (default 127.0.10.1); later ones follow, skipping .0 and .255 */
  base?: string;
  username?: string;
  password?: string;
  /** 0 picks a free port per listener (see SimHost.httpPort) */
  httpPort?: number;
  /** 0 picks a free port per listener; null serves no HTTPS */
  httpsPort?: number | null;
  /** offer Basic (default true) */
  basic?: boolean;
  /** Basic and unsealed SOAP over plain HTTP (default true) */
  allowUnencrypted?: boolean;
  /** addresses that accept TCP on httpPort (answering non-WinRM) and rpcPort, nothing else */
  tcpOnly?: string[];
  /** when set, every host (WinRM or TCP-only) also accepts TCP here, like RPC port 135 */
  rpcPort?: number;
  /** WinRM MaxBatchItems (default 32000): lower it to force Pulls whatever MaxElements says */
  maxBatchItems?: number;
  /** CbtHardeningLevel on HTTPS (default "relaxed", Windows' default; see auth.ts) */
  cbtHardening?: "none" | "relaxed" | "strict";
  /** accept NTLM wrapped in SPNEGO (default true, like Windows) */
  spnego?: boolean;
  /** answer a raw NTLM NEGOTIATE in SPNEGO anyway (a non-Windows peer; default false) */
  spnegoAlways?: boolean;
  /** faults in force from the start, by address */
  faults?: Record<string, SimFault>;
  /**
   * accept Kerberos (Negotiate) with the service keys of a keytab (its bytes), for `spn`
   * ("HTTP/name"; every key in the keytab when absent); the user is `username`@any realm
   */
  kerberos?: {
    keytab: Uint8Array;
    spn?: string;
    /** complete SPNEGO only on the client's mechListMIC (RFC 4178 request-mic) */
    requireMic?: boolean;
  };
  /**
   * serve WMI over DCOM (default true): activation on `rpcPort` plus a dynamic port per host;
   * false leaves rpcPort silent. rpcPort defaults to 135 (a free port when binding 135 is not
   * permitted), or to a free port when httpPort is 0 (tests running side by side)
   */
  wmi?: boolean;
  /**
   * where a host's WMI object exporter listens: "dynamic" (default) its own free port, like
   * Windows; "rpc" the activation port itself (one listener a host fewer, for large fleets);
   * "blocked" a port it advertises where nothing answers, as behind a firewall passing only 135
   */
  wmiExporter?: "dynamic" | "rpc" | "blocked";
}

export interface SimHost {
  ip: string;
  /** CSName / NetBIOS name; NTLM target name */
  name: string;
  tcpOnly: boolean;
  httpPort: number;
  /** null when HTTPS is off or the host is TCP-only */
  httpsPort: number | null;
  /** activation port when WMI is served (135 unless rpcPort says otherwise) */
  rpcPort: number | null;
  /** the dynamic port of the host's WMI object exporter; null when WMI is off */
  wmiPort: number | null;
}

export interface Winsim {
  /** WinRM hosts, in address order */
  hosts: SimHost[];
  /** TCP-only hosts */
  tcpOnly: SimHost[];
  username: string;
  certificatePem: string;
  certificateDer: Uint8Array;
  /** `"*"` applies to every host; null clears */
  setFault(ip: string, fault: SimFault | null): void;
  /** pins a fixed volume's ("C:", "D:") used share, 0..1, on a host; null lets it drift again */
  setVolumeUsed(ip: string, volume: string, usedShare: number | null): void;
  stats(ip: string): HostStats;
  /** sums over all hosts */
  totals(): HostStats;
  /** the host restarts now (unplanned: a Kernel-Power 41 follows in its System log) */
  reboot(ip: string, at?: number): void;
  /**
   * no planned reboots and no disk latency spikes on the host from now on (a tenth of the
   * hosts reboot every few hours and a quarter have a 2-minute latency spike every 40, at fixed
   * times of the day: a test of exact figures on one host would fail in those windows)
   */
  steady(ip: string): void;
  /** the host's Application log floods (Application Error 1000, 5/s for 3 minutes) from now */
  eventFlood(ip: string, at?: number): void;
  /** what a WMI class returns on a host at `now` (for asserting on static values) */
  instances(ip: string, className: string, now?: number): Instance[];
  close(): Promise<void>;
}

export const DEFAULT_USER = "Administrator";

/** The keytab's keys for the SPN (all of them without one); none is a configuration error. */
function serviceKeys(k: { keytab: Uint8Array; spn?: string }): KeytabEntry[] {
  const all = parseKeytab(k.keytab);
  const want = k.spn?.replace(/@.*$/, "").toLowerCase();
  const keys = want ? all.filter((e) => e.names.join("/").toLowerCase() === want) : all;
  if (!keys.length) throw new Error(`the keytab holds no key for ${k.spn ?? "any principal"}`);
  return keys;
}

export async function startWinsim(opts: WinsimOptions): Promise<Winsim> {
  const auth: AuthConfig = {
    username: opts.username ?? DEFAULT_USER,
    password: opts.password ?? "Passw0rd!",
    basic: opts.basic ?? true,
    allowUnencrypted: opts.allowUnencrypted ?? true,
    cbtHardening: opts.cbtHardening ?? "relaxed",
    spnego: opts.spnego ?? true,
    spnegoAlways: opts.spnegoAlways ?? false,
    kerberos: opts.kerberos
      ? { keys: serviceKeys(opts.kerberos), requireMic: opts.kerberos.requireMic }
      : undefined,
  };
  const httpPort = opts.httpPort ?? 5985;
  const httpsPort = opts.httpsPort === undefined ? 5986 : opts.httpsPort;
  const cert = await simCertificate();
  const tcpOnlySet = new Set(opts.tcpOnly ?? []);
  const states = new Map<string, HostState>();
  hostAddresses(opts.base ?? "127.0.10.1", opts.hosts).forEach((ip, i) =>
    states.set(ip, new HostState(ip, i, tcpOnlySet.has(ip)))
  );
  for (const h of states.values()) h.maxBatchItems = opts.maxBatchItems ?? 32000;
  for (const ip of tcpOnlySet) {
    if (!states.has(ip)) states.set(ip, new HostState(ip, states.size, true));
  }

  const ctx: ServeContext = { auth, conns: new Set() };
  const listeners: Deno.Listener[] = [];
  const loops: Promise<void>[] = [];
  const serving = new Set<Promise<void>>();
  const listen = <C extends Deno.Conn>(l: Deno.Listener<C>, serve: (c: C) => Promise<void>) => {
    listeners.push(l as unknown as Deno.Listener);
    loops.push((async () => {
      try {
        for await (const c of l) {
          const p = serve(c).finally(() => serving.delete(p));
          serving.add(p);
        }
      } catch { /* listener closed */ }
    })());
    return (l.addr as Deno.NetAddr).port;
  };

  const hosts: SimHost[] = [];
  const tcpOnly: SimHost[] = [];
  try {
    for (const h of states.values()) {
      const sim: SimHost = {
        ip: h.ip,
        name: h.tcpOnly ? "" : h.profile.name,
        tcpOnly: h.tcpOnly,
        httpPort: 0,
        httpsPort: null,
        rpcPort: null,
        wmiPort: null,
      };
      const tcp = Deno.listen({ hostname: h.ip, port: httpPort });
      sim.httpPort = listen(
        tcp,
        (c) => h.tcpOnly ? serveNotWinrm(c, h, ctx) : serveWinrm(c, h, ctx),
      );
      if (!h.tcpOnly && httpsPort !== null) {
        const tls = Deno.listenTls({
          hostname: h.ip,
          port: httpsPort,
          cert: cert.cert,
          key: cert.key,
        });
        sim.httpsPort = listen(tls, (c) => serveWinrm(c, h, ctx, cert.der));
      }
      const wmi = opts.wmi !== false && !h.tcpOnly;
      if (wmi) {
        const dcom = new DcomHost(h);
        const dctx = { auth, conns: ctx.conns };
        sim.rpcPort = listen(
          listenRpc(h.ip, opts.rpcPort ?? (httpPort === 0 ? 0 : undefined)),
          (c) => serveDcom(c, dcom, dctx),
        );
        dcom.port = opts.wmiExporter === "rpc"
          ? sim.rpcPort
          : opts.wmiExporter === "blocked"
          ? closedPort(h.ip)
          : listen(Deno.listen({ hostname: h.ip, port: 0 }), (c) => serveDcom(c, dcom, dctx));
        sim.wmiPort = dcom.port;
      } else if (opts.rpcPort !== undefined) {
        sim.rpcPort = listen(
          Deno.listen({ hostname: h.ip, port: opts.rpcPort }),
          (c) => serveSilent(c, h, ctx),
        );
      }
      (h.tcpOnly ? tcpOnly : hosts).push(sim);
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }

  const state = (ip: string): HostState => {
    const h = states.get(ip);
    if (!h) throw new Error(`no simulated host at ${ip}`);
    return h;
  };
  const setFault = (ip: string, fault: SimFault | null) => {
    const checked = checkFault(fault);
    if (ip === "*") { for (const h of states.values()) h.fault = checked; }
    else state(ip).fault = checked;
  };
  for (const [ip, f] of Object.entries(opts.faults ?? {})) setFault(ip, f);

  return {
    hosts,
    tcpOnly,
    username: auth.username,
    certificatePem: cert.cert,
    certificateDer: cert.der,
    setFault,
    setVolumeUsed(ip, volume, usedShare) {
      const p = state(ip).profile;
      p.volumeUsed ??= {};
      if (usedShare === null) delete p.volumeUsed[volume];
      else p.volumeUsed[volume] = Math.min(1, Math.max(0, usedShare));
    },
    stats: (ip) => ({ ...state(ip).stats }),
    reboot(ip, at = Date.now()) {
      state(ip).profile.rebootedAt = at;
    },
    steady(ip) {
      state(ip).profile.steady = true;
    },
    eventFlood(ip, at = Date.now()) {
      state(ip).profile.floodFrom = at;
    },
    totals() {
      const sum = { ...[...states.values()][0].stats };
      for (const k of Object.keys(sum) as (keyof HostStats)[]) sum[k] = 0;
      for (const h of states.values()) {
        for (const k of Object.keys(sum) as (keyof HostStats)[]) sum[k] += h.stats[k];
      }
      return sum;
    },
    instances(ip, className, now = Date.now()) {
      const cls = CLASSES.get(className.toLowerCase());
      if (!cls) throw new Error(`unknown class ${className}`);
      return cls.instances(state(ip).profile, now);
    },
    async close() {
      for (const l of listeners) {
        try {
          l.close();
        } catch { /* closed */ }
      }
      for (const c of ctx.conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.all(loops);
      await Promise.all(serving);
    },
  };
}

/** TCP 135 (or the port asked for); a free port when 135 needs privileges we lack. */
function listenRpc(ip: string, port: number | undefined): Deno.TcpListener {
  if (port !== undefined) return Deno.listen({ hostname: ip, port });
  try {
    return Deno.listen({ hostname: ip, port: 135 });
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    return Deno.listen({ hostname: ip, port: 0 });
  }
}

/** A port that was free a moment ago and has nothing listening on it now. */
function closedPort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * A real MIT Kerberos KDC (Debian krb5-kdc) with a throw-away realm for tests: database, stash,
 * kdc.conf, krb5.conf and logs live in a temp dir, the KDC listens on one free loopback port
 * (UDP and TCP), runs in the foreground as the test user, and never reads /etc/krb5.conf.
 *
 *   await using kdc = await startKdc();
 *   await kdc.addPrincipal("alice", "Passw0rd!");
 *   const svc = await kdc.addService("HTTP/win-01.nmslite.test");
 *   const cc = await kdc.kinit("alice", "Passw0rd!");
 *   await kdc.kvno("HTTP/win-01.nmslite.test", cc); // 1
 */
import { freeUdpTcpPort } from "./ports.ts";

export type Enctype = "aes256-cts-hmac-sha1-96" | "aes128-cts-hmac-sha1-96" | "rc4-hmac";

/** RFC 3961/3962/4757 enctype numbers, as they appear on the wire. */
export const ENCTYPE_NUMBER: Record<Enctype, number> = {
  "aes256-cts-hmac-sha1-96": 18,
  "aes128-cts-hmac-sha1-96": 17,
  "rc4-hmac": 23,
};

export interface KdcOptions {
  /** Default NMSLITE.TEST. */
  realm?: string;
  /** Listen on UDP / TCP (both by default). */
  udp?: boolean;
  tcp?: boolean;
  /** Replies larger than this over UDP become KRB_ERR_RESPONSE_TOO_BIG (MIT default 4096). */
  maxDgramReplySize?: number;
  /** The KDC's allowed clock skew in seconds (default 300). */
  clockSkewSeconds?: number;
}

export interface PrincipalOptions {
  /** Keys to create; default aes256 and aes128. Add "rc4-hmac" for the RC4 refusal tests. */
  enctypes?: Enctype[];
  /** Require pre-authentication (default true, as Active Directory does). */
  requiresPreauth?: boolean;
  /** The password expired in 2000: the AS-REQ gets KDC_ERR_KEY_EXPIRED. */
  pwExpired?: boolean;
  /** Lock the account after this many failed pre-authentications (60 s lockout). */
  lockAfter?: number;
}

export interface ServiceOptions {
  /** Derive the keys from this password (salt REALM+components) instead of random keys. */
  password?: string;
  enctypes?: Enctype[];
}

export interface PrincipalKey {
  /** RFC number: 18 aes256, 17 aes128, 23 rc4. */
  enctype: number;
  enctypeName: string;
  kvno: number;
  keyBytes: Uint8Array;
}

export interface Principal {
  /** Full name with realm, e.g. alice@NMSLITE.TEST. */
  principal: string;
  /** A keytab with the principal's current keys (exported without re-keying). */
  keytabPath: string;
  keys: PrincipalKey[];
}

/** One AS_REQ / TGS_REQ line of the KDC log. */
export interface KdcRequest {
  type: "AS_REQ" | "TGS_REQ";
  /** ISSUE, NEEDED_PREAUTH, PREAUTH_FAILED, LOCKED_OUT, CLIENT_NOT_FOUND, CLIENT_KEY_EXPIRED… */
  outcome: string;
  client: string;
  server: string;
  /** Enctype numbers the client offered, in its order. */
  etypes: number[];
}

export class KdcCommandError extends Error {
  constructor(readonly command: string, readonly code: number, readonly stderr: string) {
    super(`${command} exited ${code}: ${stderr.trim().split("\n").slice(-2).join(" / ")}`);
    this.name = "KdcCommandError";
  }
}

export interface Kdc extends AsyncDisposable {
  realm: string;
  host: string;
  /** UDP and TCP port (the same number). */
  port: number;
  /** The temp dir holding everything. */
  dir: string;
  krb5ConfPath: string;
  /** Env for MIT tools and python3-gssapi; add KRB5CCNAME per call (see envFor). */
  env: Record<string, string>;
  envFor(ccache: string): Record<string, string>;
  addPrincipal(name: string, password: string, opts?: PrincipalOptions): Promise<Principal>;
  addService(spn: string, opts?: ServiceOptions): Promise<Principal>;
  /** A fresh FILE ccache with a TGT; throws KdcCommandError (stderr has MIT's reason). */
  kinit(principal: string, password: string): Promise<string>;
  /** Gets a service ticket into the ccache; returns its kvno. */
  kvno(spn: string, ccache: string): Promise<number>;
  /** Any kadmin.local query (no passwords in it: they would show in the process list). */
  kadmin(query: string): Promise<string>;
  /** The AS_REQ / TGS_REQ lines the KDC logged so far. */
  requests(): Promise<KdcRequest[]>;
  log(): Promise<string>;
  /** Stop the KDC process (port left unanswered) and start it again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const KRB5KDC = "/usr/sbin/krb5kdc";
const KDB5_UTIL = "/usr/sbin/kdb5_util";
const KADMIN_LOCAL = "/usr/sbin/kadmin.local";

export async function startKdc(opts: KdcOptions = {}): Promise<Kdc> {
  const realm = opts.realm ?? "NMSLITE.TEST";
  const udp = opts.udp ?? true;
  const tcp = opts.tcp ?? true;
  const dir = await Deno.makeTempDir({ prefix: "nmslite-kdc-" });
  let port = await freeUdpTcpPort();
  const host = "127.0.0.1";
  const domain = realm.toLowerCase();
  const kdcConf = `${dir}/kdc.conf`;
  const krb5Conf = `${dir}/krb5.conf`;
  const logPath = `${dir}/kdc.log`;
  async function writeConfig() {
    const listen = `${host}:${port}`;
    const kdcLines = [
      "[kdcdefaults]",
      ` kdc_listen = ${udp ? listen : '""'}`,
      ` kdc_tcp_listen = ${tcp ? listen : '""'}`,
      ...(opts.maxDgramReplySize ? [` kdc_max_dgram_reply_size = ${opts.maxDgramReplySize}`] : []),
      "[realms]",
      ` ${realm} = {`,
      `  database_name = ${dir}/principal`,
      `  key_stash_file = ${dir}/stash`,
      `  acl_file = ${dir}/kadm5.acl`,
      "  master_key_type = aes256-cts-hmac-sha1-96",
      "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal",
      "  default_principal_flags = +preauth",
      "  max_life = 10h",
      "  max_renewable_life = 7d",
      " }",
      "[logging]",
      ` kdc = FILE:${logPath}`,
      ` admin_server = FILE:${dir}/kadmin.log`,
      ` default = FILE:${dir}/krb5lib.log`,
    ];
    const clientLines = [
      "[libdefaults]",
      ` default_realm = ${realm}`,
      " dns_lookup_kdc = false",
      " dns_lookup_realm = false",
      " dns_canonicalize_hostname = false",
      " rdns = false",
      ` clockskew = ${opts.clockSkewSeconds ?? 300}`,
      // MIT tools then go straight to TCP when the KDC has no UDP listener.
      ...(udp ? [] : [" udp_preference_limit = 1"]),
      "[realms]",
      ` ${realm} = {`,
      `  kdc = ${listen}`,
      " }",
      "[domain_realm]",
      ` .${domain} = ${realm}`,
      ` ${domain} = ${realm}`,
    ];
    await Deno.writeTextFile(kdcConf, kdcLines.join("\n") + "\n");
    await Deno.writeTextFile(krb5Conf, clientLines.join("\n") + "\n");
  }
  await writeConfig();
  await Deno.writeTextFile(`${dir}/kadm5.acl`, "");
  const env: Record<string, string> = {
    KRB5_CONFIG: krb5Conf,
    KRB5_KDC_PROFILE: kdcConf,
    KRB5RCACHEDIR: dir,
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: dir,
  };

  async function run(cmd: string, args: string[], stdin?: string, extraEnv = {}) {
    const child = new Deno.Command(cmd, {
      args,
      env: { ...env, ...extraEnv },
      clearEnv: true,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success) throw new KdcCommandError(cmd.split("/").pop()!, out.code, stderr + stdout);
    return { stdout, stderr };
  }

  const masterPassword = crypto.randomUUID();
  await run(KDB5_UTIL, ["create", "-s", "-r", realm, "-P", masterPassword]);

  async function kadmin(query: string): Promise<string> {
    const { stdout, stderr } = await run(KADMIN_LOCAL, ["-r", realm, "-q", query]);
    // kadmin.local exits 0 even when the query failed; its complaints start with the command.
    const failed = stderr.split("\n").find((l) =>
      /^(add_principal|ktadd|add_policy|modify_principal|change_password|get_principal|delete_principal|kadmin)/
        .test(l) && /:/.test(l)
    );
    if (failed) throw new KdcCommandError("kadmin.local", 1, failed);
    return stdout;
  }

  function quoted(password: string): string {
    if (/["\\\n]/.test(password)) throw new Error('test passwords may not contain " \\ or newline');
    return `"${password}"`;
  }

  const full = (name: string) => name.includes("@") ? name : `${name}@${realm}`;
  const keysalts = (e?: Enctype[]) => e ? ` -e ${e.map((x) => `${x}:normal`).join(",")}` : "";
  const policies = new Set<number>();
  let seq = 0;

  async function exportKeys(name: string): Promise<Principal> {
    const keytabPath = `${dir}/${name.replace(/[^\w.-]+/g, "_")}.keytab`;
    await Deno.remove(keytabPath).catch(() => {});
    await kadmin(`ktadd -norandkey -k ${keytabPath} ${full(name)}`);
    const { stdout } = await run("/usr/bin/klist", ["-kte", "-K", keytabPath]);
    const keys: PrincipalKey[] = [];
    for (const line of stdout.split("\n")) {
      const m = /^\s*(\d+)\s.*\((\S+)\)\s+\(0x([0-9a-f]+)\)\s*$/.exec(line);
      if (!m) continue;
      const raw = m[2].replace(/^DEPRECATED:/, "");
      const name = raw === "arcfour-hmac" ? "rc4-hmac" : raw;
      keys.push({
        enctype: ENCTYPE_NUMBER[name as Enctype] ?? -1,
        enctypeName: name,
        kvno: Number(m[1]),
        keyBytes: Uint8Array.from(m[3].match(/../g)!.map((h) => parseInt(h, 16))),
      });
    }
    return { principal: full(name), keytabPath, keys };
  }

  let proc: Deno.ChildProcess | undefined;
  let starts = 0;

  async function up(): Promise<void> {
    if (proc) return;
    starts++;
    proc = new Deno.Command(KRB5KDC, {
      args: ["-n", "-r", realm],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const status = proc.status;
    let exited = false;
    status.then(() => exited = true);
    // Ready when the log says so for this start (readiness wait, not a pass/fail timing).
    for (let i = 0; i < 500; i++) {
      const text = await Deno.readTextFile(logPath).catch(() => "");
      if ((text.match(/commencing operation/g) ?? []).length >= starts) return;
      if (exited) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const text = await Deno.readTextFile(logPath).catch(() => "");
    await down();
    throw new Error(`krb5kdc did not start: ${text.split("\n").slice(-5).join(" / ")}`);
  }

  async function down(): Promise<void> {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    try {
      p.kill("SIGTERM");
    } catch { /* already gone */ }
    await p.status;
  }

  // Another process may take the port between the probe and the KDC's bind: pick another.
  for (let attempt = 1;; attempt++) {
    try {
      await up();
      break;
    } catch (err) {
      if (attempt >= 5 || !/in use/i.test(String(err))) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw err;
      }
      port = await freeUdpTcpPort();
      await writeConfig();
    }
  }

  const kdc: Kdc = {
    realm,
    host,
    get port() {
      return port;
    },
    dir,
    krb5ConfPath: krb5Conf,
    env: { KRB5_CONFIG: krb5Conf, KRB5RCACHEDIR: dir },
    envFor: (ccache) => ({ KRB5_CONFIG: krb5Conf, KRB5RCACHEDIR: dir, KRB5CCNAME: ccache }),
    async addPrincipal(name, password, o = {}) {
      let flags = keysalts(o.enctypes);
      if (o.requiresPreauth === false) flags += " -requires_preauth";
      if (o.pwExpired) flags += ` -pwexpire "2000-01-01 00:00:00 UTC"`;
      if (o.lockAfter !== undefined) {
        const pol = `lock${o.lockAfter}`;
        if (!policies.has(o.lockAfter)) {
          await kadmin(
            `addpol -maxfailure ${o.lockAfter} -failurecountinterval 0 -lockoutduration 60 ${pol}`,
          );
          policies.add(o.lockAfter);
        }
        flags += ` -policy ${pol}`;
      } else {
        flags += " -clearpolicy";
      }
      await kadmin(`addprinc${flags} -pw ${quoted(password)} ${full(name)}`);
      return exportKeys(name);
    },
    async addService(spn, o = {}) {
      const key = o.password === undefined ? "-randkey" : `-pw ${quoted(o.password)}`;
      await kadmin(`addprinc -clearpolicy${keysalts(o.enctypes)} ${key} ${full(spn)}`);
      return exportKeys(spn);
    },
    async kinit(principal, password) {
      const ccache = `${dir}/cc-${++seq}`;
      await run("/usr/bin/kinit", [full(principal)], `${password}\n`, { KRB5CCNAME: ccache });
      return ccache;
    },
    async kvno(spn, ccache) {
      const { stdout } = await run("/usr/bin/kvno", [full(spn)], undefined, {
        KRB5CCNAME: ccache,
      });
      const m = /kvno = (\d+)/.exec(stdout);
      if (!m) throw new KdcCommandError("kvno", 0, stdout);
      return Number(m[1]);
    },
    kadmin,
    log: () => Deno.readTextFile(logPath),
    async requests() {
      const out: KdcRequest[] = [];
      for (const line of (await Deno.readTextFile(logPath)).split("\n")) {
        const m =
          /\b(AS_REQ|TGS_REQ) \(\d+ etypes \{(.*?)\}\) [^:]+: ([A-Z_ ]+):.*?(\S+) for (\S+?),?(?: |$)/
            .exec(line);
        if (!m) continue;
        out.push({
          type: m[1] as KdcRequest["type"],
          outcome: m[3].replaceAll(" ", "_"),
          client: m[4],
          server: m[5],
          etypes: [...m[2].matchAll(/\((\d+)\)/g)].map((x) => Number(x[1])),
        });
      }
      return out;
    },
    down,
    up,
    async stop() {
      await down();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
  return kdc;
}

/**
 * `deno task winrm -- --host H [--port P] [--https] [--tls-insecure | --tls-ca FILE |
 *    --tls-fingerprint SHA256] [--tls-servername NAME] --auth basic|ntlm|kerberos --user U
 *    [--domain D] --password-env VAR [--realm R] [--kdc HOST[:PORT],...] [--spn HTTP/name|reverse]
 *    [--allow-unencrypted] [--no-pipelining] [--namespace NS]
 *    [--max-elements N] [--max-items N] [--max-pulls N] [--timeout-ms MS]
 *    (--wql "SELECT ..." | --identify | --collect [--profile standard|extended|full]
 *    [--top-processes N] [--max-events N])`
 *
 * --tls-ca FILE pins a CA (the chain must lead to it and name the host) or the server's own
 * certificate (trusted as it is); --tls-fingerprint pins the server's certificate by its
 * SHA-256 fingerprint (hex, colons optional; several separated by commas); both may be given.
 * --no-pipelining sends --identify's and --collect's queries one at a time instead of
 * pipelined on one connection (to rule pipelining out when a host misbehaves). --max-items
 * and --max-pulls cap each enumeration (see lib/winrm/enumerate.ts for the defaults).
 *
 * --collect prints the metrics document a monitor with that collection profile stores (default
 * standard; lib/collectors/collection_profile.ts): extended adds services, top processes,
 * uptime, disk I/O, CPU per core and the page file, full adds the event log of the last hour.
 * A part the host cannot give is listed under "partial" instead of failing the poll.
 * --auth kerberos takes the user as user@REALM (or DOMAIN\user with --realm); without --kdc
 * the realm's KDCs come from DNS SRV records (_kerberos._tcp/_udp.REALM). The SPN is
 * HTTP/<--host> unless --spn names one ("reverse": the IP's reverse DNS name).
 *
 * Prints the result as JSON on stdout. On failure prints {"error":{kind, message, ...}} on
 * stderr and exits 1 (2 for bad usage). The password is read from an environment variable
 * so it never appears in the process list, and it is never printed.
 */
import { WinrmClient, WinrmError } from "../lib/winrm/mod.ts";
import { collectProfile, identify } from "../lib/collectors/windows_winrm.ts";
import {
  COLLECTION_PROFILES,
  MonitorConfig,
  resolveCollection,
} from "../lib/collectors/collection_profile.ts";

const FLAGS = new Set([
  "https",
  "tls-insecure",
  "allow-unencrypted",
  "no-pipelining",
  "identify",
  "collect",
  "help",
]);
const VALUES = new Set([
  "host",
  "port",
  "tls-ca",
  "tls-fingerprint",
  "tls-servername",
  "auth",
  "user",
  "domain",
  "password-env",
  "wql",
  "namespace",
  "max-elements",
  "max-items",
  "max-pulls",
  "timeout-ms",
  "profile",
  "top-processes",
  "max-events",
  "realm",
  "kdc",
  "spn",
]);

const USAGE = "usage: deno task winrm -- --host H [--port P] [--https] " +
  "[--tls-insecure | --tls-ca FILE | --tls-fingerprint SHA256] [--tls-servername NAME] " +
  "--auth basic|ntlm|kerberos --user U [--domain D] --password-env VAR [--realm R] " +
  "[--kdc HOST[:PORT],...] [--spn HTTP/name|reverse] [--allow-unencrypted] " +
  "[--no-pipelining] [--namespace NS] [--max-elements N] [--max-items N] [--max-pulls N] " +
  '[--timeout-ms MS] (--wql "SELECT ..." | --identify | --collect [--profile ' +
  `${COLLECTION_PROFILES.join("|")}] [--top-processes N] [--max-events N])`;

class UsageError extends Error {}

function parseArgs(argv: string[]): Map<string, string | true> {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(args[i])}`);
    const [, name, inline] = m;
    if (FLAGS.has(name)) out.set(name, true);
    else if (VALUES.has(name)) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      out.set(name, v);
    } else throw new UsageError(`unknown option --${name}`);
  }
  return out;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

async function main(): Promise<number> {
  let args: Map<string, string | true>;
  try {
    args = parseArgs(Deno.args);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.has("help")) {
    console.log(USAGE);
    return 0;
  }
  const str = (k: string) => (typeof args.get(k) === "string" ? args.get(k) as string : undefined);
  const missing = ["host", "auth", "user", "password-env"].filter((k) => !str(k));
  const actions = ["wql", "identify", "collect"].filter((k) => args.has(k));
  const auth = str("auth");
  if (
    missing.length || actions.length !== 1 ||
    (auth !== "basic" && auth !== "ntlm" && auth !== "kerberos")
  ) {
    const why = missing.length
      ? `missing --${missing.join(", --")}`
      : actions.length !== 1
      ? "give exactly one of --wql, --identify, --collect"
      : "--auth must be basic, ntlm or kerberos";
    console.error(`${why}\n${USAGE}`);
    return 2;
  }
  const password = Deno.env.get(str("password-env")!);
  if (password === undefined) {
    console.error(`environment variable ${str("password-env")} is not set`);
    return 2;
  }
  if (args.has("tls-insecure") && (str("tls-ca") || str("tls-fingerprint"))) {
    console.error(`--tls-insecure excludes --tls-ca and --tls-fingerprint\n${USAGE}`);
    return 2;
  }
  const counts: Record<string, number | undefined> = {};
  for (const k of ["max-elements", "max-items", "max-pulls", "timeout-ms"]) {
    if (str(k) === undefined) continue;
    const n = Number(str(k));
    if (!Number.isSafeInteger(n) || n < 0) {
      console.error(`--${k} must be a non-negative integer\n${USAGE}`);
      return 2;
    }
    counts[k] = n;
  }
  let caPem: string | undefined;
  if (str("tls-ca")) {
    try {
      caPem = await Deno.readTextFile(str("tls-ca")!);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "no such file"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : (err as Error).message;
      console.error(`cannot read the --tls-ca file ${JSON.stringify(str("tls-ca"))}: ${why}`);
      return 2;
    }
  }
  const config = MonitorConfig.safeParse({
    profile: str("profile"),
    top_processes: str("top-processes") === undefined ? undefined : Number(str("top-processes")),
    max_events: str("max-events") === undefined ? undefined : Number(str("max-events")),
  });
  if (!config.success) {
    const issue = config.error.issues[0];
    console.error(`--${String(issue.path[0]).replace("_", "-")}: ${issue.message}\n${USAGE}`);
    return 2;
  }
  const collection = resolveCollection(config.data);
  const fingerprints = str("tls-fingerprint")?.split(",").map((f) => f.trim()).filter(Boolean);
  const timeoutMs = counts["timeout-ms"] ?? 60_000;
  let client: WinrmClient | undefined;
  try {
    client = new WinrmClient({
      host: str("host")!,
      port: str("port") ? Number(str("port")) : undefined,
      https: args.has("https"),
      auth,
      username: str("user")!,
      password,
      domain: str("domain"),
      tls: {
        verify: args.has("tls-insecure")
          ? "insecure"
          : caPem !== undefined || fingerprints
          ? "pinned"
          : "system",
        caPem,
        fingerprints,
        servername: str("tls-servername"),
      },
      kerberos: auth === "kerberos"
        ? {
          realm: str("realm"),
          kdcs: str("kdc")?.split(",").map((k) => k.trim()).filter(Boolean),
          spn: str("spn"),
        }
        : undefined,
      allowUnencrypted: args.has("allow-unencrypted"),
      pipelining: !args.has("no-pipelining"),
      limits: { maxItems: counts["max-items"], maxPulls: counts["max-pulls"] },
      timeouts: { operationMs: timeoutMs },
    });
    const signal = AbortSignal.timeout(timeoutMs);
    const result = args.has("identify")
      ? await identify(client, signal)
      : args.has("collect")
      ? (await collectProfile(
        client,
        { ...collection, eventsSince: Date.now() - 3_600_000 },
        signal,
      ))
        .doc
      : await client.enumerate(str("wql")!, {
        namespace: str("namespace"),
        maxElements: counts["max-elements"],
        signal,
      });
    console.log(JSON.stringify(result, jsonReplacer, 2));
    return 0;
  } catch (err) {
    const e = err instanceof WinrmError
      ? err.toJSON()
      : { kind: "error", message: (err as Error)?.message ?? String(err) };
    console.error(JSON.stringify({ error: e }, jsonReplacer));
    return 1;
  } finally {
    client?.close();
  }
}

Deno.exit(await main());

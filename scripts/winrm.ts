/**
 * `deno task winrm -- --host H [--port P] [--https] [--tls-insecure | --tls-ca FILE]
 *    [--tls-servername NAME] --auth basic|ntlm --user U [--domain D] --password-env VAR
 *    [--allow-unencrypted] [--no-pipelining] [--namespace NS] [--max-elements N]
 *    [--timeout-ms MS] (--wql "SELECT ..." | --identify | --collect)`
 *
 * --no-pipelining sends --identify's and --collect's queries one at a time instead of
 * pipelined on one connection (to rule pipelining out when a host misbehaves).
 *
 * Prints the result as JSON on stdout. On failure prints {"error":{kind, message, ...}} on
 * stderr and exits 1 (2 for bad usage). The password is read from an environment variable
 * so it never appears in the process list, and it is never printed.
 */
import { WinrmClient } from "../lib/winrm/client.ts";
import { WinrmError } from "../lib/winrm/errors.ts";
import { collect, identify } from "../lib/collectors/windows_winrm.ts";

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
  "tls-servername",
  "auth",
  "user",
  "domain",
  "password-env",
  "wql",
  "namespace",
  "max-elements",
  "timeout-ms",
]);

const USAGE = "usage: deno task winrm -- --host H [--port P] [--https] " +
  "[--tls-insecure | --tls-ca FILE] [--tls-servername NAME] --auth basic|ntlm --user U " +
  "[--domain D] --password-env VAR [--allow-unencrypted] [--no-pipelining] [--namespace NS] " +
  '[--max-elements N] [--timeout-ms MS] (--wql "SELECT ..." | --identify | --collect)';

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
  if (missing.length || actions.length !== 1 || (auth !== "basic" && auth !== "ntlm")) {
    const why = missing.length
      ? `missing --${missing.join(", --")}`
      : actions.length !== 1
      ? "give exactly one of --wql, --identify, --collect"
      : "--auth must be basic or ntlm";
    console.error(`${why}\n${USAGE}`);
    return 2;
  }
  const password = Deno.env.get(str("password-env")!);
  if (password === undefined) {
    console.error(`environment variable ${str("password-env")} is not set`);
    return 2;
  }
  if (args.has("tls-insecure") && str("tls-ca")) {
    console.error(`--tls-insecure and --tls-ca exclude each other\n${USAGE}`);
    return 2;
  }
  const timeoutMs = Number(str("timeout-ms") ?? 60_000);
  let client: WinrmClient | undefined;
  try {
    const caPem = str("tls-ca") ? await Deno.readTextFile(str("tls-ca")!) : undefined;
    client = new WinrmClient({
      host: str("host")!,
      port: str("port") ? Number(str("port")) : undefined,
      https: args.has("https"),
      auth,
      username: str("user")!,
      password,
      domain: str("domain"),
      tls: {
        verify: args.has("tls-insecure") ? "insecure" : caPem ? "pinned" : "system",
        caPem,
        servername: str("tls-servername"),
      },
      allowUnencrypted: args.has("allow-unencrypted"),
      pipelining: !args.has("no-pipelining"),
      timeouts: { operationMs: timeoutMs },
    });
    const signal = AbortSignal.timeout(timeoutMs);
    const result = args.has("identify")
      ? await identify(client, signal)
      : args.has("collect")
      ? await collect(client, signal)
      : await client.enumerate(str("wql")!, {
        namespace: str("namespace"),
        maxElements: str("max-elements") ? Number(str("max-elements")) : undefined,
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

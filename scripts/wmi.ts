/**
 * `deno task wmi -- --host H --user U --password-env VAR [--domain D] [--namespace NS]
 *    [--port 135] [--timeout-ms MS] (--wql "SELECT ..." | --identify | --collect [--profile P])`
 *
 * WMI over DCOM (TCP 135 plus the host's dynamic RPC port), NTLM at packet privacy. Prints
 * the result as JSON on stdout. On failure prints {"error":{kind, message, ...}} on stderr
 * and exits 1 (2 for bad usage). The password is read from an environment variable so it
 * never appears in the process list, and it is never printed.
 */
import { parseArgs } from "node:util";
import { WmiClient, WmiError } from "../lib/wmi/mod.ts";
import { collectWmiProfile, identifyWmi } from "../lib/collectors/windows_wmi.ts";
import {
  COLLECTION_PROFILES,
  MonitorConfig,
  resolveCollection,
} from "../lib/collectors/collection_profile.ts";

const USAGE = "usage: deno task wmi -- --host H --user U --password-env VAR [--domain D] " +
  '[--namespace NS] [--port 135] [--timeout-ms MS] (--wql "SELECT ..." | --identify | --collect ' +
  `[--profile ${COLLECTION_PROFILES.join("|")}])`;

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

async function main(): Promise<number> {
  let values;
  try {
    const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        host: { type: "string" },
        user: { type: "string" },
        "password-env": { type: "string" },
        domain: { type: "string" },
        namespace: { type: "string" },
        port: { type: "string" },
        "timeout-ms": { type: "string" },
        wql: { type: "string" },
        identify: { type: "boolean" },
        collect: { type: "boolean" },
        profile: { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = MonitorConfig.safeParse(values.profile ? { profile: values.profile } : {});
  if (!config.success) {
    console.error(`--profile is one of ${COLLECTION_PROFILES.join(", ")}\n${USAGE}`);
    return 2;
  }
  const collection = resolveCollection(config.data);
  const missing = ["host", "user", "password-env"].filter((k) => !values[k as "host"]);
  const actions = ["wql", "identify", "collect"].filter((k) => values[k as "wql"] !== undefined);
  if (missing.length || actions.length !== 1) {
    console.error(
      `${
        missing.length
          ? `missing --${missing.join(", --")}`
          : "give exactly one of --wql, --identify, --collect"
      }\n${USAGE}`,
    );
    return 2;
  }
  const password = Deno.env.get(values["password-env"]!);
  if (password === undefined) {
    console.error(`environment variable ${values["password-env"]} is not set`);
    return 2;
  }
  const num = (k: "port" | "timeout-ms") => {
    if (values[k] === undefined) return undefined;
    const n = Number(values[k]);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${k} must be a positive integer`);
    return n;
  };
  let port, timeout;
  try {
    port = num("port");
    timeout = num("timeout-ms");
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const client = new WmiClient({
    host: values.host!,
    port,
    username: values.user!,
    password,
    domain: values.domain,
    namespace: values.namespace,
    timeouts: timeout ? { connectMs: timeout, callMs: timeout } : undefined,
  });
  try {
    const result = values.wql !== undefined
      ? await client.query(values.wql)
      : values.identify
      ? await identifyWmi(client)
      : (await collectWmiProfile(client, collection)).doc;
    console.log(JSON.stringify(result, jsonReplacer, 2));
    return 0;
  } catch (err) {
    const error = err instanceof WmiError
      ? err.toJSON()
      : { kind: "unexpected", message: (err as Error).message };
    console.error(JSON.stringify({ error }));
    return 1;
  } finally {
    await client.close();
  }
}

Deno.exit(await main());

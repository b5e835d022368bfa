/**
 * `deno task winsim -- --hosts N [--base 127.0.10.1] [--user U] [--password-env VAR]
 *   [--http-port 5985] [--https-port 5986 | --no-https] [--rpc-port 135]
 *   [--tcp-only LIST | --tcp-only-file F] [--faults "ip=hang,ip=slow:500"] [--no-basic]
 *   [--encrypted-only] [--cbt-hardening relaxed|strict|none] [--no-spnego] [--spnego-always]
 *   [--max-batch-items 32000] [--control-port 0] [--keytab FILE [--spn HTTP/name]] [--no-wmi]`
 *
 * With --keytab the hosts also accept Kerberos (Negotiate) tickets for the keytab's SPN.
 *
 * Serves simulated Windows hosts until SIGINT/SIGTERM. Prints one JSON ready line on stdout:
 * {"ready":true,"hosts":[…],"tcpOnly":[…],"httpPort":…,"httpsPort":…,"control":"http://…",…}.
 */
import { X509Certificate } from "node:crypto";
import { parseArgs } from "node:util";
import { serveControl } from "./control.ts";
import { DEFAULT_USER, parseFaultSpec, type SimFault, startWinsim } from "./mod.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const { values } = parseArgs({
  args: argv,
  options: {
    hosts: { type: "string", default: "1" },
    base: { type: "string", default: "127.0.10.1" },
    user: { type: "string", default: DEFAULT_USER },
    "password-env": { type: "string", default: "WINSIM_PASSWORD" },
    "http-port": { type: "string", default: "5985" },
    "https-port": { type: "string", default: "5986" },
    "no-https": { type: "boolean", default: false },
    "rpc-port": { type: "string" },
    "tcp-only": { type: "string" },
    "tcp-only-file": { type: "string" },
    faults: { type: "string" },
    "no-basic": { type: "boolean", default: false },
    "encrypted-only": { type: "boolean", default: false },
    "cbt-hardening": { type: "string", default: "relaxed" },
    "no-spnego": { type: "boolean", default: false },
    "spnego-always": { type: "boolean", default: false },
    "control-port": { type: "string", default: "0" },
    "max-batch-items": { type: "string", default: "32000" },
    keytab: { type: "string" },
    spn: { type: "string" },
    "no-wmi": { type: "boolean", default: false },
  },
});

const int = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
};

const tcpOnly = [
  ...(values["tcp-only"]?.split(",") ?? []),
  ...(values["tcp-only-file"]
    ? (await Deno.readTextFile(values["tcp-only-file"])).split(/[\s,]+/)
    : []),
].map((s) => s.trim()).filter(Boolean);

const passwordVar = values["password-env"]!;
const password = Deno.env.get(passwordVar);
const faults: Record<string, SimFault> = Object.fromEntries(parseFaultSpec(values.faults ?? ""));

const cbt = values["cbt-hardening"]!;
if (cbt !== "relaxed" && cbt !== "strict" && cbt !== "none") {
  throw new Error("--cbt-hardening must be relaxed, strict or none");
}

const sim = await startWinsim({
  hosts: int("hosts", values.hosts!),
  base: values.base,
  username: values.user,
  password: password ?? "Passw0rd!",
  httpPort: int("http-port", values["http-port"]!),
  httpsPort: values["no-https"] ? null : int("https-port", values["https-port"]!),
  rpcPort: values["rpc-port"] ? int("rpc-port", values["rpc-port"]) : undefined,
  basic: !values["no-basic"],
  allowUnencrypted: !values["encrypted-only"],
  cbtHardening: cbt,
  spnego: !values["no-spnego"],
  spnegoAlways: values["spnego-always"],
  tcpOnly,
  faults,
  maxBatchItems: int("max-batch-items", values["max-batch-items"]!) || 1,
  kerberos: values.keytab
    ? { keytab: await Deno.readFile(values.keytab), spn: values.spn }
    : undefined,
  wmi: !values["no-wmi"],
});
const control = serveControl(sim, int("control-port", values["control-port"]!));

const mem = Deno.memoryUsage();
console.log(JSON.stringify({
  ready: true,
  pid: Deno.pid,
  hosts: sim.hosts.map((h) => h.ip),
  tcpOnly: sim.tcpOnly.map((h) => h.ip),
  // With port 0 every listener has its own port; see the per-host lists then.
  httpPort: sim.hosts[0]?.httpPort ?? null,
  httpsPort: sim.hosts[0]?.httpsPort ?? null,
  rpcPort: sim.hosts[0]?.rpcPort ?? null,
  wmiPorts: sim.hosts.some((h) => h.wmiPort !== null)
    ? sim.hosts.map((h) => [h.ip, h.wmiPort])
    : undefined,
  ports: values["http-port"] === "0" || values["https-port"] === "0"
    ? sim.hosts.map((h) => [h.ip, h.httpPort, h.httpsPort])
    : undefined,
  user: sim.username,
  // The password itself is never printed, only where it came from.
  passwordFrom: password === undefined ? "default" : `env ${passwordVar}`,
  control: `http://127.0.0.1:${control.addr.port}`,
  certificateSha256: new X509Certificate(sim.certificatePem).fingerprint256,
  rssMB: Math.round(mem.rss / 1048576),
}));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await control.shutdown();
  await sim.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

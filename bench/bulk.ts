/**
 * `deno task bench:bulk [-- --monitors 10000]`: what one `PATCH /monitors` enabling (then
 * disabling) a whole fleet costs the running server. Seeds devices and monitors (disabled, on
 * addresses nothing answers, a 1-hour interval) through the API, then times the PATCH, how long
 * until the scheduler holds every monitor (`nmslite_scheduler_monitors` in /metrics, which the
 * server refreshes every 5 s: the figure's resolution), and the worst `GET /health` latency
 * seen by a probe every 50 ms meanwhile: how long the server's main thread (API, writer,
 * result queue) was kept from answering. PostgreSQL when TEST_DATABASE_URL is set (a scratch
 * database, dropped after), the embedded PGlite otherwise.
 */
import { startChildServer } from "../scripts/child_server.ts";
import { eachConcurrently, login } from "./fleet_seed.ts";
import { createScratchDatabase } from "../tests/helpers/databases.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const at = argv.indexOf("--monitors");
const N = at >= 0 ? Number(argv[at + 1]) : 10_000;
if (!Number.isInteger(N) || N < 1 || N > 10_000) {
  throw new Error("--monitors takes 1 to 10,000 (one PATCH)");
}

const scratch = Deno.env.get("TEST_DATABASE_URL")
  ? await createScratchDatabase("nmslite_bench_bulk")
  : null;
const server = await startChildServer({ databaseUrl: scratch?.url });
try {
  const api = await login(server);
  const cred = await api.call("POST", "/credential-profiles", {
    name: "bulk",
    type: "winrm_ntlm",
    username: "Administrator",
    password: "not-used-here",
    port: 5985,
    use_ssl: false,
  });
  const plugins = await api.call("GET", "/plugins?limit=500");
  const plugin = plugins.json.data.find((p: { name: string }) => p.name === "windows-winrm");
  const ids: number[] = new Array(N);
  await eachConcurrently(Array.from({ length: N }, (_, i) => i), 16, async (i) => {
    // loopback addresses nothing listens on: the few polls due in the hour fail at once
    const ip = `127.3.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const dev = await api.call("POST", "/devices", { ip, hostname: `bulk-${i}` });
    if (dev.status !== 201) throw new Error(`POST /devices: HTTP ${dev.status}`);
    const mon = await api.call("POST", "/monitors", {
      device_id: dev.json.data.id,
      credential_profile_id: cred.json.data.id,
      plugin_id: plugin.id,
      polling_interval: 3600,
      enabled: false,
    });
    if (mon.status !== 201) throw new Error(`POST /monitors: HTTP ${mon.status}`);
    ids[i] = mon.json.data.id;
  });
  const scheduled = async () => {
    const res = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${api.token}` },
    });
    return Number(/^nmslite_scheduler_monitors (\d+)/m.exec(await res.text())?.[1] ?? -1);
  };
  const until = async (done: (n: number) => boolean) => {
    while (!done(await scheduled())) await new Promise((r) => setTimeout(r, 100));
  };
  let worst = 0, probes = 0, probing = true;
  const prober = (async () => {
    while (probing) {
      const t = performance.now();
      await (await fetch(`${server.url}/health`)).body?.cancel();
      worst = Math.max(worst, performance.now() - t);
      probes++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const row = async (enabled: boolean) => {
    worst = 0;
    probes = 0;
    const t = performance.now();
    const r = await api.call("PATCH", "/monitors", { ids, enabled });
    if (r.status !== 200) throw new Error(`PATCH /monitors: HTTP ${r.status}`);
    const answered = performance.now() - t;
    await until((n) => enabled ? n >= N : n === 0);
    return [
      enabled ? "enable" : "disable",
      answered.toFixed(0),
      ((performance.now() - t) / 1000).toFixed(1),
      worst.toFixed(0),
      String(probes),
    ];
  };
  const rows = [await row(true), await row(false)];
  probing = false;
  await prober;
  console.log(
    `bench:bulk: ${N} monitors, ${scratch ? "PostgreSQL" : "PGlite"}, one PATCH /monitors each way`,
  );
  console.log(
    "| change | PATCH answered (ms) | scheduler followed (s, ±5) | worst /health (ms) | probes |",
  );
  console.log("|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
} finally {
  await server.stop();
  await scratch?.drop();
}

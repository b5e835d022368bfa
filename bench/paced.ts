/**
 * `deno task bench:paced [-- --hosts 2000 --rate 83 --seconds 20 --ticks 10,100,250,500]`
 *
 * What a poll costs the WinRM client when polls come at a fixed rate, as a scheduler fires them,
 * rather than back to back as bench:winrm runs them. NTLM over HTTP (sealed) against the
 * simulator (a separate process), one kept-alive connection per host, the hosts polled in turn:
 * first back to back (one at a time), then at `--rate` polls a second started in bursts every
 * tick of `--ticks` ms (a 10 ms tick starts them almost one by one; a 500 ms tick starts ~40
 * together). Reported: client CPU ms per poll, and the kernel's part of it.
 *
 * Why it exists: at a fleet's moderate rates a poll cost NMSlite several times what bench:winrm
 * measures, and most of the difference is not the work but waking up for it (threads, the
 * peer, cold caches); this shows how much, and what starting due polls together saves (the
 * scheduler's slots, lib/scheduling/scheduler.ts PHASE_RESOLUTION_MS).
 */
import process from "node:process";
import { WinrmClient } from "../lib/winrm/client.ts";
import { collect, identify } from "../lib/collectors/windows_winrm.ts";
import { startSimulator } from "./fleet_procs.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const HOSTS = Number(option("hosts", "2000"));
const RATE = Number(option("rate", "83"));
const SECONDS = Number(option("seconds", "20"));
const TICKS = option("ticks", "10,100,250,500").split(",").map(Number);
const PASSWORD = "Bench-Passw0rd!";

const logDir = await Deno.makeTempDir({ prefix: "nmslite-paced-" });
const sim = await startSimulator({ hosts: HOSTS, base: "127.0.50.1", password: PASSWORD, logDir });
const clients = sim.hosts.map((host) =>
  new WinrmClient({
    host,
    port: 5985,
    https: false,
    auth: "ntlm",
    username: "Administrator",
    password: PASSWORD,
  })
);
for (let i = 0; i < clients.length; i += 100) {
  await Promise.all(clients.slice(i, i + 100).map((c) => identify(c)));
}
let next = 0;
const poll = () => collect(clients[next++ % clients.length]);

/** Client CPU per poll over SECONDS of `run`, which resolves with the number of polls. */
async function measure(run: () => Promise<number>) {
  const cpu0 = process.cpuUsage();
  const polls = await run();
  const cpu = process.cpuUsage(cpu0);
  return { polls, ms: (cpu.user + cpu.system) / 1000 / polls, kernelMs: cpu.system / 1000 / polls };
}

const backToBack = async () => {
  let polls = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    await poll();
    polls++;
  }
  return polls;
};

const paced = (tickMs: number) => () =>
  new Promise<number>((resolve) => {
    let polls = 0, owed = 0, last = performance.now();
    const inFlight = new Set<Promise<void>>();
    const start = last;
    const timer = setInterval(() => {
      const now = performance.now();
      owed += (now - last) / 1000 * RATE;
      last = now;
      for (; owed >= 1; owed--) {
        const p: Promise<void> = poll().then(() => {
          polls++;
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      if (now - start >= SECONDS * 1000) {
        clearInterval(timer);
        Promise.all(inFlight).then(() => resolve(polls));
      }
    }, tickMs);
  });

await measure(backToBack); // warm-up: V8 tiers the code up
const rows: [string, Awaited<ReturnType<typeof measure>>][] = [];
rows.push(["back to back", await measure(backToBack)]);
for (const tick of TICKS) {
  rows.push([`${RATE}/s, a burst every ${tick} ms`, await measure(paced(tick))]);
}

console.log(`bench:paced: NTLM over HTTP, ${HOSTS} hosts polled in turn, ${SECONDS} s a row`);
console.log("| polls started | polls | client CPU ms/poll | of it in the kernel |");
console.log("|---|---|---|---|");
for (const [name, r] of rows) {
  console.log(`| ${name} | ${r.polls} | ${r.ms.toFixed(3)} | ${r.kernelMs.toFixed(3)} |`);
}
for (const c of clients) c.close();
await sim.stop();
await Deno.remove(logDir, { recursive: true });

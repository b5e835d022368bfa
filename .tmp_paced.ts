import process from "node:process";
import { WinrmClient } from "./lib/winrm/client.ts";
import { collect, identify } from "./lib/collectors/windows_winrm.ts";
const H = Number(Deno.args[0] ?? 2000), MODE = Deno.args[1] ?? "paced", RATE = Number(Deno.args[2] ?? 83);
const PASSWORD = "Sim-Passw0rd!", USER = "Administrator";
const port = 20000 + Math.floor(Math.random() * 20000);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "winsim/main.ts", "--hosts", String(H), "--base", "127.0.30.1", "--http-port", String(port), "--https-port", String(port + 1)],
  env: { WINSIM_PASSWORD: PASSWORD }, stdout: "piped", stderr: "inherit",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let buf = ""; while (!buf.includes("\n")) { const { value } = await reader.read(); buf += value; }
import { hostAddresses } from "./winsim/hosts.ts";
const addrs = hostAddresses("127.0.30.1", H); const ip = (i: number) => addrs[i];
const clients = Array.from({ length: H }, (_, i) => new WinrmClient({ host: ip(i), port, https: false, auth: "ntlm", username: USER, password: PASSWORD }));
for (let i = 0; i < H; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => identify(c)));
// warm
const warmEnd = performance.now() + 5000; let k = 0;
while (performance.now() < warmEnd) await collect(clients[k++ % H]);
let polls = 0; const cpu0 = process.cpuUsage(); const t0 = performance.now(); const SECS = 20;
if (MODE === "tight") {
  while (performance.now() - t0 < SECS * 1000) { await collect(clients[k++ % H]); polls++; }
} else {
  await new Promise<void>((done) => {
    let owed = 0; let last = performance.now();
    const iv = setInterval(() => {
      const now = performance.now(); owed += (now - last) / 1000 * RATE; last = now;
      while (owed >= 1) { owed--; collect(clients[k++ % H]).then(() => polls++); }
      if (now - t0 > SECS * 1000) { clearInterval(iv); setTimeout(done, 500); }
    }, Number(Deno.args[3] ?? 10));
  });
}
const cpu = process.cpuUsage(cpu0);
console.log(`cpu ms/s ${((cpu.user + cpu.system) / 1000 / SECS).toFixed(1)}; ${MODE} hosts=${H} rate=${MODE === "tight" ? "max" : RATE}: ${polls} polls, ${((cpu.user + cpu.system) / 1000 / polls).toFixed(3)} ms/poll (kernel ${(cpu.system / 1000 / polls).toFixed(3)})`);
for (const c of clients) c.close();
child.kill(); await child.status; Deno.exit(0);

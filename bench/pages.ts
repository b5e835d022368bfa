/**
 * `deno task bench:pages`: server render time of the overview and a device page, and the gzip
 * size of the JavaScript each page loads. Seeds an embedded database (DATABASE_URL to use
 * PostgreSQL) with 200 devices, one monitor each and a day of one-minute metrics, then renders
 * each page N times in process (app.fetch with the session cookie, body read in full).
 *
 *   deno task bench:pages [-- --devices 200 --minutes 1440 --runs 300 --screenshots docs]
 *
 * --screenshots DIR also photographs a device page (24 h of the seeded history) in Chromium
 * for the README (docs/dashboard-device.png).
 */
import { loadConfig } from "../lib/config.ts";
import { compose } from "../lib/compose.ts";
import { createApp } from "../routes/app.ts";

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
function option(name: string, fallback: string): number {
  const i = args.indexOf(`--${name}`);
  const v = Number(i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback);
  if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
  return v;
}
const DEVICES = option("devices", "200");
const MINUTES = option("minutes", "1440");
const RUNS = option("runs", "300");
const SHOTS = args.includes("--screenshots") ? args[args.indexOf("--screenshots") + 1] : null;
const TARGET = { p95Ms: 20, jsGzipKb: 120 };
const PASSWORD = "bench-password-1";

const dataDir = await Deno.makeTempDir({ prefix: "nmslite-bench-pages-" });
const config = loadConfig([], {
  NMSLITE_DATA_DIR: dataDir,
  NMSLITE_ADMIN_PASSWORD: PASSWORD,
  NMSLITE_LOG_LEVEL: "error",
  ...(Deno.env.get("DATABASE_URL") ? { DATABASE_URL: Deno.env.get("DATABASE_URL")! } : {}),
});
const ctx = await compose(config);
const app = createApp(ctx, { bodyLimitBytes: ctx.config.server.body_limit_bytes });
const ORIGIN = "http://bench.local";

async function seed(): Promise<number> {
  const db = ctx.db;
  await db.query(
    `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('bench', 'winrm_ntlm', 'u', 'v1:x:y', 5985)`,
  );
  await db.query(
    `INSERT INTO devices (ip, hostname, os, status, last_seen)
     SELECT ('127.78.' || (g / 250) || '.' || (g % 250 + 1))::inet, 'BENCH-' || g,
       'Microsoft Windows Server 2022', 'monitoring', now()
     FROM generate_series(0, $1 - 1) g`,
    [DEVICES],
  );
  await db.query(
    `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval, enabled,
       last_polled, last_attempted)
     SELECT d.id, c.id, p.id, 60, true, date_trunc('minute', now()), date_trunc('minute', now())
     FROM devices d, credential_profiles c, plugins p
     WHERE c.name = 'bench' AND p.name = 'windows-winrm'`,
  );
  // One row per monitor per minute over the last day; a few monitors at a time keeps each
  // statement small for the embedded database.
  const ids = (await db.query<{ id: number }>("SELECT id FROM monitors ORDER BY id")).map((r) =>
    r.id
  );
  for (let i = 0; i < ids.length; i += 20) {
    await db.query(
      `INSERT INTO metrics (monitor_id, ts, cpu_percent, memory_total, memory_used, disk_total,
         disk_used, net_sent_bps, net_recv_bps, process_count, volumes, interfaces)
       SELECT m, date_trunc('minute', now()) - make_interval(mins => g),
         greatest(0, least(100, 35 + 25 * sin(g / 90.0 + m) + 10 * random())),
         34359738368, (17179869184 + 4294967296 * sin(g / 240.0 + m))::bigint,
         1000000000000, (400000000000 + m::bigint * 1000000000 - g::bigint * 20000000),
         2000000 + 1500000 * sin(g / 45.0 + m) + 500000 * random(),
         3000000 + 2000000 * sin(g / 60.0 + m) + 800000 * random(), 90 + g % 20,
         '[{"name":"C:","total":500000000000,"used":200000000000},
           {"name":"D:","total":500000000000,"used":300000000000}]'::jsonb,
         '[{"name":"eth0","sentBps":1000000,"recvBps":2000000,"packetsSent":1,"packetsRecv":1,
            "errors":0,"discards":0,"bandwidthBps":1000000000}]'::jsonb
       FROM unnest($1::int[]) m, generate_series(0, $2 - 1) g`,
      [ids.slice(i, i + 20), MINUTES],
    );
  }
  return ids[0];
}

async function cookieJar(): Promise<string> {
  const res = await app.fetch(
    new Request(`${ORIGIN}/login`, {
      method: "POST",
      headers: { origin: ORIGIN },
      body: new URLSearchParams({ username: "admin", password: PASSWORD, next: "/" }),
    }),
  );
  await res.body?.cancel();
  if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
  return res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Every module the page's <script type="module"> tags load, followed through their imports. */
async function pageJs(html: string): Promise<{ files: number; raw: number; gzip: number }> {
  const queue = [...html.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]);
  const seen = new Set<string>();
  let raw = 0;
  let gzip = 0;
  while (queue.length) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await app.fetch(new Request(`${ORIGIN}${url}`));
    const body = new Uint8Array(await res.arrayBuffer());
    raw += body.length;
    gzip += await gzipSize(body);
    const dir = url.slice(0, url.lastIndexOf("/"));
    for (const m of new TextDecoder().decode(body).matchAll(/(?:from|import)\s*"\.\/([^"]+)"/g)) {
      queue.push(`${dir}/${m[1]}`);
    }
  }
  return { files: seen.size, raw, gzip };
}

async function bench(path: string, cookie: string) {
  const get = async () => {
    const res = await app.fetch(new Request(`${ORIGIN}${path}`, { headers: { cookie } }));
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
    return text;
  };
  const html = await get(); // also builds the island bundle on first use
  for (let i = 0; i < 20; i++) await get();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await get();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), js: await pageJs(html) };
}

/** Serves the app on loopback and photographs a device page's 24 h charts. */
async function screenshot(dir: string, deviceId: number): Promise<void> {
  const { launchChromium } = await import("../tests/e2e/browser/chromium.ts");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const chromium = await launchChromium();
  try {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${url}/login`);
    await page.getByLabel("Username", { exact: true }).fill("admin");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${url}/`);
    await page.goto(`${url}/devices/${deviceId}`);
    await page.getByRole("button", { name: "24h" }).click();
    await page.waitForFunction(() =>
      Number(document.querySelector("section.charts")?.getAttribute("data-points")) > 100
    );
    await Deno.mkdir(dir, { recursive: true });
    await page.screenshot({ path: `${dir}/dashboard-device.png`, fullPage: true });
    console.log(`screenshot: ${dir}/dashboard-device.png`);
  } finally {
    await chromium.close();
    await server.shutdown();
  }
}

try {
  const t0 = performance.now();
  const monitorId = await seed();
  const [{ device_id }] = await ctx.db.query<{ device_id: number }>(
    "SELECT device_id FROM monitors WHERE id = $1",
    [monitorId],
  );
  console.log(
    `seeded ${DEVICES} devices, ${DEVICES} monitors, ${DEVICES * MINUTES} metric rows ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s (${
        ctx.config.database.url ? "PostgreSQL" : "PGlite"
      })`,
  );
  const cookie = await cookieJar();
  console.log(`\npage              p50 ms   p95 ms   JS files   JS raw KB   JS gzip KB`);
  let ok = true;
  for (
    const [label, path] of [["overview /", "/"], [
      `device /devices/${device_id}`,
      `/devices/${device_id}`,
    ]]
  ) {
    const r = await bench(path, cookie);
    ok &&= r.p95 < TARGET.p95Ms && r.js.gzip / 1024 < TARGET.jsGzipKb;
    console.log(
      `${label.padEnd(17)} ${r.p50.toFixed(2).padStart(6)}   ${r.p95.toFixed(2).padStart(6)}   ` +
        `${String(r.js.files).padStart(8)}   ${(r.js.raw / 1024).toFixed(1).padStart(9)}   ` +
        `${(r.js.gzip / 1024).toFixed(1).padStart(10)}`,
    );
  }
  console.log(
    `\ntargets: render p95 < ${TARGET.p95Ms} ms, page JavaScript < ${TARGET.jsGzipKb} KB gzip: ` +
      (ok ? "met" : "NOT met"),
  );
  if (SHOTS) await screenshot(SHOTS, device_id);
} finally {
  await ctx.db.close();
  await Deno.remove(dataDir, { recursive: true });
}

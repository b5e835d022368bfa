/**
 * A real Alertmanager (Debian's prometheus-alertmanager) for tests: its own config and storage
 * in a temp dir, the API on a free loopback port, clustering off. With `basicAuth` it serves
 * through a web config that requires that user (bcrypt hash, as Alertmanager expects).
 */
import bcrypt from "bcryptjs";
import { freePort } from "./ports.ts";

export const ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager";

export interface Alertmanager {
  url: string;
  /** GET /api/v2/alerts (active ones only, as Alertmanager reports them) */
  alerts(): Promise<AlertmanagerAlertView[]>;
  close(): Promise<void>;
}

export interface AlertmanagerAlertView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

const CONFIG = `route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
`;

export async function startAlertmanager(
  opts: { basicAuth?: { username: string; password: string } } = {},
): Promise<Alertmanager> {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-am-" });
  await Deno.writeTextFile(`${dir}/alertmanager.yml`, CONFIG);
  const port = await freePort();
  const args = [
    `--config.file=${dir}/alertmanager.yml`,
    `--storage.path=${dir}/data`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--cluster.listen-address=",
    "--log.level=warn",
  ];
  const auth = opts.basicAuth;
  if (auth) {
    const hash = bcrypt.hashSync(auth.password, 4);
    await Deno.writeTextFile(
      `${dir}/web.yml`,
      `basic_auth_users:\n  ${auth.username}: ${JSON.stringify(hash)}\n`,
    );
    args.push(`--web.config.file=${dir}/web.yml`);
  }
  const log = await Deno.open(`${dir}/log`, { write: true, create: true });
  const child = new Deno.Command(ALERTMANAGER_BIN, {
    args,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logging = child.stderr.pipeTo(log.writable).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const headers: Record<string, string> = auth
    ? { authorization: `Basic ${btoa(`${auth.username}:${auth.password}`)}` }
    : {};

  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await logging;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  // wait until it answers (bounded: a broken install fails here with its log)
  let ready = false;
  for (let i = 0; i < 200 && !ready; i++) {
    try {
      const r = await fetch(`${url}/-/ready`, { headers });
      await r.body?.cancel();
      ready = r.ok;
    } catch { /* not listening yet */ }
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  if (!ready) {
    const text = await Deno.readTextFile(`${dir}/log`).catch(() => "");
    await close();
    throw new Error(`alertmanager did not become ready:\n${text}`);
  }
  return {
    url,
    async alerts() {
      const r = await fetch(`${url}/api/v2/alerts`, { headers });
      if (!r.ok) throw new Error(`GET /api/v2/alerts: ${r.status} ${await r.text()}`);
      return await r.json();
    },
    close,
  };
}

/**
 * The main job as a user runs it: `deno run main.ts` in a fresh data directory.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "./helpers/assert.ts";
import { freePort } from "./helpers/ports.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

interface Running {
  port: number;
  stderr: () => string;
  stop(): Promise<void>;
}

async function start(dataDir: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    env: {
      NMSLITE_DATA_DIR: dataDir,
      NMSLITE_SERVER_PORT: String(port),
      NMSLITE_SERVER_HOST: "127.0.0.1",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // stderr has the banner, stdout the JSON log lines: the test reads both as one text
  let err = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (
      const chunk of stream.pipeThrough(
        new TextDecoderStream() as TransformStream<Uint8Array, string>,
      )
    ) err += chunk;
  };
  const pump = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const deadline = Date.now() + 60_000;
  while (!err.includes("listening on")) {
    if (Date.now() > deadline) throw new Error(`server did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    stderr: () => err,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await pump;
    },
  };
}

async function runToExit(dataDir: string, env: Record<string, string>, args: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NMSLITE_DATA_DIR: dataDir, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name:
    "start: first start creates secrets, certificate and admin; HTTPS serves; restart keeps them",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "nmslite-start-" });
    try {
      const refused = await runToExit(dataDir, { NMSLITE_SERVER_PORT: String(await freePort()) });
      assertEquals(refused.code, 1);
      assertMatch(refused.stderr, /NMSLITE_ADMIN_PASSWORD/);

      const badPort = await runToExit(dataDir, { NMSLITE_SERVER_PORT: "0" });
      assertEquals(badPort.code, 2);
      assertMatch(badPort.stderr, /server\.port/);

      const first = await start(dataDir, { NMSLITE_ADMIN_PASSWORD: "first-admin-pass" });
      const fingerprint = /fingerprint: ([0-9A-F:]{95})/.exec(first.stderr())?.[1];
      assert(fingerprint, "fingerprint printed");
      for (const f of ["jwt.secret", "master.key", "tls.key"]) {
        assertEquals((await Deno.stat(`${dataDir}/${f}`)).mode! & 0o777, 0o600, f);
      }
      const cert = await Deno.readTextFile(`${dataDir}/tls.crt`);
      const client = Deno.createHttpClient({ caCerts: [cert] });
      const health = await fetch(`https://localhost:${first.port}/health`, { client });
      assertEquals(health.status, 200);
      assertEquals((await health.json()).data.database.kind, "pglite");
      const login = await fetch(`https://localhost:${first.port}/api/v1/auth/login`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "first-admin-pass" }),
      });
      assertEquals(login.status, 200);
      const token = (await login.json()).data.access_token;
      const created = await fetch(`https://localhost:${first.port}/api/v1/credential-profiles`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          name: "c",
          type: "winrm_ntlm",
          username: "u",
          password: "rotate-me-please",
        }),
      });
      assertEquals(created.status, 201);
      await first.stop();
      assert(!first.stderr().includes("first-admin-pass"), "no password in the log");

      // restart: no admin password needed now, same certificate, same secrets; then rotate
      const oldKey = (await Deno.readTextFile(`${dataDir}/master.key`)).trim();
      const newKey = "ab".repeat(32);
      const second = await start(dataDir, {
        NMSLITE_MASTER_KEY: newKey,
        NMSLITE_MASTER_KEY_PREVIOUS: oldKey,
      });
      assertEquals(/fingerprint: ([0-9A-F:]{95})/.exec(second.stderr())?.[1], fingerprint);
      assertMatch(second.stderr(), /re-sealed 1 secrets/);
      assert(!second.stderr().includes(newKey) && !second.stderr().includes(oldKey));
      const again = await fetch(`https://localhost:${second.port}/api/v1/auth/login`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "first-admin-pass" }),
      });
      assertEquals(again.status, 200);
      await again.body?.cancel();
      await second.stop();
      client.close();

      // without the previous key the re-sealed secret still opens; the old one would not
      const third = await start(dataDir, { NMSLITE_MASTER_KEY: newKey });
      assertNotEquals(third.stderr().includes("re-sealed"), true);
      await third.stop();
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

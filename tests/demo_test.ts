/**
 * `deno task demo` (scripts/demo.ts) honours the settings of `deno task start`
 * (NMSLITE_SERVER_PORT, NMSLITE_DATA_DIR), listens on 127.0.0.1 only, and, given no admin
 * password, generates one, prints it, and that password (not a well-known one) logs in.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { freePort, terminate } from "../scripts/child_server.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

Deno.test({
  name: "demo: same settings as start, loopback only, a generated admin password it prints",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "nmslite-demo-" });
    const port = freePort();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (!k.startsWith("NMSLITE_") && k !== "DATABASE_URL") env[k] = v;
    }
    Object.assign(env, { NMSLITE_SERVER_PORT: String(port), NMSLITE_DATA_DIR: dataDir });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/demo.ts"],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let output = "";
    const reading = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        output += chunk;
      }
    })();
    try {
      let password: string | undefined;
      for (let i = 0; i < 1200 && !password; i++) {
        password = /log in as admin \/ (\S+)\)/.exec(output)?.[1];
        if (!password) await new Promise((r) => setTimeout(r, 100));
      }
      assert(password, `no password printed: ${output}`);
      assert(password !== "demo-admin-password" && password.length >= 16, "a generated password");
      const stored = await Deno.stat(`${dataDir}/demo-admin-password`);
      assertEquals(stored.mode! & 0o077, 0, "the kept password file is private");

      const url = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 600 && !up; i++) {
        try {
          const res = await fetch(`${url}/health`);
          await res.body?.cancel();
          up = res.ok;
        } catch { /* not yet */ }
        if (!up) await new Promise((r) => setTimeout(r, 200));
      }
      assert(up, "the demo server answers on NMSLITE_SERVER_PORT");
      const login = await fetch(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password }),
      });
      await login.body?.cancel();
      assertEquals(login.status, 200, "the printed password logs in");
      const weak = await fetch(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "demo-admin-password" }),
      });
      await weak.body?.cancel();
      assertEquals(weak.status, 401, "the old fixed password does not");
      // Bound to 127.0.0.1, not 0.0.0.0: another loopback address finds nothing listening.
      let reached = true;
      try {
        (await Deno.connect({ hostname: "127.0.0.2", port })).close();
      } catch {
        reached = false;
      }
      assertEquals(reached, false, "listening beyond 127.0.0.1");
      // The database is where NMSLITE_DATA_DIR says.
      assert((await Deno.stat(`${dataDir}/pglite`)).isDirectory);
    } finally {
      await terminate(child, child.status, 20_000);
      await reading.catch(() => {});
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});

/** The server settings of lib/web/serve.ts and the trusted proxies in lib/config.ts. */
import { assert, assertEquals } from "./helpers/assert.ts";
import { ConfigError, loadConfig } from "../lib/config.ts";

Deno.test("config: connection limits and trusted proxies", () => {
  const defaults = loadConfig([], {}).server;
  assertEquals(defaults.header_timeout_ms, 20_000);
  assertEquals(defaults.idle_timeout_ms, 30_000);
  assertEquals(defaults.max_connections, 512);
  assertEquals(defaults.trusted_proxies, []);
  const set = loadConfig(["--server.max_connections", "64"], {
    NMSLITE_HEADER_TIMEOUT: "5s",
    NMSLITE_IDLE_TIMEOUT: "2m",
    NMSLITE_TRUSTED_PROXIES: "10.0.0.5, fd00::1",
  }).server;
  assertEquals(set.header_timeout_ms, 5_000);
  assertEquals(set.idle_timeout_ms, 120_000);
  assertEquals(set.max_connections, 64);
  assertEquals(set.trusted_proxies, ["10.0.0.5", "fd00::1"]);
  for (
    const env of [{ NMSLITE_TRUSTED_PROXIES: "proxy.example" }, { NMSLITE_MAX_CONNECTIONS: "0" }]
  ) {
    let error: unknown;
    try {
      loadConfig([], env);
    } catch (err) {
      error = err;
    }
    assert(error instanceof ConfigError, JSON.stringify(env));
  }
});

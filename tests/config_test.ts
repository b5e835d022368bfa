import { assert, assertEquals, assertMatch, assertThrows } from "./helpers/assert.ts";
import { ConfigError, loadConfig, parseDurationMs } from "../lib/config.ts";

Deno.test("config: flags > environment > file, with defaults", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    file,
    "server:\n  port: 7000\n  host: 127.0.0.2\nlog:\n  level: debug\nmetrics:\n  retention_days: 30\n",
  );
  const fromFile = loadConfig([], { NMSLITE_CONFIG: file });
  assertEquals(fromFile.server.port, 7000);
  assertEquals(fromFile.server.host, "127.0.0.2");
  assertEquals(fromFile.metrics.retention_days, 30);
  const fromEnv = loadConfig([], { NMSLITE_CONFIG: file, NMSLITE_SERVER_PORT: "7001" });
  assertEquals(fromEnv.server.port, 7001);
  assertEquals(fromEnv.log.level, "debug");
  const fromFlag = loadConfig(["--", "--server.port", "7002", "--plain-http"], {
    NMSLITE_CONFIG: file,
    NMSLITE_SERVER_PORT: "7001",
  });
  assertEquals(fromFlag.server.port, 7002);
  assertEquals(fromFlag.server.plain_http, true);
  const defaults = loadConfig([], {});
  assertEquals(defaults.server.port, 8443);
  assertEquals(defaults.data_dir, "./data");
  assertEquals(defaults.auth.access_token_ttl_ms, 15 * 60_000);
  assertEquals(defaults.auth.bcrypt_cost, 12);
  assertEquals(defaults.metrics.retention_days, 90);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("config: invalid values stop the start with the setting named", () => {
  const port = assertThrows(() => loadConfig([], { NMSLITE_SERVER_PORT: "99999" }), ConfigError);
  assertMatch(port.message, /server\.port/);
  const ttl = assertThrows(
    () => loadConfig([], { NMSLITE_ACCESS_TOKEN_TTL: "soon" }),
    ConfigError,
  );
  assertMatch(ttl.message, /not a duration/);
  assertThrows(() => loadConfig(["--no-such-flag", "1"], {}), ConfigError, "unknown flag");
  assertThrows(
    () => loadConfig([], { NMSLITE_CONFIG: "/nonexistent.yaml" }),
    ConfigError,
    "cannot read",
  );
});

Deno.test("config: a secret is never echoed in a validation message", () => {
  const err = assertThrows(
    () => loadConfig([], { NMSLITE_JWT_SECRET: "short-secret-value" }),
    ConfigError,
  );
  assertMatch(err.message, /auth\.jwt_secret/);
  assert(!err.message.includes("short-secret-value"));
});

Deno.test("durations", () => {
  assertEquals(parseDurationMs("15m"), 900_000);
  assertEquals(parseDurationMs("7d"), 604_800_000);
  assertEquals(parseDurationMs("250"), 250);
  assertEquals(parseDurationMs("1.5s"), 1500);
  assertEquals(parseDurationMs("x"), undefined);
});

Deno.test("kerberos.allow_rc4: off by default, on from the environment or a flag", () => {
  assertEquals(loadConfig([], {}).kerberos.allow_rc4, false);
  assertEquals(loadConfig([], { NMSLITE_KERBEROS_ALLOW_RC4: "true" }).kerberos.allow_rc4, true);
  assertEquals(loadConfig(["--kerberos.allow_rc4", "yes"], {}).kerberos.allow_rc4, true);
  assertThrows(() => loadConfig([], { NMSLITE_KERBEROS_ALLOW_RC4: "maybe" }), ConfigError);
});

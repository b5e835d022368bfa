/**
 * Exec plugins: a configured executable receives one JSON document on stdin (target,
 * credentials, plugin config) and prints one JSON metrics document on stdout. It is killed
 * when it overruns its timeout; a non-zero exit reports the tail of its stderr. The README
 * documents the protocol with an example plugin.
 */
import type { Credential } from "../messages.ts";
import { type MetricsDocument, parseMetricsDocument } from "./metrics_document.ts";
import { checkPluginEnv, PluginCommandError, resolvePluginCommand } from "./plugin_command.ts";

export interface ExecPluginConfig {
  command: string;
  args?: string[];
  timeout_ms?: number;
  env?: Record<string, string>;
  [key: string]: unknown;
}

export interface ExecInput {
  monitorId: number;
  target: { ip: string; deviceId: number };
  credential: Credential;
  config: ExecPluginConfig;
  /** the plugin directory; the command must resolve inside it (plugin_command.ts) */
  pluginDir: string;
}

export class ExecPluginError extends Error {
  override name = "ExecPluginError";
  constructor(
    readonly kind: "timeout" | "exit" | "spawn" | "output" | "forbidden",
    message: string,
  ) {
    super(message);
  }
}

const STDERR_TAIL = 512;
/** What a plugin inherits from the server's environment: nothing that holds a secret. */
const INHERITED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
const MAX_STDOUT = 4 * 1024 * 1024;

export async function runExecPlugin(
  input: ExecInput,
  signal?: AbortSignal,
): Promise<MetricsDocument> {
  const { command, args = [], timeout_ms = 30_000, env, ...pluginConfig } = input.config;
  const document = {
    version: 1,
    monitor_id: input.monitorId,
    target: { ip: input.target.ip, device_id: input.target.deviceId },
    credentials: {
      type: input.credential.type,
      username: input.credential.username,
      password: input.credential.password,
      domain: input.credential.domain,
      port: input.credential.port,
      use_ssl: input.credential.useSsl,
    },
    config: pluginConfig,
    timeout_ms,
  };
  let executable: string;
  try {
    checkPluginEnv(env);
    executable = await resolvePluginCommand(input.pluginDir, command);
  } catch (err) {
    if (err instanceof PluginCommandError) throw new ExecPluginError("forbidden", err.message);
    throw err;
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(executable, {
      args,
      clearEnv: true,
      env: { ...pluginEnvironment(), ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new ExecPluginError("spawn", `cannot start ${command}: ${(err as Error).message}`);
  }
  let timedOut = false;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeout_ms);
  signal?.addEventListener("abort", kill, { once: true });
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(document))).catch(() => {});
    await writer.close().catch(() => {});
    const [stdout, stderr, status] = await Promise.all([
      readCapped(child.stdout, MAX_STDOUT),
      readCapped(child.stderr, 64 * 1024),
      child.status,
    ]);
    if (timedOut) {
      throw new ExecPluginError(
        "timeout",
        `${command} overran its ${timeout_ms} ms timeout and was killed`,
      );
    }
    if (signal?.aborted) throw new ExecPluginError("timeout", `${command} was cancelled`);
    if (!status.success) {
      const tail = redact(stderr.slice(-STDERR_TAIL).trim(), input.credential.password);
      throw new ExecPluginError(
        "exit",
        `${command} exited with ${
          status.signal ? `signal ${status.signal}` : `code ${status.code}`
        }` +
          (tail ? `: ${tail}` : ""),
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new ExecPluginError("output", `${command} did not print a JSON document on stdout`);
    }
    try {
      return parseMetricsDocument(parsed);
    } catch (err) {
      throw new ExecPluginError("output", `${command}: ${(err as Error).message}`);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", kill);
  }
}

async function readCapped(stream: ReadableStream<Uint8Array>, cap: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    if (text.length < cap) text += decoder.decode(chunk, { stream: true });
  }
  return text.length > cap ? text.slice(0, cap) : text;
}

function pluginEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join("[redacted]") : text;
}

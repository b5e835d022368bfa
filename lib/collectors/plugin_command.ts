/**
 * Where an exec plugin may come from. An exec plugin is code that runs on the server with a
 * decrypted credential on its stdin, so the executable must be one an administrator installed
 * in the plugin directory (`plugins.dir`, default `<data_dir>/plugins`), which the API cannot
 * write. The command is resolved when a plugin is saved and again before every run, so a row
 * written before this rule, or a symlink swapped later, cannot point elsewhere.
 *
 * @example
 * ```ts
 * const path = await resolvePluginCommand("/var/lib/nmslite/plugins", "my-collector");
 * // "/var/lib/nmslite/plugins/my-collector"
 * ```
 */
import { basename, isAbsolute, join, relative, resolve } from "node:path";

export class PluginCommandError extends Error {
  override name = "PluginCommandError";
  /** the plugin config field at fault */
  constructor(message: string, readonly field: "command" | "env" = "command") {
    super(message);
  }
}

/** Shells and launchers: naming one would turn `args` into a script. */
const LAUNCHERS = new Set([
  "sh",
  "bash",
  "dash",
  "zsh",
  "ksh",
  "mksh",
  "csh",
  "tcsh",
  "fish",
  "ash",
  "busybox",
  "env",
  "sudo",
  "su",
  "doas",
  "xargs",
  "nohup",
  "setsid",
]);

/** Variables that change what the dynamic loader runs inside the plugin. */
const LOADER_VARIABLE = /^(LD_|DYLD_)/i;

/**
 * The absolute path of `command` inside `pluginDir`, or a PluginCommandError saying why not:
 * `..`, a path outside the directory (also through a symlink), a shell, a missing file, a file
 * that is not executable, or one that others than its owner may rewrite.
 */
export async function resolvePluginCommand(pluginDir: string, command: string): Promise<string> {
  if (!command || command.includes("\0")) {
    throw new PluginCommandError("command: must name an executable in the plugin directory");
  }
  if (command.split(/[\\/]/).includes("..")) {
    throw new PluginCommandError(`command: ".." is not allowed (${command})`);
  }
  let dir: string;
  try {
    dir = await Deno.realPath(pluginDir);
  } catch {
    throw new PluginCommandError(
      `the plugin directory ${pluginDir} does not exist: an administrator installs exec plugins there`,
    );
  }
  const candidate = isAbsolute(command) ? resolve(command) : join(dir, command);
  if (!inside(dir, candidate) && !inside(resolve(pluginDir), candidate)) {
    throw new PluginCommandError(
      `command: ${command} is outside the plugin directory ${pluginDir}`,
    );
  }
  let real: string;
  try {
    real = await Deno.realPath(candidate);
  } catch {
    throw new PluginCommandError(`command: ${command} does not exist in the plugin directory`);
  }
  if (!inside(dir, real)) {
    throw new PluginCommandError(
      `command: ${command} leads outside the plugin directory ${pluginDir}`,
    );
  }
  const base = basename(real);
  if (LAUNCHERS.has(base) || LAUNCHERS.has(commandBase(command))) {
    throw new PluginCommandError(`command: a shell or launcher (${base}) cannot be a plugin`);
  }
  const info = await Deno.stat(real);
  if (!info.isFile) throw new PluginCommandError(`command: ${command} is not a file`);
  const mode = info.mode ?? 0;
  if ((mode & 0o111) === 0) throw new PluginCommandError(`command: ${command} is not executable`);
  if ((mode & 0o022) !== 0) {
    throw new PluginCommandError(
      `command: ${command} may be rewritten by other users (mode ${(mode & 0o777).toString(8)})`,
    );
  }
  return real;
}

/** Refuses loader variables in a plugin's `env`. */
export function checkPluginEnv(env: Record<string, string> | undefined): void {
  for (const key of Object.keys(env ?? {})) {
    if (LOADER_VARIABLE.test(key)) {
      throw new PluginCommandError(
        `env: ${key} is not allowed (it changes what the plugin runs)`,
        "env",
      );
    }
  }
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function commandBase(command: string): string {
  return command.slice(Math.max(command.lastIndexOf("/"), command.lastIndexOf("\\")) + 1);
}

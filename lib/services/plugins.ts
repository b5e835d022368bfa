/**
 * Plugins (collectors): the built-in ones can only have their description changed and are
 * never deleted; an exec plugin in use by a monitor cannot be deleted.
 */
import { type Plugin, pluginsRepo } from "../db/plugins.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit } from "../audit.ts";
import { found, inUse, invalid, ServiceError } from "./errors.ts";
import {
  checkPluginEnv,
  PluginCommandError,
  resolvePluginCommand,
} from "../collectors/plugin_command.ts";
import { change, type ServiceDeps } from "./service.ts";

export interface PluginInput {
  name: string;
  description: string;
  config: Record<string, unknown>;
}

export class PluginsService {
  constructor(private readonly deps: ServiceDeps & { pluginDir: string }) {}

  list(params: ListParams): Promise<Page<Plugin>> {
    return pluginsRepo.list(this.deps.db, params);
  }

  get(id: number): Promise<Plugin | undefined> {
    return pluginsRepo.get(this.deps.db, id);
  }

  async create(actor: Actor, body: PluginInput): Promise<Plugin> {
    await this.checkCommand(body.config);
    return await change(this.deps, async (tx) => {
      const row = await pluginsRepo.create(tx, body);
      await audit(tx, actor, "create", "plugin", row.id, { name: row.name });
      return row;
    }, (row) => ({ entity: "plugin", id: row.id, action: "created" }));
  }

  /** Fields left out keep their value. */
  async update(actor: Actor, id: number, body: Partial<PluginInput>) {
    if (body.config !== undefined) await this.checkCommand(body.config);
    return await change(this.deps, async (tx) => {
      const existing = found(await pluginsRepo.get(tx, id), "plugin", id);
      if (existing.type === "builtin" && (body.name !== undefined || body.config !== undefined)) {
        throw builtIn(existing, "only its description can change");
      }
      const row = await pluginsRepo.update(tx, id, {
        name: body.name ?? existing.name,
        description: body.description ?? existing.description,
        config: body.config ?? existing.config,
      });
      await audit(tx, actor, "update", "plugin", id, { fields: Object.keys(body) });
      return row;
    }, () => ({ entity: "plugin", id, action: "updated" }));
  }

  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      const existing = found(await pluginsRepo.get(tx, id), "plugin", id);
      if (existing.type === "builtin") throw builtIn(existing, "cannot be deleted");
      const monitors = await pluginsRepo.monitorCount(tx, id);
      if (monitors > 0) throw inUse("Plugin", monitors, "monitor", { monitors });
      await pluginsRepo.delete(tx, id);
      await audit(tx, actor, "delete", "plugin", id);
    }, () => ({ entity: "plugin", id, action: "deleted" }));
  }

  /** An exec plugin names an executable an admin installed in the plugin directory. */
  private async checkCommand(config: Record<string, unknown>): Promise<void> {
    try {
      checkPluginEnv(config.env as Record<string, string> | undefined);
      await resolvePluginCommand(this.deps.pluginDir, String(config.command ?? ""));
    } catch (err) {
      if (!(err instanceof PluginCommandError)) throw err;
      const message = err.message.startsWith(`${err.field}: `)
        ? err.message.slice(err.field.length + 2)
        : err.message;
      throw invalid(`config.${err.field}`, message);
    }
  }
}

const builtIn = (p: Plugin, rule: string) =>
  new ServiceError(
    400,
    "BUILTIN_PLUGIN",
    rule === "cannot be deleted"
      ? `plugin ${p.name} is built in and cannot be deleted`
      : `plugin ${p.name} is built in: ${rule}`,
  );

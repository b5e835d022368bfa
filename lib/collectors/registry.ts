/**
 * The collectors a monitor's plugin can name: the built-in `windows-winrm` (WQL over WinRM)
 * and `exec` plugins. Each returns one `metrics` row for the poll.
 */
import type { Credential, MetricSample, PluginSpec, PollJob } from "../messages.ts";
import { type ExecPluginConfig, ExecPluginError, runExecPlugin } from "./exec_plugin.ts";
import { toMetricSample } from "./metrics_document.ts";
import { collectWindowsDocument } from "./windows_winrm.ts";
import { MonitorConfig, resolveCollection } from "./collection_profile.ts";
import { PollMemory } from "./poll_memory.ts";
import { collectWmiDocument } from "./windows_wmi.ts";
import type { WinrmOverrides } from "../winrm/mod.ts";

export class UnknownPluginError extends Error {
  override name = "UnknownPluginError";
  readonly kind = "plugin";
}

export interface CollectOptions {
  /** where exec plugins must live; without it exec plugins are refused */
  pluginDir?: string;
  /** WinRM client options for the built-in collector (pipelining) */
  winrm?: WinrmOverrides;
  /** what this process remembers between polls of a monitor (default: a process-wide one) */
  memory?: PollMemory;
}

const processMemory = new PollMemory();

export async function collectMetrics(
  job: PollJob,
  plugin: PluginSpec,
  credential: Credential,
  signal: AbortSignal,
  opts: CollectOptions = {},
): Promise<MetricSample> {
  const started = performance.now();
  const ts = Date.now();
  if (plugin.type === "exec") {
    if (!opts.pluginDir) {
      throw new ExecPluginError("forbidden", "exec plugins are not enabled in this process");
    }
    const doc = await runExecPlugin({
      monitorId: job.monitorId,
      target: { ip: job.deviceIp, deviceId: job.deviceId },
      credential,
      config: plugin.config as ExecPluginConfig,
      pluginDir: opts.pluginDir,
    }, signal);
    return toMetricSample(job.monitorId, ts, doc, performance.now() - started);
  }
  if (plugin.name === "windows-winrm") {
    const parsed = MonitorConfig.safeParse(job.config ?? {});
    const memory = opts.memory ?? processMemory;
    const collection = {
      ...resolveCollection(parsed.success ? parsed.data : null),
      eventsSince: memory.eventsSince(job.monitorId, ts - job.intervalS * 1000),
      diskLatency: memory.diskLatency(job.monitorId),
    };
    // a `wmi` profile runs the same profile's queries over DCOM (lib/collectors/windows_wmi.ts)
    const { doc, hostTime, diskLatency } = credential.type === "wmi"
      ? await collectWmiDocument(job.deviceIp, credential, signal, {}, collection)
      : await collectWindowsDocument(
        job.deviceIp,
        credential,
        signal,
        opts.winrm,
        job.deviceHostname,
        collection,
      );
    memory.afterPoll(job.monitorId, doc, hostTime, ts, diskLatency);
    return toMetricSample(job.monitorId, ts, doc, performance.now() - started);
  }
  throw new UnknownPluginError(`no built-in collector named ${plugin.name}`);
}

/**
 * The collectors a monitor's plugin can name: the built-in `windows-winrm` (WQL over WinRM)
 * and `exec` plugins. Each returns one `metrics` row for the poll.
 */
import type { Credential, MetricSample, PluginSpec, PollJob } from "../messages.ts";
import { type ExecPluginConfig, runExecPlugin } from "./exec_plugin.ts";
import { toMetricSample } from "./metrics_document.ts";
import { collectWindowsDocument } from "./windows_winrm.ts";

export class UnknownPluginError extends Error {
  override name = "UnknownPluginError";
  readonly kind = "plugin";
}

export async function collectMetrics(
  job: PollJob,
  plugin: PluginSpec,
  credential: Credential,
  signal: AbortSignal,
): Promise<MetricSample> {
  const started = performance.now();
  const ts = Date.now();
  if (plugin.type === "exec") {
    const doc = await runExecPlugin({
      monitorId: job.monitorId,
      target: { ip: job.deviceIp, deviceId: job.deviceId },
      credential,
      config: plugin.config as ExecPluginConfig,
    }, signal);
    return toMetricSample(job.monitorId, ts, doc, performance.now() - started);
  }
  if (plugin.name === "windows-winrm") {
    const doc = await collectWindowsDocument(job.deviceIp, credential, signal);
    return toMetricSample(job.monitorId, ts, doc, performance.now() - started);
  }
  throw new UnknownPluginError(`no built-in collector named ${plugin.name}`);
}

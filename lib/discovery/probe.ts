/**
 * Reachability probes for discovery and for the health monitor's recovery check: a TCP
 * connect per port (always; Windows' firewall drops ICMP by default) and ICMP echo through
 * `fping` when it is installed (Deno has no raw sockets).
 */
import { connect } from "node:net";
import { connectionBudget } from "../winrm/budget.ts";

export const WINDOWS_PORTS = [5985, 5986, 135] as const;

/**
 * Resolves true when the port accepts a TCP connection within the timeout. The socket holds
 * a slot of this isolate's descriptor budget (lib/winrm/budget.ts) while it is open, so a
 * large discovery waits for slots instead of running the process out of descriptors.
 */
export async function probeTcp(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  const budget = connectionBudget();
  await budget.reserve();
  try {
    return await connectOnce(ip, port, timeoutMs);
  } finally {
    budget.release();
  }
}

function connectOnce(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: timeoutMs });
    let settled = false;
    const done = (open: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

/** The subset of `ports` open on `ip`, probed in parallel. */
export async function openPorts(
  ip: string,
  ports: readonly number[],
  timeoutMs: number,
): Promise<number[]> {
  const open = await Promise.all(ports.map((p) => probeTcp(ip, p, timeoutMs)));
  return ports.filter((_, i) => open[i]);
}

let fpingPath: string | null | undefined;

/** The fping binary, or null when it is not installed (looked up once). */
export async function findFping(): Promise<string | null> {
  if (fpingPath !== undefined) return fpingPath;
  fpingPath = null;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").concat("/usr/sbin")) {
    try {
      const path = `${dir}/fping`;
      if ((await Deno.stat(path)).isFile) {
        fpingPath = path;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  return fpingPath;
}

/**
 * The addresses among `ips` that answer ICMP echo, or null when fping is unavailable.
 * One fping process per call: it pings them all in parallel with one try each.
 */
export async function pingAlive(
  ips: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Set<string> | null> {
  const fping = await findFping();
  if (!fping || ips.length === 0) return fping ? new Set() : null;
  const child = new Deno.Command(fping, {
    args: ["-a", "-q", "-r", "0", "-t", String(Math.max(50, Math.round(timeoutMs)))],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    signal,
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(ips.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  // fping exits 1 when some targets are unreachable: that is an answer, not a failure.
  if (out.code > 1) return null;
  return new Set(
    new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(
      Boolean,
    ),
  );
}

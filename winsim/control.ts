/**
 * Control endpoint for a simulator running in another process (benchmarks):
 *   POST /fault {"ip": "127.0.10.3" | "*", "fault": {"kind":"hang"} | "slow:500" | null}
 *   POST /volume {"ip": "127.0.10.3", "volume": "C:", "used": 0.95 | null}  pin a disk's fill
 *   GET  /stats?ip=127.0.10.3   one host's counters;  GET /stats   totals over all hosts
 *   GET  /memory                Deno.memoryUsage() of the simulator process
 *   POST /reboot {"ip": "127.0.10.3"}       the host restarts now (unplanned)
 *   POST /event-flood {"ip": "127.0.10.3"}  its Application log floods from now
 */
import type { Winsim } from "./mod.ts";

export function serveControl(sim: Winsim, port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    try {
      if (req.method === "POST" && url.pathname === "/fault") {
        const { ip, fault } = await req.json();
        if (typeof ip !== "string") throw new Error("ip must be a string");
        sim.setFault(ip, fault ?? null);
        return Response.json({ ok: true });
      }
      if (
        req.method === "POST" && (url.pathname === "/reboot" || url.pathname === "/event-flood")
      ) {
        const { ip } = await req.json();
        if (typeof ip !== "string") throw new Error("ip must be a string");
        if (url.pathname === "/reboot") sim.reboot(ip);
        else sim.eventFlood(ip);
        return Response.json({ ok: true });
      }
      if (req.method === "POST" && url.pathname === "/volume") {
        const { ip, volume, used } = await req.json();
        if (typeof ip !== "string" || typeof volume !== "string") {
          throw new Error("ip and volume must be strings");
        }
        sim.setVolumeUsed(ip, volume, typeof used === "number" ? used : null);
        return Response.json({ ok: true });
      }
      if (req.method === "GET" && url.pathname === "/stats") {
        const ip = url.searchParams.get("ip");
        return Response.json(ip ? sim.stats(ip) : sim.totals());
      }
      if (req.method === "GET" && url.pathname === "/memory") {
        return Response.json(Deno.memoryUsage());
      }
      return Response.json({ error: "not found" }, { status: 404 });
    } catch (err) {
      return Response.json({ error: (err as Error).message }, { status: 400 });
    }
  });
}

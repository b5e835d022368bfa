/** The Windows collector against winsim: identify, collect, round trips, pooling. */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { collect, collectWindowsDocument, identify } from "../../lib/collectors/windows_winrm.ts";
import { parseMetricsDocument, toMetricSample } from "../../lib/collectors/metrics_document.ts";
import type { Credential } from "../../lib/messages.ts";
import { AuthenticationError, closeSharedPools, sharedPoolStats } from "../../lib/winrm/mod.ts";
import { clientFor, MODES, PASSWORD, using, withSim } from "./sim_helpers.ts";

for (const mode of MODES) {
  Deno.test(`${mode}: identify + collect on one connection, 3 + 4 requests, pipelined`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      await using(clientFor(sim, mode), async (c) => {
        const id = await identify(c);
        const os = sim.instances(ip, "Win32_OperatingSystem")[0];
        const cs = sim.instances(ip, "Win32_ComputerSystem")[0];
        const bios = sim.instances(ip, "Win32_BIOS")[0];
        assertEquals(id.hostname, cs.Name);
        assertEquals(id.domain, cs.PartOfDomain ? cs.Domain : null);
        assertEquals(id.os, String(os.Caption).trim());
        assertEquals(id.version, os.Version);
        assertEquals(id.build, String(os.BuildNumber));
        assertEquals(id.serial, bios.SerialNumber);
        assertEquals(id.totalMemoryBytes, Number(cs.TotalPhysicalMemory));
        const afterIdentify = sim.stats(ip).requests;

        const doc = parseMetricsDocument(await collect(c));
        const server = sim.stats(ip);
        const ntlmHttp = mode === "ntlm-http";
        // identify: 3 queries (+2 handshake legs over HTTP, +1 over HTTPS: the second leg
        // carries the first query); collect: 4 queries on the warm connection, pipelined
        const handshake = mode === "ntlm-http" ? 2 : mode === "ntlm-https" ? 1 : 0;
        assertEquals(afterIdentify, 3 + handshake);
        assertEquals(server.requests - afterIdentify, 4, "collect = 4 requests");
        assert(server.pipelinedRequests >= 1, "sent pipelined, not one round trip each");
        assertEquals(server.connections, 1);
        assertEquals(c.stats().opened, 1);
        assertEquals(server.enumerations, 7);
        assertEquals(server.pulls, 0);
        assert(!ntlmHttp || server.authHandshakes === 1);

        assert(doc.cpu_percent! >= 0 && doc.cpu_percent! <= 100);
        assertEquals(doc.memory_total, Number(os.TotalVisibleMemorySize) * 1024);
        assert(doc.memory_used! > 0 && doc.memory_used! < doc.memory_total!);
        const fixed = sim.instances(ip, "Win32_LogicalDisk").filter((d) => d.DriveType === 3);
        assertEquals(doc.volumes!.map((v) => v.name), fixed.map((d) => String(d.DeviceID)));
        assertEquals(doc.disk_total, fixed.reduce((n, d) => n + Number(d.Size), 0));
        const nics = sim.instances(ip, "Win32_PerfFormattedData_Tcpip_NetworkInterface");
        assertEquals(doc.interfaces!.length, nics.length);
        for (const i of doc.interfaces!) {
          assert(i.bandwidth_bps === null || i.utilization !== null);
        }
        assertEquals(doc.net_sent_bps, doc.interfaces!.reduce((n, i) => n + i.sent_bps, 0));
        assert(doc.process_count! > 0);
        const sample = toMetricSample(7, Date.now(), doc, 12);
        assertEquals(sample.volumes!.length, fixed.length);
        assertEquals(sample.netRecvBps, doc.net_recv_bps);
      });
    }));
}

function credential(sim: { username: string }, over: Partial<Credential> = {}): Credential {
  return {
    id: 1,
    type: "winrm_ntlm",
    username: sim.username,
    password: PASSWORD,
    domain: null,
    port: 0,
    useSsl: false,
    tlsVerify: "system",
    tlsCaPem: null,
    allowUnencrypted: false,
    version: "v1",
    ...over,
  };
}

Deno.test("collectWindowsDocument: polls share the warm connection of the shared pool", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    try {
      const cred = credential(sim, { port: h.httpPort });
      for (let i = 0; i < 3; i++) {
        const { doc } = await collectWindowsDocument(h.ip, cred, AbortSignal.timeout(10_000));
        parseMetricsDocument(doc);
      }
      const https = credential(sim, {
        type: "winrm_basic",
        port: h.httpsPort!,
        useSsl: true,
        tlsVerify: "pinned",
        tlsCaPem: sim.certificatePem,
      });
      await collectWindowsDocument(h.ip, https, AbortSignal.timeout(10_000));
      const server = sim.stats(h.ip);
      assertEquals(server.connections, 2, "one per credential/port");
      assertEquals(server.authHandshakes, 1);
      assertEquals(server.requests, 3 * 4 + 2 + 4);
      const pools = Object.values(sharedPoolStats());
      assertEquals(pools.length, 2);
      assert(!JSON.stringify(sharedPoolStats()).includes(PASSWORD));
    } finally {
      closeSharedPools();
    }
  }));

Deno.test("collectWindowsDocument: wrong password fails once, without the password", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    try {
      const wrong = "Not-The-Password-77";
      const cred = credential(sim, { port: h.httpPort, password: wrong });
      const err = await assertRejects(
        () => collectWindowsDocument(h.ip, cred, AbortSignal.timeout(10_000)),
        AuthenticationError,
      );
      assert(!JSON.stringify(err).includes(wrong) && !err.message.includes(wrong));
      assertEquals(sim.stats(h.ip).authFailures, 1);
    } finally {
      closeSharedPools();
    }
  }));

/**
 * clientFromCredential and the collectors' entry points take the deployment's client settings
 * as options (no process-wide switch): pipelining off reaches the wire, a profile may pin the
 * server certificate by fingerprint. Real sockets against the simulator.
 */
import { X509Certificate } from "node:crypto";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import {
  closeSharedPools,
  ConfigError,
  TlsError,
  type WinrmCredential,
} from "../../lib/winrm/mod.ts";
import type { Credential } from "../../lib/messages.ts";
import { collectWindowsDocument, identifyWindows } from "../../lib/collectors/windows_winrm.ts";
import { hostIdentifier } from "../../lib/collectors/identify_host.ts";
import { PASSWORD, withSim } from "./sim_helpers.ts";

Deno.test("the app's Credential is a WinrmCredential", () => {
  const cred: Credential = {
    id: 1,
    type: "winrm_ntlm",
    username: "u",
    password: "p",
    domain: null,
    port: 0,
    useSsl: false,
    tlsVerify: "system",
    tlsCaPem: null,
    allowUnencrypted: false,
    version: "1",
  };
  const asWinrm: WinrmCredential = cred; // compiles: structurally compatible
  assertEquals(asWinrm.type, "winrm_ntlm");
});

Deno.test("pipelining is an option passed through, per caller", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const cred: WinrmCredential = {
      type: "winrm_ntlm",
      username: sim.username,
      password: PASSWORD,
      port: h.httpPort,
      useSsl: false,
      tlsVerify: "system",
      allowUnencrypted: false,
    };
    const signal = AbortSignal.timeout(20_000);
    try {
      await collectWindowsDocument(h.ip, cred, signal, { pipelining: false });
      await collectWindowsDocument(h.ip, cred, signal, { pipelining: false });
      assertEquals(sim.stats(h.ip).pipelinedRequests, 0, "pipelining: false reaches the wire");
      const id = await hostIdentifier({ pipelining: false })(h.ip, cred, signal);
      assertEquals(id.hostname, h.name);
      assertEquals(sim.stats(h.ip).pipelinedRequests, 0);
      // another caller in the same process is not switched off by the first
      await collectWindowsDocument(h.ip, cred, signal);
      assert(sim.stats(h.ip).pipelinedRequests > 0, "the default pipelines");
    } finally {
      closeSharedPools();
    }
  }));

Deno.test("a profile pins the server certificate by fingerprint", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const cred = (tlsFingerprint: string | null): WinrmCredential => ({
      type: "winrm_basic",
      username: sim.username,
      password: PASSWORD,
      port: h.httpsPort,
      useSsl: true,
      tlsVerify: "pinned",
      tlsCaPem: null,
      tlsFingerprint,
      allowUnencrypted: false,
    });
    const fp = new X509Certificate(sim.certificatePem).fingerprint256;
    try {
      const id = await identifyWindows(h.ip, cred(`sha256:${fp}`));
      assertEquals(id.hostname, h.name);
      const other = "00".repeat(32);
      await assertRejects(() => identifyWindows(h.ip, cred(other)), TlsError, "not the pinned");
      await assertRejects(() => identifyWindows(h.ip, cred(null)), ConfigError, "fingerprint");
    } finally {
      closeSharedPools();
    }
  }));

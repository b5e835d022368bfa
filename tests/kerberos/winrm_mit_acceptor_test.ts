/**
 * NMSlite's WinRM client with Kerberos against an acceptor built on MIT's GSSAPI
 * (tests/peers/gss_winrm_acceptor.py): MIT checks our tickets, AP-REQs (mutual auth,
 * channel bindings) and the RFC 4121 Wrap tokens of every sealed body, and seals its answers
 * with its own code. The SOAP answers come from a simulated host behind it (Basic upstream).
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { type Kdc, startKdc } from "../helpers/kdc.ts";
import { type AcceptorEvent, startGssAcceptor, tlsCertificate } from "../helpers/gss_peers.ts";
import { startWinsim, type Winsim } from "../../winsim/mod.ts";
import { collect, identify, identifyWindows } from "../../lib/collectors/windows_winrm.ts";
import {
  ConfigError,
  KerberosAuthenticationError,
  WinrmClient,
  type WinrmClientOptions,
  type WinrmCredential,
} from "../../lib/winrm/mod.ts";

const HOST = "win-01.nmslite.test";
const SPN = `HTTP/${HOST}`;
const SPNEGO_LABEL = "application/HTTP-SPNEGO-session-encrypted";

interface Setup {
  kdc: Kdc;
  sim: Winsim;
  upstream: { url: string; user: string; password: string };
  keytab: string;
  dir: string;
}

async function setup(): Promise<Setup & AsyncDisposable> {
  const kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(SPN);
  const sim = await startWinsim({
    hosts: 1,
    base: "127.0.46.1",
    username: "Administrator",
    password: "up-pass",
    httpPort: 0,
    httpsPort: null,
  });
  const h = sim.hosts[0];
  return {
    kdc,
    sim,
    upstream: {
      url: `http://${h.ip}:${h.httpPort}/wsman`,
      user: "Administrator",
      password: "up-pass",
    },
    keytab: svc.keytabPath,
    dir: kdc.dir,
    async [Symbol.asyncDispose]() {
      await sim.close();
      await kdc.stop();
    },
  };
}

function client(s: Setup, port: number, extra: Partial<WinrmClientOptions> = {}) {
  return new WinrmClient({
    host: "127.0.0.1",
    port,
    auth: "kerberos",
    username: `alice@${s.kdc.realm}`,
    password: "Passw0rd!",
    tls: { verify: "insecure" },
    ...extra,
    kerberos: { kdcs: [`${s.kdc.host}:${s.kdc.port}`], spn: SPN, ...extra.kerberos },
  } as WinrmClientOptions);
}

const of = (events: AcceptorEvent[], name: string) => events.filter((e) => e.event === name);

Deno.test("kerberos WinRM client vs MIT GSSAPI acceptor", async (t) => {
  await using s = await setup();

  await t.step(
    "HTTP: SPN from the host name, sealed polls on one context, mutual auth",
    async () => {
      await using acc = await startGssAcceptor({
        keytab: s.keytab,
        env: s.kdc.env,
        upstream: s.upstream,
      });
      const c = client(s, acc.port, { kerberos: { spn: "host", hostName: HOST } });
      try {
        const id = await identify(c);
        assertEquals(
          id.hostname,
          s.sim.instances(s.sim.hosts[0].ip, "Win32_ComputerSystem")[0].Name,
        );
        const doc = await collect(c); // pipelined queries, each sealed with the next sequence number
        assert(
          typeof doc.cpu_percent === "number" && (doc.memory_total ?? 0) > 0,
          "a whole metrics document",
        );
        await collect(c);
      } finally {
        c.close();
      }
      const auth = of(acc.events, "authenticated");
      assertEquals(auth.length, 1, "one context for the connection");
      assertEquals(auth[0].initiator, `alice@${s.kdc.realm}`);
      assert(String(auth[0].target).startsWith(SPN), String(auth[0].target));
      assertEquals(auth[0].session_enctype, 18);
      assertEquals(auth[0].mutual_token, true);
      for (const f of ["mutual", "confidentiality", "integrity", "sequence", "replay_detection"]) {
        assert(
          (auth[0].flags as string[]).some((x) => x.includes(f)),
          `flag ${f}: ${auth[0].flags}`,
        );
      }
      assertEquals(of(acc.events, "unwrap_failed"), []);
      const dec = of(acc.events, "decrypted");
      assert(dec.length >= 6, `sealed requests unwrapped by MIT: ${dec.length}`);
      assert(dec.every((e) => e.protocol === "application/HTTP-Kerberos-session-encrypted"));
      assert(dec.every((e) => e.header_len === 60));
      assertEquals(of(acc.events, "rejected_unencrypted"), []);
    },
  );

  await t.step(
    "an RC4-only user: refused by default, polls when kerberos.allow_rc4 is handed down",
    async () => {
      await s.kdc.addPrincipal("legacy", "Legacy-pass1", { enctypes: ["rc4-hmac"] });
      await using acc = await startGssAcceptor({
        keytab: s.keytab,
        env: s.kdc.env,
        upstream: s.upstream,
      });
      const cred: WinrmCredential = {
        type: "winrm_kerberos",
        username: `legacy@${s.kdc.realm}`,
        password: "Legacy-pass1",
        port: acc.port,
        useSsl: false,
        tlsVerify: "insecure",
        allowUnencrypted: false,
        kerberosKdcs: [`${s.kdc.host}:${s.kdc.port}`],
        kerberosSpn: SPN,
      };
      const refused = await assertRejects(
        () => identifyWindows("127.0.0.1", cred, undefined, { pipelining: true }),
      );
      assert(String((refused as Error).message).includes("kerberos.allow_rc4"), String(refused));
      assertEquals(of(acc.events, "authenticated"), []);
      // the deployment's setting merges with the credential's Kerberos options
      const id = await identifyWindows("127.0.0.1", cred, undefined, {
        pipelining: true,
        kerberos: { allowRc4: true },
      });
      assert(id.hostname, "identified");
      const auth = of(acc.events, "authenticated");
      assertEquals(auth.length, 1);
      assertEquals(auth[0].initiator, `legacy@${s.kdc.realm}`);
      assertEquals(auth[0].session_enctype, 18, "the service session key stays AES");
      assertEquals(of(acc.events, "unwrap_failed"), []);
    },
  );

  await t.step("HTTP: the SPNEGO label, answered and read in that label", async () => {
    await using acc = await startGssAcceptor({
      keytab: s.keytab,
      env: s.kdc.env,
      upstream: s.upstream,
    });
    const c = client(s, acc.port, { kerberos: { protocol: SPNEGO_LABEL } });
    try {
      assertEquals((await identify(c)).hostname !== null, true);
    } finally {
      c.close();
    }
    const dec = of(acc.events, "decrypted");
    assert(dec.length > 0 && dec.every((e) => e.protocol === SPNEGO_LABEL));
  });

  await t.step("HTTPS: channel bindings MIT requires (tls-server-end-point)", async () => {
    const tls = await tlsCertificate(s.dir);
    await using acc = await startGssAcceptor({
      keytab: s.keytab,
      env: s.kdc.env,
      upstream: s.upstream,
      tls,
      cbt: "require",
    });
    const c = client(s, acc.port, { https: true });
    try {
      await collect(c);
      await collect(c);
    } finally {
      c.close();
    }
    const auth = of(acc.events, "authenticated");
    assertEquals(auth.length, 1);
    assertEquals(auth[0].channel_bound, true);
    assertEquals(of(acc.events, "auth_failed"), []);
    assertEquals(of(acc.events, "decrypted"), [], "TLS carries the bodies; no message sealing");
  });

  await t.step("failures through the WinRM client, each typed", async () => {
    await using acc = await startGssAcceptor({
      keytab: s.keytab,
      env: s.kdc.env,
      upstream: s.upstream,
    });
    const fails = async (opts: Partial<WinrmClientOptions>) => {
      const c = client(s, acc.port, opts);
      try {
        return await assertRejects(() => identify(c));
      } finally {
        c.close();
      }
    };
    const failed = async () =>
      (await s.kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;

    // wrong password: one failed pre-authentication per poll, never a retry
    const before = await failed();
    for (let poll = 1; poll <= 3; poll++) {
      const err = await fails({ password: "wrong" });
      assert(err instanceof KerberosAuthenticationError, String(err));
      assertEquals((err as KerberosAuthenticationError).problem, "wrong_password");
      assertEquals((err as KerberosAuthenticationError).kind, "auth");
      assertEquals(await failed() - before, poll);
    }

    const unknown = await fails({ username: `mallory@${s.kdc.realm}` });
    assertEquals((unknown as KerberosAuthenticationError).problem, "unknown_client");

    const spn = await fails({ kerberos: { spn: "HTTP/nope.nmslite.test" } });
    assertEquals((spn as KerberosAuthenticationError).problem, "unknown_service");
    assert((spn as Error).message.includes("SPN unknown"), (spn as Error).message);

    const skew = await fails({ kerberos: { now: () => Date.now() + 10 * 60_000 } });
    assertEquals((skew as KerberosAuthenticationError).problem, "clock_skew");

    const bareIp = await fails({ kerberos: { spn: "host" } });
    assert(bareIp instanceof ConfigError, String(bareIp));
    assert(/needs a host name/.test((bareIp as Error).message));

    // KDC down (a principal without cached tickets: alice's are in this process's cache)
    await s.kdc.addPrincipal("dave", "Dave-pass1");
    await s.kdc.down();
    try {
      const down = await fails({
        username: `dave@${s.kdc.realm}`,
        password: "Dave-pass1",
        kerberos: { kdcTimeoutMs: 300 },
      });
      assertEquals((down as KerberosAuthenticationError).problem, "kdc_unreachable");
    } finally {
      await s.kdc.up();
    }
    assertEquals(of(acc.events, "authenticated"), [], "nothing reached the service");
  });
});

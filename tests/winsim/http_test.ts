/** The simulator's HTTP face: status codes, auth schemes, connection-bound NTLM, TCP-only hosts. */
import { NtlmClient } from "../../lib/winrm/ntlm/client.ts";
import {
  decryptMessage,
  ENCRYPTED_CONTENT_TYPE,
  encryptMessage,
} from "../../lib/winrm/encryption.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { BASIC, enumerate, header, PASSWORD, RawClient, SOAP, withSim } from "./testing.ts";

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

Deno.test("http: 405 on GET, 401 with both schemes and Microsoft-HTTPAPI", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      const get = await c.request("GET", {});
      assertEquals(get.status, 405);
      assertEquals(header(get, "allow"), ["POST"]);
      const anon = await c.request(
        "POST",
        { "Content-Type": "application/soap+xml;charset=UTF-8" },
        "<x/>",
      );
      assertEquals(anon.status, 401);
      assertEquals(header(anon, "www-authenticate"), ["Negotiate", 'Basic realm="WSMAN"']);
      assertEquals(header(anon, "server"), ["Microsoft-HTTPAPI/2.0"]);
      const wrong = await c.request("POST", {
        Authorization: "Basic " + btoa("Administrator:nope"),
      }, "<x/>");
      assertEquals(wrong.status, 401);
      assertEquals(sim.stats(h.ip).authFailures, 1);
    } finally {
      c.close();
    }
  });
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      const r = await c.request("POST", BASIC, "<x/>");
      assertEquals(r.status, 401, "Basic disabled");
      assertEquals(header(r, "www-authenticate"), ["Negotiate"]);
    } finally {
      c.close();
    }
  }, { basic: false });
});

Deno.test("ntlm: handshake binds to the connection; sealed messages both ways", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[2];
    const c = await RawClient.connect(h.ip, h.httpPort);
    const other = await RawClient.connect(h.ip, h.httpPort);
    try {
      const client = new NtlmClient({ username: "Administrator", password: PASSWORD });
      const t2 = await c.request("POST", { Authorization: `Negotiate ${b64(client.negotiate())}` });
      assertEquals(t2.status, 401);
      const challenge = unb64(header(t2, "www-authenticate")[0].replace(/^Negotiate /, ""));
      const done = await c.request("POST", {
        Authorization: `Negotiate ${b64(client.authenticate(challenge))}`,
      });
      assertEquals(done.status, 200);
      assertEquals(sim.stats(h.ip).authHandshakes, 1);

      const plain = new TextEncoder().encode(
        enumerate("SELECT Name FROM Win32_ComputerSystem", 10),
      );
      const sealed = await c.request(
        "POST",
        { "Content-Type": ENCRYPTED_CONTENT_TYPE },
        encryptMessage(client.session, plain),
      );
      assertEquals(sealed.status, 200);
      assertEquals(header(sealed, "content-type"), [ENCRYPTED_CONTENT_TYPE]);
      const xml = new TextDecoder().decode(decryptMessage(client.session, sealed.body));
      assert(xml.includes(`<Name>${h.name}</Name>`));
      assertEquals(sim.stats(h.ip).sealedMessages, 1);

      // Another socket has no security context: no Authorization means 401.
      const anon = await other.request("POST", {
        "Content-Type": "application/soap+xml;charset=UTF-8",
      }, plain);
      assertEquals(anon.status, 401);
    } finally {
      c.close();
      other.close();
    }
  });
});

Deno.test("tcp-only hosts accept TCP but do not speak WinRM", async () => {
  await withSim(async (sim) => {
    const t = sim.tcpOnly[0];
    assertEquals(t.ip, "127.0.51.1");
    const c = await RawClient.connect(t.ip, t.httpPort);
    try {
      const r = await c.request("POST", SOAP, enumerate("SELECT * FROM Win32_BIOS"));
      assertEquals(r.status, 404);
      assertEquals(header(r, "server"), ["Microsoft-IIS/10.0"]);
    } finally {
      c.close();
    }
    const rpc = await Deno.connect({ hostname: t.ip, port: t.rpcPort! });
    rpc.close();
    assertEquals(sim.hosts.some((h) => h.ip === t.ip), false);
  });
});

Deno.test("cli: ready line, control endpoint faults and stats, clean stop on SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../../winsim/main.ts", import.meta.url).pathname,
      "--",
      "--hosts=2",
      "--base=127.0.52.1",
      "--http-port=0",
      "--https-port=0",
      "--tcp-only=127.0.53.1",
      "--faults=127.0.52.2=unauthorized",
      "--password-env=WINSIM_TEST_PASSWORD",
    ],
    env: { WINSIM_TEST_PASSWORD: PASSWORD },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    out += value;
  }
  try {
    const ready = JSON.parse(out.split("\n")[0]);
    assertEquals(ready.hosts, ["127.0.52.1", "127.0.52.2"]);
    assertEquals(ready.tcpOnly, ["127.0.53.1"]);
    assert(!out.includes(PASSWORD), "the password is never printed");
    const port = (ip: string) => ready.ports.find((p: [string, number]) => p[0] === ip)[1];
    const poll = async (ip: string) => {
      const c = await RawClient.connect(ip, port(ip));
      try {
        return (await c.request("POST", SOAP, enumerate("SELECT * FROM Win32_BIOS", 10))).status;
      } finally {
        c.close();
      }
    };
    assertEquals(await poll("127.0.52.1"), 200);
    assertEquals(await poll("127.0.52.2"), 401, "fault from the command line");
    const set = await fetch(`${ready.control}/fault`, {
      method: "POST",
      body: JSON.stringify({ ip: "127.0.52.2", fault: null }),
    });
    assertEquals(await set.json(), { ok: true });
    assertEquals(await poll("127.0.52.2"), 200);
    const stats = await (await fetch(`${ready.control}/stats?ip=127.0.52.2`)).json();
    assertEquals(stats.requests, 2);
    assertEquals(stats.authFailures, 1);
  } finally {
    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
    await lines.cancel();
  }
});

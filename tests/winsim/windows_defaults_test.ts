/**
 * The simulator's defaults are a stock Windows Server's where a client can tell, and the strict
 * settings are flags: channel binding checked when sent (CbtHardeningLevel Relaxed) or required
 * (Strict); NTLM wrapped in SPNEGO accepted and answered in SPNEGO; CDATA in a shell command
 * read as text. Raw sockets; the SPNEGO tokens here are built by hand, not by lib/winrm.
 */
import { NtlmClient } from "../../lib/winrm/ntlm/client.ts";
import {
  decryptMessage,
  ENCRYPTED_CONTENT_TYPE,
  encryptMessage,
} from "../../lib/winrm/encryption.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { BASIC, enumerate, header, PASSWORD, RawClient, SOAP, soap, withSim } from "./testing.ts";

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const NTLMSSP = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0];

/** DER TLV with a short or two-byte length (tokens here stay under 64 KiB). */
function tlv(tag: number, ...parts: number[][]): number[] {
  const body = parts.flat();
  const n = body.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 255];
  return [tag, ...len, ...body];
}
const NTLM_OID = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
const SPNEGO_OID = [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/** GSS InitialContextToken: SPNEGO OID, NegTokenInit { mechTypes: [NTLM], mechToken }. */
const negTokenInit = (ntlm: Uint8Array) =>
  new Uint8Array(
    tlv(
      0x60,
      SPNEGO_OID,
      tlv(0xa0, tlv(0x30, tlv(0xa0, tlv(0x30, NTLM_OID)), tlv(0xa2, tlv(0x04, [...ntlm])))),
    ),
  );
/** NegTokenResp { responseToken } */
const negTokenResp = (ntlm: Uint8Array) =>
  new Uint8Array(tlv(0xa1, tlv(0x30, tlv(0xa2, tlv(0x04, [...ntlm])))));

/** The NTLM message inside a token: it runs from the NTLMSSP signature to the end. */
function innerNtlm(token: Uint8Array): Uint8Array {
  for (let i = 0; i + 8 <= token.length; i++) {
    if (NTLMSSP.every((b, j) => token[i + j] === b)) return token.slice(i);
  }
  throw new Error("no NTLMSSP message in the token");
}

function negotiateToken(r: { headers: Array<[string, string]> }): Uint8Array {
  const v = header(r, "www-authenticate").find((h) => /^Negotiate \S/.test(h));
  assert(v, "a Negotiate token in the answer");
  return unb64(v.slice("Negotiate ".length));
}

Deno.test("NTLM wrapped in SPNEGO NegTokenInit is accepted and answered in SPNEGO", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      const client = new NtlmClient({ username: "Administrator", password: PASSWORD });
      const t2 = await c.request("POST", {
        Authorization: `Negotiate ${b64(negTokenInit(client.negotiate()))}`,
      });
      assertEquals(t2.status, 401);
      const resp = negotiateToken(t2);
      assertEquals(resp[0], 0xa1, "a NegTokenResp");
      // negState accept-incomplete (1) and supportedMech NTLM precede the token
      const hex = Array.from(resp, (b) => b.toString(16).padStart(2, "0")).join("");
      assert(hex.includes("a0030a0101"), hex);
      assert(hex.includes(NTLM_OID.map((b) => b.toString(16).padStart(2, "0")).join("")));
      const type3 = client.authenticate(innerNtlm(resp));
      const done = await c.request("POST", {
        Authorization: `Negotiate ${b64(negTokenResp(type3))}`,
      });
      assertEquals(done.status, 200);
      const final = negotiateToken(done);
      assert(
        Array.from(final, (b) => b.toString(16).padStart(2, "0")).join("").includes("a0030a0100"),
        "accept-completed",
      );
      assertEquals(sim.stats(h.ip).authHandshakes, 1);
      const plain = new TextEncoder().encode(enumerate("SELECT Name FROM Win32_ComputerSystem"));
      const sealed = await c.request(
        "POST",
        { "Content-Type": ENCRYPTED_CONTENT_TYPE },
        encryptMessage(client.session, plain),
      );
      assertEquals(sealed.status, 200);
      const xml = new TextDecoder().decode(decryptMessage(client.session, sealed.body));
      assert(xml.includes(`<Name>${h.name}</Name>`));
    } finally {
      c.close();
    }
  });
  // the strict setting: raw NTLMSSP only
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      const client = new NtlmClient({ username: "Administrator", password: PASSWORD });
      const r = await c.request("POST", {
        Authorization: `Negotiate ${b64(negTokenInit(client.negotiate()))}`,
      });
      assertEquals(r.status, 401);
      assertEquals(header(r, "www-authenticate"), ["Negotiate", 'Basic realm="WSMAN"']);
    } finally {
      c.close();
    }
  }, { spnego: false });
});

/** One NTLM handshake over HTTPS with the given channel binding; the final status. */
async function handshakeOverTls(
  port: number,
  caPem: string,
  serverCertificate: Uint8Array | undefined,
): Promise<number> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  const c = RawClient.wrap(conn);
  try {
    const client = new NtlmClient({
      username: "Administrator",
      password: PASSWORD,
      serverCertificate,
    });
    const t2 = await c.request("POST", { Authorization: `Negotiate ${b64(client.negotiate())}` });
    assertEquals(t2.status, 401);
    const type3 = client.authenticate(negotiateToken(t2));
    return (await c.request(
      "POST",
      { Authorization: `Negotiate ${b64(type3)}`, "Content-Type": SOAP["Content-Type"] },
      enumerate("SELECT Name FROM Win32_ComputerSystem"),
    )).status;
  } finally {
    c.close();
  }
}

for (const level of ["relaxed", "strict"] as const) {
  Deno.test(`channel binding, CbtHardeningLevel ${level}`, () =>
    withSim(async (sim) => {
      const port = sim.hosts[0].httpsPort!;
      const right = sim.certificateDer;
      const wrong = right.slice();
      wrong[wrong.length - 1] ^= 0xff; // another signature: another certificate hash
      assertEquals(await handshakeOverTls(port, sim.certificatePem, right), 200);
      assertEquals(
        await handshakeOverTls(port, sim.certificatePem, wrong),
        401,
        "checked when sent",
      );
      assertEquals(
        await handshakeOverTls(port, sim.certificatePem, undefined),
        level === "relaxed" ? 200 : 401,
        "a client without channel binding",
      );
    }, {
      hosts: 1,
      base: "127.0.0.1", // the certificate names 127.0.0.1
      httpsPort: 0,
      tcpOnly: [],
      rpcPort: undefined,
      ...(level === "strict" ? { cbtHardening: "strict" } : {}),
    }));
}

Deno.test("a shell command in CDATA is read as text", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    const SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
    try {
      const created = await c.request(
        "POST",
        SOAP,
        soap(
          "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
          `<rsp:Shell xmlns:rsp="${SHELL}"><rsp:InputStreams>stdin</rsp:InputStreams>` +
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>",
          { resourceUri: `${SHELL}/cmd` },
        ),
      );
      assertEquals(created.status, 200);
      const shellId = /Name="ShellId">([^<]+)</.exec(created.text)![1];
      const cmd = await c.request(
        "POST",
        SOAP,
        soap(
          `${SHELL}/Command`,
          `<rsp:CommandLine xmlns:rsp="${SHELL}"><rsp:Command><![CDATA[echo a&b <c>]]>` +
            "</rsp:Command><rsp:Arguments><![CDATA[&amp;]]></rsp:Arguments></rsp:CommandLine>",
          { resourceUri: `${SHELL}/cmd`, selectors: { ShellId: shellId } },
        ),
      );
      assertEquals(cmd.status, 200, cmd.text);
      const commandId = /CommandId>([^<]+)</.exec(cmd.text)![1];
      const out = await c.request(
        "POST",
        { ...BASIC, "Content-Type": SOAP["Content-Type"] },
        soap(
          `${SHELL}/Receive`,
          `<rsp:Receive xmlns:rsp="${SHELL}"><rsp:DesiredStream CommandId="${commandId}">` +
            "stdout stderr</rsp:DesiredStream></rsp:Receive>",
          { resourceUri: `${SHELL}/cmd`, selectors: { ShellId: shellId } },
        ),
      );
      assertEquals(out.status, 200);
      const stdout = /Name="stdout" CommandId="[^"]+">([^<]+)</.exec(out.text)![1];
      assertEquals(atob(stdout), "a&b <c> &amp;\r\n");
    } finally {
      c.close();
    }
  }));

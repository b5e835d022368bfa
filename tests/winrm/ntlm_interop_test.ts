/**
 * Optional cross-check against Debian's python3-ntlm-auth (the library pywinrm
 * uses) as the client and our acceptor as the server. Skipped when absent.
 */
import { assertEquals } from "../helpers/assert.ts";
import { NtlmAcceptor } from "../../winsim/ntlm_acceptor.ts";
import { ntHash } from "../../lib/winrm/ntlm/crypto.ts";
import { bytesToHex } from "../../lib/winrm/ntlm/wire.ts";
import { decodeAuthenticate } from "../../lib/winrm/ntlm/messages.ts";

const PYTHON = "/usr/bin/python3";

function hasNtlmAuth(): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import ntlm_auth"], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

// The client half: JSON lines over stdin/stdout so both sides keep their RC4 state.
const SCRIPT = `
import sys, json, base64, hashlib
from ntlm_auth.ntlm import NtlmContext
from ntlm_auth.gss_channel_bindings import GssChannelBindingsStruct
a = json.loads(sys.argv[1])
cbt = None
if a.get("cert"):
    cbt = GssChannelBindingsStruct()
    cbt[cbt.APPLICATION_DATA] = b"tls-server-end-point:" + hashlib.sha256(base64.b64decode(a["cert"])).digest()
ctx = NtlmContext(a["user"], a["password"], domain=a["domain"], workstation="PYCLIENT", cbt_data=cbt)
b64 = lambda b: base64.b64encode(b).decode()
def out(o): print(json.dumps(o), flush=True)
out({"t1": b64(ctx.step())})
t3 = ctx.step(base64.b64decode(json.loads(sys.stdin.readline())["t2"]))
out({"t3": b64(t3), "wrapped": [b64(ctx.wrap(m.encode())) for m in a["messages"]]})
replies = json.loads(sys.stdin.readline())["wrapped"]
out({"plain": [ctx.unwrap(base64.b64decode(w)).decode() for w in replies]})
`;

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

async function runPythonClient(certificate?: Uint8Array) {
  const messages = ["<a/>", "<b>" + "x".repeat(5000) + "</b>", "<c/>"];
  // ntlm_auth takes "LMHASH:NTHASH", which avoids needing MD4 in Python's OpenSSL.
  const password = "00".repeat(16) + ":" + bytesToHex(ntHash("Passw0rd!"));
  const args = JSON.stringify({
    user: "vagrant",
    password,
    domain: "",
    messages,
    cert: certificate ? b64(certificate) : undefined,
  });
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT, args],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readJson = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("python client exited early");
      buffered += value;
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return JSON.parse(line);
  };
  const writer = child.stdin.getWriter();
  const send = (o: unknown) => writer.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));

  const acceptor = new NtlmAcceptor({
    lookupPassword: (u, d) => (u === "vagrant" && d === "" ? "Passw0rd!" : undefined),
    certificate,
    requireChannelBinding: certificate !== undefined,
  });
  const { t1 } = await readJson();
  await send({ t2: b64(acceptor.challenge(unb64(t1))) });
  const { t3, wrapped } = await readJson();
  const { user, session } = acceptor.accept(unb64(t3));
  const received = (wrapped as string[]).map((w) => {
    const b = unb64(w);
    return new TextDecoder().decode(session.unseal(b.subarray(16), b.subarray(0, 16)));
  });
  const replies = ["<r1/>", "<r2>" + "y".repeat(3000) + "</r2>"];
  await send({
    wrapped: replies.map((r) => {
      const { signature, sealed } = session.seal(new TextEncoder().encode(r));
      return b64(new Uint8Array([...signature, ...sealed]));
    }),
  });
  const { plain } = await readJson();
  await writer.close();
  await lines.cancel();
  assertEquals((await child.status).success, true);
  return { user, received, messages, plain, replies, mic: decodeAuthenticate(unb64(t3)).mic };
}

Deno.test({
  name: "ntlm interop: python ntlm_auth client (MIC, sealing both ways) against our acceptor",
  ignore: !hasNtlmAuth(),
  async fn() {
    const r = await runPythonClient();
    assertEquals(r.user, "vagrant");
    assertEquals(r.mic?.length, 16, "ntlm_auth sent a MIC, and accept() verified it");
    assertEquals(r.received, r.messages);
    assertEquals(r.plain, r.replies);
  },
});

Deno.test({
  name: "ntlm interop: python ntlm_auth channel bindings accepted by our acceptor",
  ignore: !hasNtlmAuth(),
  async fn() {
    const cert = Deno.readFileSync(
      new URL("../fixtures/ntlm/cert_rsa_sha256.der", import.meta.url),
    );
    const r = await runPythonClient(cert);
    assertEquals(r.received, r.messages);
  },
});

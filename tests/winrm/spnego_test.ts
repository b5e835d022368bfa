/**
 * A peer that answers NTLM's NEGOTIATE with the CHALLENGE wrapped in an SPNEGO NegTokenResp:
 * the client accepts it and answers in the same form (the simulator with `spnegoAlways` takes
 * the AUTHENTICATE only as a NegTokenResp then), over HTTP with sealing and over HTTPS.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import {
  isNtlmMech,
  negTokenInit,
  negTokenResp,
  readNegotiateToken,
} from "../../lib/winrm/ntlm/spnego.ts";
import { NtlmProtocolError } from "../../lib/winrm/ntlm/errors.ts";
import { AuthenticationError } from "../../lib/winrm/mod.ts";
import { collect } from "../../lib/collectors/windows_winrm.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { clientFor, PASSWORD, using } from "./sim_helpers.ts";

for (const mode of ["ntlm-http", "ntlm-https"] as const) {
  Deno.test(`${mode}: an NTLM challenge wrapped in SPNEGO is accepted and answered so`, async () => {
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.60.1",
      httpPort: 0,
      httpsPort: 0,
      password: PASSWORD,
      spnegoAlways: true,
    });
    const ip = sim.hosts[0].ip;
    try {
      await using(clientFor(sim, mode), async (c) => {
        const doc = await collect(c);
        assert(typeof doc.cpu_percent === "number");
        assertEquals(c.stats().handshakes, 1);
        assertEquals(sim.stats(ip).authHandshakes, 1);
        assertEquals(sim.stats(ip).authFailures, 0);
      });
      await using(clientFor(sim, mode, { password: "Wr0ng-Spnego-1" }), async (c) => {
        await assertRejects(() => collect(c), AuthenticationError, "rejected the user name");
        assertEquals(sim.stats(ip).authFailures, 1);
      });
    } finally {
      await sim.close();
    }
  });
}

Deno.test("SPNEGO tokens: round trip, and hostile input is an NtlmProtocolError", () => {
  const ntlm = new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0, 2, 0, 0, 0]);
  const init = readNegotiateToken(negTokenInit(ntlm));
  assertEquals(init.form, "init");
  assertEquals(init.ntlm, ntlm);
  const resp = readNegotiateToken(
    negTokenResp({ negState: 1, supportedMech: true, responseToken: ntlm }),
  );
  assert(resp.form === "resp");
  assertEquals(resp.negState, 1);
  assert(resp.supportedMech !== null && isNtlmMech(resp.supportedMech));
  assertEquals(resp.ntlm, ntlm);
  assertEquals(readNegotiateToken(ntlm).form, "raw");
  // a long token takes a multi-byte DER length
  const big = new Uint8Array(70_000);
  big.set(ntlm);
  assertEquals(readNegotiateToken(negTokenResp({ responseToken: big })).ntlm?.length, 70_000);

  const whole = negTokenResp({ negState: 1, supportedMech: true, responseToken: ntlm });
  const hostile = [
    new Uint8Array(0),
    new Uint8Array([0xa1]),
    new Uint8Array([0xa1, 0x84, 0xff, 0xff, 0xff, 0xff]),
    whole.subarray(0, whole.length - 3),
    new Uint8Array([0x60, 0x03, 0x06, 0x01, 0x2a]),
    new Uint8Array([0x30, 0x00]),
  ];
  for (let i = 0; i < whole.length; i++) hostile.push(whole.subarray(0, i));
  for (const t of hostile) assertThrows(() => readNegotiateToken(t), NtlmProtocolError);
});

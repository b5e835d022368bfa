/**
 * A peer that answers NTLM's NEGOTIATE with the CHALLENGE wrapped in an SPNEGO NegTokenResp:
 * the client accepts it and answers in the same form (the simulator with `spnegoAlways` takes
 * the AUTHENTICATE only as a NegTokenResp then), over HTTP with sealing and over HTTPS.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
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

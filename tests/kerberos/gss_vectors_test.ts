/**
 * RFC 4121 known answers from an independent implementation: MIT's GSSAPI makes a whole
 * exchange in one process (tests/peers/gss_wrap_vectors.py) and hands over its context key.
 * We decrypt its AP-REQ with the keytab, its AP-REP with the ticket's session key (finding
 * the same acceptor subkey), open its Wrap tokens in both directions, and re-seal each
 * plaintext with MIT's confounder and sequence number to get MIT's bytes exactly.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startKdc } from "../helpers/kdc.ts";
import { recordGssVectors } from "../helpers/gss_peers.ts";
import { decryptWithConfounder, USAGE } from "../../lib/kerberos/crypto.ts";
import { keyedContext, unframe } from "../../lib/kerberos/gss.ts";
import { keytabKeyFor, parseKeytab } from "../../lib/kerberos/keytab.ts";
import { decodeApRep, decodeApReq } from "../../lib/kerberos/messages.ts";
import { readNegTokenInit, readNegTokenResp } from "../../lib/kerberos/spnego.ts";
import { concat } from "../../lib/kerberos/asn1.ts";
import { useAesSha1Core } from "../../lib/kerberos/aes_sha1.ts";

const SPN = "HTTP/win-01.nmslite.test";
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((x) => parseInt(x, 16)));
const text = (s: string) => new TextDecoder().decode(unhex(s));

Deno.test("RFC 4121 vectors made by MIT GSSAPI", async (t) => {
  await using kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(SPN);
  const cc = await kdc.kinit("alice", "Passw0rd!");
  const keytab = await Deno.readFile(svc.keytabPath);
  const plaintexts = ["<s:Envelope/>", "x".repeat(100), "é ünïcödé ✓".repeat(7)];

  for (const mech of ["krb5", "spnego"] as const) {
    await t.step(mech, async () => {
      const v = await recordGssVectors({
        spn: SPN,
        keytab: svc.keytabPath,
        env: kdc.envFor(cc),
        mech,
        plaintexts,
      });
      // Both AES cores (libcrypto, WebAssembly) open and make MIT's bytes; keys are parsed
      // afresh for each, as a core refuses keys expanded by the other.
      for (const core of ["libcrypto", "wasm"] as const) {
        assert(useAesSha1Core(core), `the ${core} core cannot be used here`);
        const serviceKeys = parseKeytab(keytab);
        const key = { etype: v.context_enctype, value: unhex(v.context_key) };
        assertEquals(key.etype, 18);

        // AP-REQ: MIT's ticket opens with the keytab, its authenticator with the session key.
        const reqToken = mech === "spnego"
          ? readNegTokenInit(unhex(v.ap_req)).mechToken!
          : unhex(v.ap_req);
        const req = decodeApReq(
          unframe(reqToken).inner,
          (etype, kvno) => keytabKeyFor(serviceKeys, etype, kvno),
        );
        assertEquals(
          `${req.client.name.names.join("/")}@${req.client.realm}`,
          `alice@${kdc.realm}`,
        );
        assertEquals(req.authenticator.cksum?.type, 0x8003);

        // AP-REP: decrypts with the ticket's session key and names the context key as subkey.
        const repToken = mech === "spnego"
          ? readNegTokenResp(unhex(v.ap_rep)).responseToken!
          : unhex(v.ap_rep);
        const rep = decodeApRep(unframe(repToken).inner, req.sessionKey);
        assertEquals(hex(rep.subkey!.value), v.context_key);

        for (
          const [side, vectors, usage] of [
            ["acceptor", v.initiator_to_acceptor, USAGE.INITIATOR_SEAL],
            ["initiator", v.acceptor_to_initiator, USAGE.ACCEPTOR_SEAL],
          ] as const
        ) {
          const reader = keyedContext(side, key, { acceptorSubkey: true });
          assertEquals(vectors.length, plaintexts.length);
          for (const w of vectors) {
            const token = concat(unhex(w.header), unhex(w.sealed));
            // MS-WSMV layout: EC 0, RRC 28, a 60-byte header for AES
            assertEquals(unhex(w.header).length, 60);
            assertEquals([token[4], token[5], token[6], token[7]], [0, 0, 0, 28]);
            assertEquals(hex(reader.unwrap(token)), w.plaintext);

            // Re-seal with MIT's confounder and sequence number: the same bytes.
            const body = token.subarray(16);
            const unrotated = concat(body.subarray(28), body.subarray(0, 28));
            const conf = decryptWithConfounder(key, usage, unrotated).subarray(0, 16);
            const seq = new DataView(token.buffer, token.byteOffset + 12, 4).getUint32(0);
            const writer = keyedContext(side === "acceptor" ? "initiator" : "acceptor", key, {
              acceptorSubkey: true,
              sendSeq: seq,
            });
            const ours = writer.wrap(unhex(w.plaintext), conf);
            assertEquals(hex(ours.header), w.header, `header of ${text(w.plaintext).slice(0, 20)}`);
            assertEquals(hex(ours.data), w.sealed);
          }
        }

        // Plain gss_wrap tokens (no rotation) open too.
        const acc = keyedContext("acceptor", key, { acceptorSubkey: true });
        for (const w of v.gss_wrap_initiator) {
          assertEquals(hex(acc.unwrap(unhex(w.token))), w.plaintext);
        }
        const ini = keyedContext("initiator", key, { acceptorSubkey: true });
        for (const w of v.gss_wrap_acceptor) {
          assertEquals(hex(ini.unwrap(unhex(w.token))), w.plaintext);
        }

        // A replayed token is refused.
        const replay = keyedContext("acceptor", key, { acceptorSubkey: true });
        const first = v.initiator_to_acceptor[0];
        const tok = concat(unhex(first.header), unhex(first.sealed));
        replay.unwrap(tok);
        let refused = false;
        try {
          replay.unwrap(tok);
        } catch {
          refused = true;
        }
        assert(refused, "a replayed Wrap token must be refused");
      }
    });
  }
});

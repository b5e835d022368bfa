/**
 * Poll failure classes (lib/polling/failure_class.ts) from the errors the WinRM client and
 * exec plugins really raise: a closed port, a wrong password, a poll deadline, and the errno
 * of a process out of descriptors.
 */
import { assertEquals } from "../helpers/assert.ts";
import { failureClass } from "../../lib/polling/failure_class.ts";
import {
  AuthenticationError,
  connectionErrorFrom,
  TimeoutError,
  TlsError,
  WinrmClient,
  WsmanFaultError,
} from "../../lib/winrm/mod.ts";
import { ExecPluginError } from "../../lib/collectors/exec_plugin.ts";
import { PollTimeoutError } from "../../lib/polling/poller.ts";
import { clientFor, withSim } from "../winrm/sim_helpers.ts";
import { freePort } from "../../scripts/child_server.ts";

Deno.test("a closed port is refused; a wrong password is auth", () =>
  withSim(async (sim) => {
    const closed = new WinrmClient({
      host: "127.0.0.1",
      port: freePort(),
      auth: "ntlm",
      username: "u",
      password: "p",
    });
    const refused = await closed.enumerate("SELECT Name FROM Win32_BIOS").catch((e) => e);
    assertEquals(failureClass(refused), "refused");
    closed.close();

    const wrong = clientFor(sim, "ntlm-http", { password: "not-the-password" });
    const denied = await wrong.enumerate("SELECT Name FROM Win32_BIOS").catch((e) => e);
    assertEquals(denied instanceof AuthenticationError, true);
    assertEquals(failureClass(denied), "auth");
    wrong.close();
  }));

Deno.test("errno and error kinds map to classes", () => {
  const at = "http://192.0.2.1:5985";
  assertEquals(failureClass(connectionErrorFrom({ code: "EMFILE" }, at)), "local_resource");
  assertEquals(failureClass(connectionErrorFrom({ code: "ENFILE" }, at)), "local_resource");
  assertEquals(failureClass(connectionErrorFrom({ code: "ECONNRESET" }, at)), "reset");
  assertEquals(failureClass(connectionErrorFrom({ code: "EHOSTUNREACH" }, at)), "unreachable");
  assertEquals(failureClass(connectionErrorFrom({ code: "EWHATEVER" }, at)), "other");
  assertEquals(failureClass(new TimeoutError("connect", "no TCP connection")), "timeout");
  assertEquals(failureClass(new PollTimeoutError("poll timed out after 30000 ms")), "timeout");
  assertEquals(failureClass(new TlsError("expired", "certificate expired")), "tls");
  assertEquals(
    failureClass(
      new WsmanFaultError({
        code: "s:Receiver",
        subcode: "w:InternalError",
        wsmanFaultCode: null,
        faultDetail: null,
        wmiErrorCode: null,
        // a server's text that happens to name an errno is still the server's fault
        reason: "EMFILE on the far side",
        machine: null,
      }, 500),
    ),
    "fault",
  );
  assertEquals(
    failureClass(new ExecPluginError("spawn", "cannot start x: Too many open files (os error 24)")),
    "local_resource",
  );
  assertEquals(failureClass(new ExecPluginError("timeout", "x timed out")), "timeout");
  assertEquals(failureClass(new ExecPluginError("exit", "x exited with 3")), "other");
  assertEquals(failureClass({ kind: "credential", message: "cannot decrypt" }), "auth");
  assertEquals(failureClass("a string"), "other");
});

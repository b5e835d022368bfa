/**
 * The "reverse" SPN choice: the IP's PTR name, looked up through a real DNS server on
 * loopback (tests/helpers/dns_srv.ts; the names asked about are 10/8 ones, as the system resolver
 * answers 127/8 itself) or an injected resolver; a device known only by its
 * address gets an error that names the reverse and fixed-SPN options.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { startDnsSrv } from "../helpers/dns_srv.ts";
import { dnsPtrResolver, resolveSpn, reverseName } from "../../lib/winrm/kerberos_auth.ts";
import { ConfigError } from "../../lib/winrm/errors.ts";

Deno.test("reverse names of IPv4 and IPv6 addresses", () => {
  assertEquals(reverseName("127.0.46.1"), "1.46.0.127.in-addr.arpa");
  assertEquals(
    reverseName("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
});

Deno.test("SPN choice: host, reverse (PTR over real DNS), fixed; each failure says what to do", async () => {
  await using dns = await startDnsSrv({
    ptr: { "1.46.0.10.in-addr.arpa": ["WIN-01.nmslite.test."] },
  });
  const ptr = dnsPtrResolver(dns.nameServer);
  assertEquals(await resolveSpn("10.0.46.1", "reverse", ptr), "HTTP/win-01.nmslite.test");
  assert(
    dns.queries.some((q) => q.name.toLowerCase() === "1.46.0.10.in-addr.arpa" && q.type === "PTR"),
    JSON.stringify(dns.queries),
  );
  // a host name needs no look-up, whatever the choice; a fixed SPN is used as given
  assertEquals(await resolveSpn("Win-02.nmslite.test", "reverse", ptr), "HTTP/win-02.nmslite.test");
  assertEquals(
    await resolveSpn("127.0.46.1", "HTTP/fixed.nmslite.test", ptr),
    "HTTP/fixed.nmslite.test",
  );

  const noPtr = await assertRejects(() => resolveSpn("10.0.46.2", "reverse", ptr), ConfigError);
  assert(noPtr.message.includes("2.46.0.10.in-addr.arpa"), noPtr.message);
  assert(noPtr.message.includes("fixed SPN"), noPtr.message);

  // discovery knows only the address: the default choice says how to get past that
  const bare = await assertRejects(() => resolveSpn("127.0.46.1", "host", ptr), ConfigError);
  assert(/reverse DNS name/.test(bare.message) && /fixed SPN/.test(bare.message), bare.message);

  // an injected resolver is used as is
  let asked = "";
  const spn = await resolveSpn("10.1.2.3", "reverse", (ip) => {
    asked = ip;
    return Promise.resolve(["srv.example.com."]);
  });
  assertEquals([asked, spn], ["10.1.2.3", "HTTP/srv.example.com"]);
});

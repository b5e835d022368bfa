import { assertEquals, assertThrows } from "./helpers/assert.ts";
import { MAX_TARGET_ADDRESSES, parseTarget, TargetError } from "../lib/discovery/targets.ts";

Deno.test("targets: CIDR, range and list expand lazily and merge overlaps", () => {
  const cidr = parseTarget("192.168.1.7/30");
  assertEquals([...cidr.addresses()], ["192.168.1.4", "192.168.1.5", "192.168.1.6", "192.168.1.7"]);
  const range = parseTarget("10.0.0.254-10.0.1.1");
  assertEquals([...range.addresses()], ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]);
  const list = parseTarget("10.0.0.3, 10.0.0.1-10.0.0.2, 10.0.0.2, 10.0.0.0/31");
  assertEquals(list.count, 4);
  assertEquals([...list.addresses()], ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  assertEquals(parseTarget("10.0.0.0/16").count, MAX_TARGET_ADDRESSES);
  assertEquals(parseTarget("255.255.255.255").count, 1);
  assertEquals([...parseTarget("255.255.255.255/32").addresses()], ["255.255.255.255"]);
});

Deno.test("targets: invalid input is refused with a reason", () => {
  for (
    const bad of [
      "",
      "10.0.0",
      "10.0.0.1/40",
      "10.0.0.01",
      "a.b.c.d",
      "10.0.0.5-10.0.0.1",
      "10.0.0.0/15",
    ]
  ) {
    assertThrows(() => parseTarget(bad), TargetError);
  }
  assertThrows(() => parseTarget("10.0.0.0/16, 10.2.0.0/24"), TargetError, "at most 65536");
});

Deno.test("targets: strict parsing refuses trailing parts, mixed forms and empty elements", () => {
  for (
    const bad of [
      "127.0.60.1/24/3",
      "10.0.0.0/24/",
      "10.0.0.1-10.0.0.5-10.0.0.9",
      "10.0.0.1-10.0.0.5/24",
      "10.0.0.0/24-10.0.1.0",
      "10.0.0.1,,10.0.0.2",
      "10.0.0.1,",
      ", 10.0.0.1",
      "10.0.0.1/",
      "10.0.0.1-",
      "10.0.0.0/+8",
    ]
  ) {
    assertThrows(() => parseTarget(bad), TargetError);
  }
  assertEquals(parseTarget("127.0.60.1/24").count, 256);
  assertEquals(
    parseTarget(" 10.0.0.1 - 10.0.0.2 , 10.0.0.9 ").text,
    "10.0.0.1 - 10.0.0.2, 10.0.0.9",
  );
});

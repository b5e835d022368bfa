/** lib/web/next_path.ts: ?next= after login stays on this site, however a browser reads it. */
import { assertEquals } from "./helpers/assert.ts";
import { safeNextPath } from "../lib/web/next_path.ts";

Deno.test("safeNextPath keeps local paths", () => {
  assertEquals(safeNextPath("/devices"), "/devices");
  assertEquals(safeNextPath("/devices/7?range=24h#cpu"), "/devices/7?range=24h#cpu");
  assertEquals(safeNextPath("/devices?q=%2F%2Fevil"), "/devices?q=%2F%2Fevil");
  assertEquals(safeNextPath(undefined), "/");
  assertEquals(safeNextPath(""), "/");
});

Deno.test("safeNextPath refuses everything a browser would take off-site", () => {
  const offsite = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/%5Cevil.example/..//evil.example",
    "/" + "a".repeat(3000),
  ];
  for (const next of offsite) {
    const got = safeNextPath(next);
    assertEquals(got === "/" || (got.startsWith("/") && !got.startsWith("//")), true, next);
    // and what a browser makes of the result is still this origin
    assertEquals(new URL(got, "https://nms.test").origin, "https://nms.test", JSON.stringify(next));
  }
  assertEquals(safeNextPath("/\\evil.example"), "/");
  assertEquals(safeNextPath("/\t/evil.example"), "/");
});

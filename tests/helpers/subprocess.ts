/**
 * Fixtures run in a subprocess (other permissions, other limits) print their result as JSON on
 * their last line of output.
 */
import { assertEquals } from "./assert.ts";

/** The JSON of the last line a fixture printed; its exit code must be 0 (else its stderr shows). */
export function fixtureResult<T = Record<string, unknown>>(out: Deno.CommandOutput): T {
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

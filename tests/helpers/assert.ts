/** Small assertions (no std library is reachable here: only npm: specifiers resolve). */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected a value other than ${show(actual)}`,
    );
  }
}

export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  if (!pattern.test(actual)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}${show(actual)} does not match ${pattern}`,
    );
  }
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (ErrorClass && !(err instanceof ErrorClass)) {
      throw new AssertionError(
        `expected ${ErrorClass.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
      );
    }
    if (includes && !(err as Error).message.includes(includes)) {
      throw new AssertionError(
        `error message ${show((err as Error).message)} lacks ${show(includes)}`,
      );
    }
    return err as Error;
  }
  throw new AssertionError("expected the promise to reject");
}

export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (err) {
    if (ErrorClass && !(err instanceof ErrorClass)) {
      throw new AssertionError(`expected ${ErrorClass.name}, got ${(err as Error)?.name}`);
    }
    if (includes && !(err as Error).message.includes(includes)) {
      throw new AssertionError(
        `error message ${show((err as Error).message)} lacks ${show(includes)}`,
      );
    }
    return err as Error;
  }
  throw new AssertionError("expected the function to throw");
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `${x}n` : x);
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/**
 * A JSON caller of NMSlite's `/api/v1`, for the scripts, benches and tests that drive a
 * running server over HTTP as any client would.
 */

// deno-lint-ignore no-explicit-any
export type Answer = { status: number; body: any };

/** Calls `${baseUrl}/api/v1` with JSON: the status and the parsed body (null when empty). */
export function apiCaller(baseUrl: string, client?: Deno.HttpClient) {
  return async (method: string, path: string, body?: unknown, token?: string): Promise<Answer> => {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      client,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

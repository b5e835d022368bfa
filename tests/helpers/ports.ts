/** A TCP port free on loopback right now (bound and released). */
export async function freePort(hostname = "127.0.0.1"): Promise<number> {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Promise.resolve();
  return port;
}

/** A TCP port free on loopback right now (bound and released). */
export async function freePort(hostname = "127.0.0.1"): Promise<number> {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Promise.resolve();
  return port;
}

/**
 * A port free on loopback for both TCP and UDP right now (a KDC answers both on one number).
 * UDP is probed with node:dgram, which needs no --unstable-net.
 */
export async function freeUdpTcpPort(hostname = "127.0.0.1"): Promise<number> {
  const { createSocket } = await import("node:dgram");
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort(hostname);
    const sock = createSocket("udp4");
    const ok = await new Promise<boolean>((resolve) => {
      sock.once("error", () => resolve(false));
      sock.bind(port, hostname, () => resolve(true));
    });
    await new Promise<void>((resolve) => ok ? sock.close(() => resolve()) : resolve());
    if (ok) return port;
  }
  throw new Error("no port free for both TCP and UDP on " + hostname);
}

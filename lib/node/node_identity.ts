/**
 * The node's credential on its disk: `<data dir>/node.json`, mode 0600, the only secret a node
 * ever writes. Credentials for the hosts it polls are held in memory only.
 */
import type { EnrolResponse } from "../nodes/protocol.ts";

export async function readNodeIdentity(path: string): Promise<EnrolResponse | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as EnrolResponse;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

export async function writeNodeIdentity(path: string, identity: EnrolResponse): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(identity) + "\n", { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}

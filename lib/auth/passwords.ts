/** User passwords: bcrypt (bcryptjs, pure JS). Cost 12 takes ~270 ms here, by design. */
import bcrypt from "bcryptjs";

export async function hashPassword(password: string, cost: number): Promise<string> {
  return await bcrypt.hash(password, cost);
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return await bcrypt.compare(password, hash);
}

/** A hash of a random string, compared against when a username is unknown so that
 * "no such user" and "wrong password" take the same time. */
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(cost: number): Promise<string> {
  decoyHash ??= bcrypt.hash(crypto.randomUUID(), cost);
  return decoyHash;
}

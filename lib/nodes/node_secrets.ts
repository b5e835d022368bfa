/**
 * A poller node's secrets: the one-time enrolment token an admin hands to the node, and the
 * node credential it is exchanged for. Both are 256-bit random strings; the central stores only
 * their SHA-256, so a database dump lets nobody act as a node.
 */
import { encodeBase64Url } from "../crypto/base64.ts";

/** Prefixes make a leaked value recognisable (and grep-able in a secret scanner). */
export const ENROLMENT_PREFIX = "nmse_";
export const NODE_SECRET_PREFIX = "nmsn_";

export function newEnrolmentToken(): string {
  return ENROLMENT_PREFIX + random();
}

export function newNodeSecret(): string {
  return NODE_SECRET_PREFIX + random();
}

export async function hashNodeSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return encodeBase64Url(new Uint8Array(digest));
}

function random(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Rendezvous (highest random weight) hashing: a monitor goes to the live node with the highest
 * hash of (node, monitor). When a node leaves, only its monitors move, spread over the others;
 * when it returns, exactly those come back. Every central process computes the same answer
 * from the same set of live nodes, so no process has to own the assignment.
 */

/** The node among `nodeIds` that owns `monitorId`; undefined when there is none. */
export function ownerOf(monitorId: number, nodeIds: readonly number[]): number | undefined {
  let best: number | undefined;
  let bestWeight = -1;
  for (const node of nodeIds) {
    const w = weight(node, monitorId);
    if (w > bestWeight || (w === bestWeight && node < best!)) {
      best = node;
      bestWeight = w;
    }
  }
  return best;
}

/** A 32-bit mix of the pair (murmur3's finaliser over both ids). */
function weight(node: number, monitor: number): number {
  let h = Math.imul(node ^ 0x9e3779b9, 0x85ebca6b) ^ monitor;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h ^ monitor, 0x27d4eb2f);
  h ^= h >>> 15;
  return h >>> 0;
}

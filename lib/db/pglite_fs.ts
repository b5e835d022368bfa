/**
 * PGlite's data directory on the host's file system (Emscripten's NODEFS, as PGlite's own
 * NodeFS mounts it), with one change: a file's size is remembered instead of asked of the host
 * at every `lseek(fd, 0, SEEK_END)`.
 *
 * PostgreSQL learns a relation's length that way (smgrnblocks) for every table and index a
 * query touches, when it plans and when it scans, so a page of 50 devices asked the host for a
 * file's size dozens of times. Under Deno each ask is `fs.fstatSync` through the Node.js
 * compatibility layer, which builds a full `Stats` object: 22 % of the server's CPU in
 * `GET /devices` on the embedded database (bench:api, V8 profile).
 *
 * The remembered size is exact because this PGlite is the only writer of its directory (the
 * driver holds `pglite.lock` beside it: lockDataDir) and every change of a file's size passes
 * through this mount: a write raises it to the write's end; a truncate, an attribute change or
 * any other operation that may alter the file forgets it (the next SEEK_END asks the host).
 * Sizes are kept per file node, which Emscripten shares between the streams open on one path and
 * drops when the file is unlinked. Only this PGlite instance's NODEFS is changed; other users of
 * `node:fs` in the process are untouched.
 */
import { NodeFS } from "@electric-sql/pglite/nodefs";
import type { PGlite } from "@electric-sql/pglite";

const SEEK_END = 2;

interface FsNode {
  mode: number;
}
interface Stream {
  node: FsNode;
  position: number;
}
interface StreamOps {
  llseek(stream: Stream, offset: number, whence: number): number;
  write(
    stream: Stream,
    buffer: unknown,
    offset: number,
    length: number,
    position?: number,
  ): number;
}
interface NodeOps {
  setattr(node: FsNode, attr: unknown): void;
}
interface EmscriptenNodefs {
  stream_ops: StreamOps;
  node_ops: NodeOps;
}
interface EmscriptenFs {
  isFile(mode: number): boolean;
}
interface Module {
  NODEFS: EmscriptenNodefs;
  FS: EmscriptenFs;
}

/** How many SEEK_ENDs were answered from memory and how many asked the host (for tests). */
export interface SizeCacheStats {
  hits: number;
  misses: number;
}

/**
 * Teaches one Emscripten module's NODEFS to remember file sizes. Exported for the test, which
 * checks it against the host's own answer after writes, extensions and truncations.
 */
export function rememberFileSizes(mod: Module, stats: SizeCacheStats): void {
  const ops = mod.NODEFS.stream_ops;
  const nodeOps = mod.NODEFS.node_ops;
  const sizes = new WeakMap<FsNode, number>();
  const { llseek, write } = ops;
  const nodeSetattr = nodeOps.setattr;

  ops.llseek = function (stream, offset, whence) {
    if (whence !== SEEK_END || !mod.FS.isFile(stream.node.mode)) {
      return llseek.call(this, stream, offset, whence);
    }
    let size = sizes.get(stream.node);
    if (size === undefined) {
      stats.misses++;
      // the host's answer: SEEK_END from 0 is the size
      size = llseek.call(this, stream, 0, SEEK_END);
      sizes.set(stream.node, size);
    } else {
      stats.hits++;
    }
    const position = size + offset;
    if (position < 0) return llseek.call(this, stream, offset, whence); // its EINVAL
    return position;
  };
  ops.write = function (stream, buffer, offset, length, position) {
    const known = sizes.get(stream.node);
    // forget first: if the write throws, the host decides what the file holds
    sizes.delete(stream.node);
    const written = write.call(this, stream, buffer, offset, length, position);
    if (known !== undefined && typeof position === "number" && position >= 0) {
      sizes.set(stream.node, Math.max(known, position + written));
    }
    return written;
  };
  // Any other stream operation that may change a file (setattr for ftruncate, and whatever a
  // later Emscripten adds, such as allocate) forgets its size; these only read it.
  const KEEP = new Set(["llseek", "write", "read", "getattr", "open", "close", "dup", "mmap"]);
  const table = ops as unknown as Record<string, unknown>;
  for (const [name, op] of Object.entries(table)) {
    if (KEEP.has(name) || typeof op !== "function") continue;
    table[name] = function (this: unknown, stream: Stream, ...rest: unknown[]) {
      sizes.delete(stream.node);
      return op.call(this, stream, ...rest);
    };
  }
  // truncate(path) and open(…, O_TRUNC) reach the node itself
  nodeOps.setattr = function (node, attr) {
    sizes.delete(node);
    return nodeSetattr.call(this, node, attr);
  };
}

/** PGlite's NodeFS whose mount remembers file sizes (above). */
export class SizeCachingNodeFS extends NodeFS {
  readonly sizeCache: SizeCacheStats = { hits: 0, misses: 0 };

  override async init(pg: PGlite, opts: Parameters<NodeFS["init"]>[1]) {
    const { emscriptenOpts } = await super.init(pg, opts);
    const stats = this.sizeCache;
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        preRun: [
          ...(emscriptenOpts.preRun ?? []),
          (mod: unknown) => rememberFileSizes(mod as Module, stats),
        ],
      },
    };
  }
}

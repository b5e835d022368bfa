/**
 * An indexed binary min-heap: entries are addressed by key, so changing or removing one is
 * O(log n) instead of a linear search. The scheduler keys it by monitor id with the next due
 * time (epoch ms) as the priority.
 *
 * Equal priorities come out in the order they were last set (FIFO), so the order of a batch
 * of jobs due at the same moment is deterministic.
 */
export interface HeapEntry<K> {
  key: K;
  priority: number;
}

export class IndexedMinHeap<K> {
  // Parallel arrays rather than an array of objects: fewer allocations on every set/pop.
  private keys: K[] = [];
  private priorities: number[] = [];
  private sequences: number[] = [];
  private readonly positions = new Map<K, number>();
  private nextSequence = 0;

  get size(): number {
    return this.keys.length;
  }

  has(key: K): boolean {
    return this.positions.has(key);
  }

  /** The key's current priority, or undefined when it is not in the heap. */
  priorityOf(key: K): number | undefined {
    const i = this.positions.get(key);
    return i === undefined ? undefined : this.priorities[i];
  }

  /** Inserts the key, or moves it to its new priority when it is already present. */
  set(key: K, priority: number): void {
    if (Number.isNaN(priority)) throw new RangeError("heap priority must not be NaN");
    const sequence = this.nextSequence++;
    const i = this.positions.get(key);
    if (i === undefined) {
      const last = this.keys.length;
      this.keys.push(key);
      this.priorities.push(priority);
      this.sequences.push(sequence);
      this.positions.set(key, last);
      this.siftUp(last);
      return;
    }
    this.priorities[i] = priority;
    this.sequences[i] = sequence;
    this.restore(i);
  }

  /** Removes the key; false when it was not present. */
  delete(key: K): boolean {
    const i = this.positions.get(key);
    if (i === undefined) return false;
    this.removeAt(i);
    return true;
  }

  /** The entry with the smallest priority, without removing it. */
  peek(): HeapEntry<K> | undefined {
    if (this.keys.length === 0) return undefined;
    return { key: this.keys[0], priority: this.priorities[0] };
  }

  /** Removes and returns the entry with the smallest priority. */
  pop(): HeapEntry<K> | undefined {
    if (this.keys.length === 0) return undefined;
    const top = { key: this.keys[0], priority: this.priorities[0] };
    this.removeAt(0);
    return top;
  }

  clear(): void {
    this.keys = [];
    this.priorities = [];
    this.sequences = [];
    this.positions.clear();
  }

  /** Every key, in no particular order. */
  *entries(): IterableIterator<HeapEntry<K>> {
    for (let i = 0; i < this.keys.length; i++) {
      yield { key: this.keys[i], priority: this.priorities[i] };
    }
  }

  private removeAt(i: number): void {
    const last = this.keys.length - 1;
    this.positions.delete(this.keys[i]);
    if (i !== last) {
      this.keys[i] = this.keys[last];
      this.priorities[i] = this.priorities[last];
      this.sequences[i] = this.sequences[last];
      this.positions.set(this.keys[i], i);
    }
    this.keys.pop();
    this.priorities.pop();
    this.sequences.pop();
    if (i < this.keys.length) this.restore(i);
  }

  /** After the entry at i changed, move it up or down to where it belongs. */
  private restore(i: number): void {
    if (i > 0 && this.less(i, (i - 1) >> 1)) this.siftUp(i);
    else this.siftDown(i);
  }

  private less(a: number, b: number): boolean {
    const pa = this.priorities[a];
    const pb = this.priorities[b];
    return pa < pb || (pa === pb && this.sequences[a] < this.sequences[b]);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.less(right, left) ? right : left;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }

  private swap(a: number, b: number): void {
    const key = this.keys[a];
    const priority = this.priorities[a];
    const sequence = this.sequences[a];
    this.keys[a] = this.keys[b];
    this.priorities[a] = this.priorities[b];
    this.sequences[a] = this.sequences[b];
    this.keys[b] = key;
    this.priorities[b] = priority;
    this.sequences[b] = sequence;
    this.positions.set(this.keys[a], a);
    this.positions.set(key, b);
  }
}

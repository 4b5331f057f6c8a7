/**
 * The block cache: uncompressed, checksum-verified SSTable blocks kept in
 * memory under a byte budget, evicted least-recently-used first.
 *
 * Lookup is by table and block index: every open table owns a `CacheSlots`
 * array (one slot per data block), so a lookup is an array access, with no
 * hashing of a (file, offset) key. All entries of all tables share one LRU
 * list (an intrusive doubly-linked list, most recent at the head), so a hit
 * moves one node and allocates nothing, and the byte budget is global.
 *
 * Cached buffers are never mutated, so a value returned to a reader as a
 * view into a block stays valid after the block is evicted.
 */

class Node {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  constructor(
    readonly slots: CacheSlots,
    readonly index: number,
    readonly block: Buffer,
  ) {}
}

/** One table's view of the cache: slot i holds data block i when cached. */
export class CacheSlots {
  readonly nodes: (Node | undefined)[];
  constructor(blocks: number) {
    this.nodes = new Array<Node | undefined>(blocks).fill(undefined);
  }
}

export class BlockCache {
  private head: Node | undefined = undefined;
  private tail: Node | undefined = undefined;
  bytes = 0;
  entries = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacityBytes: number) {}

  get(slots: CacheSlots, i: number): Buffer | undefined {
    const node = slots.nodes[i];
    if (node === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (node !== this.head) {
      this.unlink(node);
      this.pushHead(node);
    }
    return node.block;
  }

  set(slots: CacheSlots, i: number, block: Buffer): void {
    if (block.length > this.capacityBytes) return;
    const old = slots.nodes[i];
    if (old !== undefined) this.drop(old);
    const node = new Node(slots, i, block);
    slots.nodes[i] = node;
    this.pushHead(node);
    this.bytes += block.length;
    this.entries++;
    while (this.bytes > this.capacityBytes && this.tail !== undefined) this.drop(this.tail);
  }

  /** Drops every block of a table (when it is closed). */
  evictAll(slots: CacheSlots): void {
    for (const node of slots.nodes) if (node !== undefined) this.drop(node);
  }

  private drop(node: Node): void {
    this.unlink(node);
    node.slots.nodes[node.index] = undefined;
    this.bytes -= node.block.length;
    this.entries--;
  }

  private unlink(node: Node): void {
    if (node.prev !== undefined) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next !== undefined) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }

  private pushHead(node: Node): void {
    node.next = this.head;
    if (this.head !== undefined) this.head.prev = node;
    this.head = node;
    if (this.tail === undefined) this.tail = node;
  }
}

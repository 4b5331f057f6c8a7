/**
 * The block cache: uncompressed, checksum-verified SSTable blocks kept in
 * memory under a byte budget, evicted least-recently-used first.
 *
 * Lookup is by table and block index: every open table owns a `CacheSlots`
 * array (one slot per data block), so a lookup is an array access, with no
 * hashing of a (file, offset) key. All entries of all tables share one list
 * (an intrusive doubly-linked list, newest at the head) and the byte budget
 * is global.
 *
 * Eviction is CLOCK (second chance), an approximation of LRU: a hit only
 * sets the node's `referenced` flag, and eviction takes nodes from the tail,
 * moving a referenced one back to the head with its flag cleared instead of
 * dropping it. A hit therefore writes one field and touches no neighbours
 * (moving the node to the head on every hit was 5% of a cached point read),
 * while a block read again since it last reached the tail still survives.
 *
 * Cached buffers are never mutated, so a value returned to a reader as a
 * view into a block stays valid after the block is evicted.
 */

class Node {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  /** Hit since the node was inserted or last passed the tail (CLOCK's reference bit). */
  referenced = false;
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
    node.referenced = true;
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
    this.evict();
  }

  /** Drops unreferenced nodes from the tail until within budget; referenced ones get a second chance at the head. */
  private evict(): void {
    while (this.bytes > this.capacityBytes) {
      const tail = this.tail;
      if (tail === undefined) return;
      if (tail.referenced && tail !== this.head) {
        tail.referenced = false;
        this.unlink(tail);
        this.pushHead(tail);
      } else {
        this.drop(tail);
      }
    }
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

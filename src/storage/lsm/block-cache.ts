/**
 * The block cache: uncompressed, checksum-verified SSTable blocks kept in
 * memory under a byte budget, evicted least-recently-used first.
 *
 * Keyed by (file number, block offset) folded into one number
 * (fileNumber * 2^32 + offset; SSTables stay far below 4 GiB, and file
 * numbers below 2^21 keep the key a safe integer). Entries form an intrusive
 * doubly-linked list (most recent at the head), so a hit moves one node and
 * allocates nothing.
 *
 * Cached buffers are never mutated, so a value returned to a reader as a
 * view into a block stays valid after the block is evicted.
 */

class Node {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  constructor(
    readonly key: number,
    readonly block: Buffer,
  ) {}
}

export class BlockCache {
  private readonly map = new Map<number, Node>();
  private head: Node | undefined = undefined;
  private tail: Node | undefined = undefined;
  bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacityBytes: number) {}

  static key(fileNumber: number, offset: number): number {
    return fileNumber * 4294967296 + offset;
  }

  get(key: number): Buffer | undefined {
    const node = this.map.get(key);
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

  set(key: number, block: Buffer): void {
    if (block.length > this.capacityBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.unlink(old);
      this.bytes -= old.block.length;
    }
    const node = new Node(key, block);
    this.map.set(key, node);
    this.pushHead(node);
    this.bytes += block.length;
    while (this.bytes > this.capacityBytes && this.tail !== undefined) {
      const victim = this.tail;
      this.unlink(victim);
      this.map.delete(victim.key);
      this.bytes -= victim.block.length;
    }
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile(fileNumber: number, offsets: readonly number[]): void {
    for (const off of offsets) {
      const key = BlockCache.key(fileNumber, off);
      const node = this.map.get(key);
      if (node === undefined) continue;
      this.unlink(node);
      this.map.delete(key);
      this.bytes -= node.block.length;
    }
  }

  get size(): number {
    return this.map.size;
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

/**
 * The memtable's sorted map: a B+tree of key ids ordered by their key bytes,
 * insert-only.
 *
 * The tree holds numbers only: a key is an id into the owner's `KeyStore`,
 * whose `keyMeta` records say where the key's bytes are (a chunk of the
 * memtable's arena, an offset, a length). No object per key or per entry
 * lives in the tree, so a full memtable gives the garbage collector a few
 * thousand nodes to trace instead of one object per write. (Keying a
 * general-purpose B+tree by a latin1 string per key cost a string per write
 * that lived as long as the memtable: the scavenger copied every one of them
 * twice on its way to the old generation; entry objects per key cost the same.)
 *
 * Every node keeps, per slot, the first six bytes of its key as a number and
 * the key's id, in runs of CAP + 1 slots of two typed arrays shared by the
 * whole tree (`pre`, `ids`), so a search compares numbers in one contiguous
 * run (a few cache lines per node) and reads a key's bytes only when the
 * six-byte prefixes are equal.
 *
 * Keys are never removed (a memtable only grows until it is frozen and
 * flushed), so there is no delete, no merge of nodes, and every leaf is
 * non-empty once the tree holds a key. Leaves are linked both ways for
 * ordered walks. Range reads copy ids out (`range`), so a reader of the
 * live memtable is not disturbed by later inserts splitting the leaf it read.
 */

/** Key record layout in KeyStore.keyMeta: KEY_STRIDE ints per key id; the tree reads the first three. */
export const KEY_CHUNK = 0;
export const KEY_OFF = 1;
export const KEY_LEN = 2;
export const KEY_STRIDE = 5;

/** Where the tree finds a key id's bytes: chunks[keyMeta[id * KEY_STRIDE + KEY_CHUNK]] at KEY_OFF, KEY_LEN. */
export interface KeyStore {
  readonly chunks: readonly Buffer[];
  readonly keyMeta: Int32Array;
}

/** Entries per leaf and children per inner node before a split. */
const CAP = 64;
/** Prefix slots per node (a node holds up to CAP + 1 entries between an insert and its split). */
const SLOTS = CAP + 1;

/**
 * The first six bytes of b[off, off + len) as a number below 2^48 (exact in a
 * double), shorter keys padded with 0. a < b implies prefix(a) <= prefix(b),
 * so unequal prefixes decide a comparison and equal ones defer to the bytes.
 */
export function keyPrefix(b: Uint8Array, off = 0, len = b.length - off): number {
  if (len >= 6)
    return (
      ((b[off]! * 256 + b[off + 1]!) * 256 + b[off + 2]!) * 16777216 +
      ((b[off + 3]! * 256 + b[off + 4]!) * 256 + b[off + 5]!)
    );
  let p = 0;
  for (let i = 0; i < 6; i++) p = p * 256 + (i < len ? b[off + i]! : 0);
  return p;
}

/** Sign of key - (the key of id), bytewise; the first `skip` bytes are known equal. */
function compareKey(key: Uint8Array, store: KeyStore, id: number, skip: number): number {
  const m = store.keyMeta;
  const at = id * KEY_STRIDE;
  const kb = store.chunks[m[at + KEY_CHUNK]!]!;
  const ko = m[at + KEY_OFF]!;
  const kl = m[at + KEY_LEN]!;
  const n = key.length < kl ? key.length : kl;
  for (let j = skip; j < n; j++) {
    const d = key[j]! - kb[ko + j]!;
    if (d !== 0) return d;
  }
  return key.length - kl;
}

/** ids[base + i] is the key id of slot i, pre[base + i] its prefix (the tree's shared arrays). */
class Leaf {
  readonly leaf = true;
  n = 0;
  next: Leaf | undefined = undefined;
  prev: Leaf | undefined = undefined;
  constructor(readonly base: number) {}
}

class Inner {
  readonly leaf = false;
  /** Number of children. */
  n = 0;
  /** Slot i (i >= 1): the smallest key under kids[i]; slot 0 is not used by searches. */
  readonly kids: Node[] = [];
  constructor(readonly base: number) {}
}

type Node = Leaf | Inner;

/** Bytes of a key its prefix covers (a tie on prefixes means these are equal). */
function prefixBytes(len: number): number {
  return len < 6 ? 0 : 6;
}

/** Index of the child of `node` whose subtree holds (or would hold) the key. */
function childIndex(t: MemTree, node: Inner, kp: number, key: Uint8Array): number {
  const pre = t.pre;
  const ids = t.ids;
  const base = node.base;
  const skip = prefixBytes(key.length);
  let lo = 1;
  let hi = node.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[base + mid]!;
    if (kp > p || (kp === p && compareKey(key, t.store, ids[base + mid]!, skip) >= 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the first slot in the leaf whose key is >= key (n if none). */
function lowerBound(t: MemTree, leaf: Leaf, kp: number, key: Uint8Array): number {
  const pre = t.pre;
  const ids = t.ids;
  const base = leaf.base;
  const skip = prefixBytes(key.length);
  let lo = 0;
  let hi = leaf.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[base + mid]!;
    if (kp > p || (kp === p && compareKey(key, t.store, ids[base + mid]!, skip) > 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemTree {
  /** Every node's prefix slots, SLOTS per node, in allocation order. */
  pre: Float64Array;
  /** Every node's key id slots, parallel to pre. */
  ids: Int32Array;
  private slotsUsed = SLOTS;
  private root: Node = new Leaf(0);
  private head: Leaf = this.root as Leaf;
  private tail: Leaf = this.root as Leaf;
  /** Number of keys. */
  size = 0;
  // Scratch path of the last descent (inner nodes and the child index taken in each).
  private readonly pathNodes: Inner[] = [];
  private readonly pathIdx: number[] = [];
  /** Entries of pathNodes/pathIdx that belong to the last recorded descent (the arrays are not truncated). */
  private pathDepth = 0;

  /** `expectedKeys`: sizes the slot arrays (they grow when needed). */
  constructor(
    readonly store: KeyStore,
    expectedKeys = 2048,
  ) {
    // Leaves are half to fully filled: ~CAP * 3/4 keys per leaf, plus inner nodes.
    const nodes = Math.max(64, Math.ceil(expectedKeys / 40));
    this.pre = new Float64Array(nodes * SLOTS);
    this.ids = new Int32Array(nodes * SLOTS);
  }

  /** Base of a fresh node's slots. */
  private allocSlots(): number {
    if (this.slotsUsed + SLOTS > this.pre.length) {
      const pre = new Float64Array(this.pre.length * 2);
      pre.set(this.pre);
      this.pre = pre;
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    const base = this.slotsUsed;
    this.slotsUsed += SLOTS;
    return base;
  }

  private findLeaf(kp: number, key: Uint8Array, record: boolean): Leaf {
    let node = this.root;
    let depth = 0;
    while (!node.leaf) {
      const i = childIndex(this, node, kp, key);
      if (record) {
        this.pathNodes[depth] = node;
        this.pathIdx[depth] = i;
      }
      depth++;
      node = node.kids[i]!;
    }
    if (record) this.pathDepth = depth;
    return node;
  }

  /** The id of the key equal to `key`, or -1. */
  get(key: Uint8Array): number {
    const kp = keyPrefix(key);
    const leaf = this.findLeaf(kp, key, false);
    const i = lowerBound(this, leaf, kp, key);
    const at = leaf.base + i;
    if (i >= leaf.n || this.pre[at] !== kp) return -1;
    const id = this.ids[at]!;
    return compareKey(key, this.store, id, prefixBytes(key.length)) === 0 ? id : -1;
  }

  /**
   * Inserts key id `id` (whose key is `key`; the tree reads its bytes from the
   * store only after this call) and returns -1 if no key equals `key`;
   * otherwise changes nothing and returns the id of the key that does.
   */
  insertOrGet(key: Uint8Array, id: number): number {
    const kp = keyPrefix(key);
    const leaf = this.findLeaf(kp, key, true);
    const n = leaf.n;
    const pre = this.pre;
    const ids = this.ids;
    const base = leaf.base;
    const i = lowerBound(this, leaf, kp, key);
    if (i < n && pre[base + i] === kp) {
      const found = ids[base + i]!;
      if (compareKey(key, this.store, found, prefixBytes(key.length)) === 0) return found;
    }
    // Shift the slots after i by one with a loop: copyWithin is a call into the runtime that costs more than
    // moving the ~32 slots of an average insert.
    for (let j = base + n; j > base + i; j--) {
      pre[j] = pre[j - 1]!;
      ids[j] = ids[j - 1]!;
    }
    pre[base + i] = kp;
    ids[base + i] = id;
    leaf.n = n + 1;
    this.size++;
    if (leaf.n > CAP) this.splitLeaf(leaf, i === n && leaf.next === undefined);
    return -1;
  }

  /** Splits an overfull leaf; `appending`: the key went to the end of the last leaf (keep the left one full). */
  private splitLeaf(leaf: Leaf, appending: boolean): void {
    const n = leaf.n;
    const h = appending ? n - 1 : n >>> 1;
    const right = new Leaf(this.allocSlots());
    this.pre.copyWithin(right.base, leaf.base + h, leaf.base + n);
    this.ids.copyWithin(right.base, leaf.base + h, leaf.base + n);
    right.n = n - h;
    leaf.n = h;
    right.next = leaf.next;
    right.prev = leaf;
    if (leaf.next !== undefined) leaf.next.prev = right;
    else this.tail = right;
    leaf.next = right;
    this.insertInParent(this.pathDepth - 1, right, this.ids[right.base]!, this.pre[right.base]!);
  }

  /** Adds `right` (smallest key id sep, its prefix kp) after the child taken at path depth d, splitting upwards. */
  private insertInParent(d: number, right: Node, sep: number, kp: number): void {
    if (d < 0) {
      const root = new Inner(this.allocSlots());
      root.kids.push(this.root, right);
      this.pre[root.base + 1] = kp;
      this.ids[root.base + 1] = sep;
      root.n = 2;
      this.root = root;
      return;
    }
    const node = this.pathNodes[d]!;
    const at = this.pathIdx[d]! + 1;
    const n = node.n;
    for (let j = n; j > at; j--) node.kids[j] = node.kids[j - 1]!;
    node.kids[at] = right;
    const base = node.base;
    this.pre.copyWithin(base + at + 1, base + at, base + n);
    this.ids.copyWithin(base + at + 1, base + at, base + n);
    this.pre[base + at] = kp;
    this.ids[base + at] = sep;
    node.n = n + 1;
    if (node.n <= CAP) return;
    const m = node.n;
    const h = m >>> 1;
    const sib = new Inner(this.allocSlots());
    for (let j = h; j < m; j++) sib.kids.push(node.kids[j]!);
    // allocSlots may have replaced the arrays.
    this.pre.copyWithin(sib.base, base + h, base + m);
    this.ids.copyWithin(sib.base, base + h, base + m);
    sib.n = m - h;
    node.kids.length = h;
    node.n = h;
    this.insertInParent(d - 1, sib, this.ids[sib.base]!, this.pre[sib.base]!);
  }

  /**
   * Copies up to `max` key ids in key order, starting at the first key >= from
   * (> from unless `inclusive`), into `out` (cleared first). Returns how many
   * were copied; fewer than `max` means the end was reached.
   */
  range(from: Uint8Array, inclusive: boolean, max: number, out: number[]): number {
    out.length = 0;
    const kp = keyPrefix(from);
    let leaf: Leaf | undefined = this.findLeaf(kp, from, false);
    let i = lowerBound(this, leaf, kp, from);
    if (!inclusive && i < leaf.n && compareKey(from, this.store, this.ids[leaf.base + i]!, 0) === 0) i++;
    const ids = this.ids;
    let c = 0;
    while (leaf !== undefined && c < max) {
      const n = leaf.n;
      for (; i < n && c < max; i++, c++) out.push(ids[leaf.base + i]!);
      leaf = leaf.next;
      i = 0;
    }
    return c;
  }

  /** The id of the largest key <= key (< key unless `inclusive`); the largest when key is undefined; -1 if none. */
  lower(key: Uint8Array | undefined, inclusive: boolean): number {
    let leaf: Leaf | undefined;
    let i: number;
    if (key === undefined) {
      leaf = this.tail;
      i = leaf.n - 1;
    } else {
      const kp = keyPrefix(key);
      leaf = this.findLeaf(kp, key, false);
      i = lowerBound(this, leaf, kp, key);
      if (!(inclusive && i < leaf.n && compareKey(key, this.store, this.ids[leaf.base + i]!, 0) === 0)) i--;
    }
    if (i < 0) {
      leaf = leaf.prev;
      if (leaf === undefined) return -1;
      i = leaf.n - 1;
    }
    return i < 0 ? -1 : this.ids[leaf.base + i]!;
  }

  /** Every key id in key order (a copy: the tree may change afterwards). */
  toArray(): Int32Array {
    const out = new Int32Array(this.size);
    let c = 0;
    for (let leaf: Leaf | undefined = this.head; leaf !== undefined; leaf = leaf.next) {
      out.set(this.ids.subarray(leaf.base, leaf.base + leaf.n), c);
      c += leaf.n;
    }
    return out;
  }
}

/**
 * The memtable's sorted map: a B+tree of entries ordered by their key bytes,
 * insert-only.
 *
 * An entry carries its own key, as bytes in the memtable's arena (`kbuf`,
 * `koff`, `klen`); the tree holds no key object of its own. Searches take the
 * key as bytes, so a write never converts its key to a string. (Keying a
 * general-purpose B+tree by a latin1 string per key cost a string per write
 * that lived as long as the memtable: the scavenger copied every one of them
 * twice on its way to the old generation.)
 *
 * Every node also keeps the first six bytes of each of its keys as a number,
 * in a run of CAP + 1 slots of one Float64Array shared by the whole tree, so a
 * search compares numbers in one contiguous run (a few cache lines per node)
 * and reads an entry's key bytes only when the six-byte prefixes are equal.
 *
 * Keys are never removed (a memtable only grows until it is frozen and
 * flushed), so there is no delete, no merge of nodes, and every leaf is
 * non-empty once the tree holds a key. Leaves are linked both ways for
 * ordered walks. Range reads copy entries out (`range`), so a reader of the
 * live memtable is not disturbed by later inserts splitting the leaf it read.
 */

/** What the tree needs of an entry: where its key bytes are. */
export interface KeyedEntry {
  readonly kbuf: Uint8Array;
  readonly koff: number;
  readonly klen: number;
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

/** Sign of key - (the entry's key), bytewise; the first `skip` bytes are known equal. */
function compareKey(key: Uint8Array, e: KeyedEntry, skip: number): number {
  const kb = e.kbuf;
  const ko = e.koff;
  const kl = e.klen;
  const n = key.length < kl ? key.length : kl;
  for (let j = skip; j < n; j++) {
    const d = key[j]! - kb[ko + j]!;
    if (d !== 0) return d;
  }
  return key.length - kl;
}

class Leaf<V extends KeyedEntry> {
  readonly leaf = true;
  n = 0;
  readonly vals: V[] = [];
  next: Leaf<V> | undefined = undefined;
  prev: Leaf<V> | undefined = undefined;
  /** pre[base + i] is the prefix of vals[i]'s key (pre: the tree's shared array). */
  constructor(readonly base: number) {}
}

class Inner<V extends KeyedEntry> {
  readonly leaf = false;
  /** Number of children. */
  n = 0;
  /** seps[i] (i >= 1): the entry with the smallest key under kids[i]; seps[0] is not used by searches. */
  readonly seps: V[] = [];
  readonly kids: Node<V>[] = [];
  constructor(readonly base: number) {}
}

type Node<V extends KeyedEntry> = Leaf<V> | Inner<V>;

/** Bytes of a key its prefix covers (a tie on prefixes means these are equal). */
function prefixBytes(len: number): number {
  return len < 6 ? 0 : 6;
}

/** Index of the child of `node` whose subtree holds (or would hold) the key. */
function childIndex<V extends KeyedEntry>(pre: Float64Array, node: Inner<V>, kp: number, key: Uint8Array): number {
  const base = node.base;
  const skip = prefixBytes(key.length);
  let lo = 1;
  let hi = node.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[base + mid]!;
    if (kp > p || (kp === p && compareKey(key, node.seps[mid]!, skip) >= 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the first entry in the leaf whose key is >= key (n if none). */
function lowerBound<V extends KeyedEntry>(pre: Float64Array, leaf: Leaf<V>, kp: number, key: Uint8Array): number {
  const base = leaf.base;
  const skip = prefixBytes(key.length);
  let lo = 0;
  let hi = leaf.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[base + mid]!;
    if (kp > p || (kp === p && compareKey(key, leaf.vals[mid]!, skip) > 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemTree<V extends KeyedEntry> {
  /** Every node's prefix slots, SLOTS per node, in allocation order. */
  private pre = new Float64Array(64 * SLOTS);
  private slotsUsed = SLOTS;
  private root: Node<V> = new Leaf<V>(0);
  private head: Leaf<V> = this.root as Leaf<V>;
  private tail: Leaf<V> = this.root as Leaf<V>;
  /** Number of keys. */
  size = 0;
  // Scratch path of the last descent (inner nodes and the child index taken in each).
  private readonly pathNodes: Inner<V>[] = [];
  private readonly pathIdx: number[] = [];

  /** Base of a fresh node's prefix slots. */
  private allocSlots(): number {
    if (this.slotsUsed + SLOTS > this.pre.length) {
      const grown = new Float64Array(this.pre.length * 2);
      grown.set(this.pre);
      this.pre = grown;
    }
    const base = this.slotsUsed;
    this.slotsUsed += SLOTS;
    return base;
  }

  private findLeaf(kp: number, key: Uint8Array, record: boolean): Leaf<V> {
    const pre = this.pre;
    let node = this.root;
    let depth = 0;
    while (!node.leaf) {
      const i = childIndex(pre, node, kp, key);
      if (record) {
        this.pathNodes[depth] = node;
        this.pathIdx[depth] = i;
      }
      depth++;
      node = node.kids[i]!;
    }
    if (record) this.pathNodes.length = depth;
    return node;
  }

  /** The entry whose key equals `key`, if any. */
  get(key: Uint8Array): V | undefined {
    const kp = keyPrefix(key);
    const leaf = this.findLeaf(kp, key, false);
    const i = lowerBound(this.pre, leaf, kp, key);
    if (i >= leaf.n || this.pre[leaf.base + i] !== kp) return undefined;
    const e = leaf.vals[i]!;
    return compareKey(key, e, prefixBytes(key.length)) === 0 ? e : undefined;
  }

  /**
   * Inserts `e` (whose key is `key`) and returns undefined if no entry has
   * that key; otherwise changes nothing and returns the entry that has it.
   */
  insertOrGet(key: Uint8Array, e: V): V | undefined {
    const kp = keyPrefix(key);
    const leaf = this.findLeaf(kp, key, true);
    const n = leaf.n;
    const pre = this.pre;
    const base = leaf.base;
    const i = lowerBound(pre, leaf, kp, key);
    if (i < n && pre[base + i] === kp) {
      const found = leaf.vals[i]!;
      if (compareKey(key, found, prefixBytes(key.length)) === 0) return found;
    }
    const vals = leaf.vals;
    for (let j = n; j > i; j--) vals[j] = vals[j - 1]!;
    vals[i] = e;
    pre.copyWithin(base + i + 1, base + i, base + n);
    pre[base + i] = kp;
    leaf.n = n + 1;
    this.size++;
    if (leaf.n > CAP) this.splitLeaf(leaf, i === n && leaf.next === undefined);
    return undefined;
  }

  /** Splits an overfull leaf; `appending`: the key went to the end of the last leaf (keep the left one full). */
  private splitLeaf(leaf: Leaf<V>, appending: boolean): void {
    const n = leaf.n;
    const h = appending ? n - 1 : n >>> 1;
    const right = new Leaf<V>(this.allocSlots());
    for (let j = h; j < n; j++) right.vals.push(leaf.vals[j]!);
    this.pre.copyWithin(right.base, leaf.base + h, leaf.base + n);
    right.n = n - h;
    leaf.vals.length = h;
    leaf.n = h;
    right.next = leaf.next;
    right.prev = leaf;
    if (leaf.next !== undefined) leaf.next.prev = right;
    else this.tail = right;
    leaf.next = right;
    this.insertInParent(this.pathNodes.length - 1, right, right.vals[0]!, this.pre[right.base]!);
  }

  /** Adds `right` (smallest entry sep, its prefix kp) after the child taken at path depth d, splitting upwards. */
  private insertInParent(d: number, right: Node<V>, sep: V, kp: number): void {
    if (d < 0) {
      const root = new Inner<V>(this.allocSlots());
      root.kids.push(this.root, right);
      root.seps.push(sep, sep);
      this.pre[root.base + 1] = kp;
      root.n = 2;
      this.root = root;
      return;
    }
    const node = this.pathNodes[d]!;
    const at = this.pathIdx[d]! + 1;
    const n = node.n;
    for (let j = n; j > at; j--) {
      node.kids[j] = node.kids[j - 1]!;
      node.seps[j] = node.seps[j - 1]!;
    }
    node.kids[at] = right;
    node.seps[at] = sep;
    const pre = this.pre;
    const base = node.base;
    pre.copyWithin(base + at + 1, base + at, base + n);
    pre[base + at] = kp;
    node.n = n + 1;
    if (node.n <= CAP) return;
    const m = node.n;
    const h = m >>> 1;
    const sib = new Inner<V>(this.allocSlots());
    for (let j = h; j < m; j++) {
      sib.kids.push(node.kids[j]!);
      sib.seps.push(node.seps[j]!);
    }
    // allocSlots may have replaced the array.
    const grown = this.pre;
    grown.copyWithin(sib.base, base + h, base + m);
    sib.n = m - h;
    node.kids.length = h;
    node.seps.length = h;
    node.n = h;
    this.insertInParent(d - 1, sib, sib.seps[0]!, grown[sib.base]!);
  }

  /**
   * Copies up to `max` entries in key order, starting at the first key >= from
   * (> from unless `inclusive`), into `out` (cleared first). Returns how many
   * were copied; fewer than `max` means the end was reached.
   */
  range(from: Uint8Array, inclusive: boolean, max: number, out: V[]): number {
    out.length = 0;
    const kp = keyPrefix(from);
    let leaf: Leaf<V> | undefined = this.findLeaf(kp, from, false);
    let i = lowerBound(this.pre, leaf, kp, from);
    if (!inclusive && i < leaf.n && compareKey(from, leaf.vals[i]!, 0) === 0) i++;
    let c = 0;
    while (leaf !== undefined && c < max) {
      const n = leaf.n;
      for (; i < n && c < max; i++, c++) out.push(leaf.vals[i]!);
      leaf = leaf.next;
      i = 0;
    }
    return c;
  }

  /** The entry with the largest key <= key (< key unless `inclusive`); the largest entry when key is undefined. */
  lower(key: Uint8Array | undefined, inclusive: boolean): V | undefined {
    let leaf: Leaf<V> | undefined;
    let i: number;
    if (key === undefined) {
      leaf = this.tail;
      i = leaf.n - 1;
    } else {
      const kp = keyPrefix(key);
      leaf = this.findLeaf(kp, key, false);
      i = lowerBound(this.pre, leaf, kp, key);
      if (!(inclusive && i < leaf.n && compareKey(key, leaf.vals[i]!, 0) === 0)) i--;
    }
    if (i < 0) {
      leaf = leaf.prev;
      if (leaf === undefined) return undefined;
      i = leaf.n - 1;
    }
    return i < 0 ? undefined : leaf.vals[i];
  }

  /** Every entry in key order (a copy: the tree may change afterwards). */
  toArray(): V[] {
    const out: V[] = [];
    for (let leaf: Leaf<V> | undefined = this.head; leaf !== undefined; leaf = leaf.next)
      for (let i = 0; i < leaf.n; i++) out.push(leaf.vals[i]!);
    return out;
  }
}

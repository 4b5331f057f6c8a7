/**
 * The memtable's sorted map: a B+tree from latin1-string keys (one char per
 * byte, so string order is byte order) to values, insert-only.
 *
 * Why not the general-purpose sorted-btree it replaces: a random insert there
 * compares the new key with ~20 keys on its way down, and every one of those
 * is a separate string object somewhere on the heap: a cache miss per
 * comparison, which made the insert ~25% of a bulk load's main-thread CPU.
 * Here every node also keeps the first six bytes of each of its keys as a
 * number in a Float64Array, so a search compares numbers in one contiguous
 * array (a few cache lines per node) and touches a key string only when the
 * six-byte prefixes are equal.
 *
 * Keys are never removed (a memtable only grows until it is frozen and
 * flushed), so there is no delete, no merge of nodes and every leaf is non-empty
 * once the tree holds a key. Leaves are linked both ways for ordered walks.
 * Range reads copy keys and values out (`range`), so a reader of the live
 * memtable is not disturbed by later inserts splitting the leaf it read.
 */

/** Entries per leaf and children per inner node before a split. */
const CAP = 64;

/**
 * The first six chars of a latin1 key as a number below 2^48 (exact in a
 * double), shorter keys padded with 0. a < b implies prefix(a) <= prefix(b),
 * so unequal prefixes decide a comparison and equal ones defer to the strings.
 */
export function keyPrefix(k: string): number {
  const n = k.length;
  if (n >= 6)
    return (
      ((k.charCodeAt(0) * 256 + k.charCodeAt(1)) * 256 + k.charCodeAt(2)) * 16777216 +
      ((k.charCodeAt(3) * 256 + k.charCodeAt(4)) * 256 + k.charCodeAt(5))
    );
  let p = 0;
  for (let i = 0; i < 6; i++) p = p * 256 + (i < n ? k.charCodeAt(i) : 0);
  return p;
}

class Leaf<V> {
  readonly leaf = true;
  n = 0;
  readonly keys: string[] = [];
  readonly vals: V[] = [];
  readonly pre = new Float64Array(CAP + 1);
  next: Leaf<V> | undefined = undefined;
  prev: Leaf<V> | undefined = undefined;
}

class Inner<V> {
  readonly leaf = false;
  /** Number of children. */
  n = 0;
  /** keys[i] (i >= 1): the smallest key under kids[i]; keys[0] is not used by searches. */
  readonly keys: string[] = [];
  readonly pre = new Float64Array(CAP + 1);
  readonly kids: Node<V>[] = [];
}

type Node<V> = Leaf<V> | Inner<V>;

/** Index of the child of `node` whose subtree holds (or would hold) the key. */
function childIndex<V>(node: Inner<V>, kp: number, k: string): number {
  const pre = node.pre;
  let lo = 1;
  let hi = node.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[mid]!;
    if (kp > p || (kp === p && k >= node.keys[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the first key in the leaf that is >= k (n if none). */
function lowerBound<V>(leaf: Leaf<V>, kp: number, k: string): number {
  const pre = leaf.pre;
  let lo = 0;
  let hi = leaf.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = pre[mid]!;
    if (kp > p || (kp === p && k > leaf.keys[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemTree<V> {
  private root: Node<V> = new Leaf<V>();
  private head: Leaf<V> = this.root as Leaf<V>;
  private tail: Leaf<V> = this.root as Leaf<V>;
  /** Number of keys. */
  size = 0;
  // Scratch path of the last descent (inner nodes and the child index taken in each).
  private readonly pathNodes: Inner<V>[] = [];
  private readonly pathIdx: number[] = [];

  private findLeaf(kp: number, k: string, record: boolean): Leaf<V> {
    let node = this.root;
    let depth = 0;
    while (!node.leaf) {
      const i = childIndex(node, kp, k);
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

  get(k: string): V | undefined {
    const kp = keyPrefix(k);
    const leaf = this.findLeaf(kp, k, false);
    const i = lowerBound(leaf, kp, k);
    return i < leaf.n && leaf.keys[i] === k ? leaf.vals[i] : undefined;
  }

  /** Inserts k -> v and returns undefined if k is absent; otherwise changes nothing and returns k's value. */
  insertOrGet(k: string, v: V): V | undefined {
    const kp = keyPrefix(k);
    const leaf = this.findLeaf(kp, k, true);
    const n = leaf.n;
    const i = lowerBound(leaf, kp, k);
    if (i < n && leaf.keys[i] === k) return leaf.vals[i];
    const keys = leaf.keys;
    const vals = leaf.vals;
    for (let j = n; j > i; j--) {
      keys[j] = keys[j - 1]!;
      vals[j] = vals[j - 1]!;
    }
    keys[i] = k;
    vals[i] = v;
    leaf.pre.copyWithin(i + 1, i, n);
    leaf.pre[i] = kp;
    leaf.n = n + 1;
    this.size++;
    if (leaf.n > CAP) this.splitLeaf(leaf, i === n && leaf.next === undefined);
    return undefined;
  }

  /** Splits an overfull leaf; `appending`: the key went to the end of the last leaf (keep the left one full). */
  private splitLeaf(leaf: Leaf<V>, appending: boolean): void {
    const n = leaf.n;
    const h = appending ? n - 1 : n >>> 1;
    const right = new Leaf<V>();
    for (let j = h; j < n; j++) {
      right.keys.push(leaf.keys[j]!);
      right.vals.push(leaf.vals[j]!);
    }
    right.pre.set(leaf.pre.subarray(h, n));
    right.n = n - h;
    leaf.keys.length = h;
    leaf.vals.length = h;
    leaf.n = h;
    right.next = leaf.next;
    right.prev = leaf;
    if (leaf.next !== undefined) leaf.next.prev = right;
    else this.tail = right;
    leaf.next = right;
    this.insertInParent(this.pathNodes.length - 1, right, right.keys[0]!, right.pre[0]!);
  }

  /** Adds `right` (smallest key k, prefix kp) after the child taken at path depth d, splitting upwards. */
  private insertInParent(d: number, right: Node<V>, k: string, kp: number): void {
    if (d < 0) {
      const root = new Inner<V>();
      root.kids.push(this.root, right);
      root.keys.push('', k);
      root.pre[1] = kp;
      root.n = 2;
      this.root = root;
      return;
    }
    const node = this.pathNodes[d]!;
    const at = this.pathIdx[d]! + 1;
    const n = node.n;
    for (let j = n; j > at; j--) {
      node.kids[j] = node.kids[j - 1]!;
      node.keys[j] = node.keys[j - 1]!;
    }
    node.kids[at] = right;
    node.keys[at] = k;
    node.pre.copyWithin(at + 1, at, n);
    node.pre[at] = kp;
    node.n = n + 1;
    if (node.n <= CAP) return;
    const m = node.n;
    const h = m >>> 1;
    const sib = new Inner<V>();
    for (let j = h; j < m; j++) {
      sib.kids.push(node.kids[j]!);
      sib.keys.push(node.keys[j]!);
    }
    sib.pre.set(node.pre.subarray(h, m));
    sib.n = m - h;
    node.kids.length = h;
    node.keys.length = h;
    node.n = h;
    this.insertInParent(d - 1, sib, sib.keys[0]!, sib.pre[0]!);
  }

  /**
   * Copies up to `max` pairs in key order, starting at the first key >= from
   * (> from unless `inclusive`), into keysOut/valsOut (cleared first).
   * Returns how many were copied; fewer than `max` means the end was reached.
   */
  range(from: string, inclusive: boolean, max: number, keysOut: string[], valsOut: V[]): number {
    keysOut.length = 0;
    valsOut.length = 0;
    const kp = keyPrefix(from);
    let leaf: Leaf<V> | undefined = this.findLeaf(kp, from, false);
    let i = lowerBound(leaf, kp, from);
    if (!inclusive && i < leaf.n && leaf.keys[i] === from) i++;
    let c = 0;
    while (leaf !== undefined && c < max) {
      const n = leaf.n;
      for (; i < n && c < max; i++, c++) {
        keysOut.push(leaf.keys[i]!);
        valsOut.push(leaf.vals[i]!);
      }
      leaf = leaf.next;
      i = 0;
    }
    return c;
  }

  /** The pair with the largest key <= k (< k unless `inclusive`); the largest pair when k is undefined. */
  lowerPair(k: string | undefined, inclusive: boolean): [string, V] | undefined {
    let leaf: Leaf<V> | undefined;
    let i: number;
    if (k === undefined) {
      leaf = this.tail;
      i = leaf.n - 1;
    } else {
      const kp = keyPrefix(k);
      leaf = this.findLeaf(kp, k, false);
      i = lowerBound(leaf, kp, k);
      if (!(inclusive && i < leaf.n && leaf.keys[i] === k)) i--;
    }
    if (i < 0) {
      leaf = leaf.prev;
      if (leaf === undefined) return undefined;
      i = leaf.n - 1;
    }
    if (i < 0) return undefined;
    return [leaf.keys[i]!, leaf.vals[i]!];
  }

  /** Every pair in key order (the tree must not change during the walk). */
  *entries(): IterableIterator<[string, V]> {
    for (let leaf: Leaf<V> | undefined = this.head; leaf !== undefined; leaf = leaf.next)
      for (let i = 0; i < leaf.n; i++) yield [leaf.keys[i]!, leaf.vals[i]!];
  }

  /** Walks every pair in key order without allocating (the tree must not change during the walk). */
  forEach(fn: (k: string, v: V) => void): void {
    for (let leaf: Leaf<V> | undefined = this.head; leaf !== undefined; leaf = leaf.next)
      for (let i = 0; i < leaf.n; i++) fn(leaf.keys[i]!, leaf.vals[i]!);
  }
}

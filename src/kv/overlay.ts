/**
 * Overlay: an ordered in-memory layer of puts and tombstones laid over a
 * base Reader, and the merging cursor that reads "overlay over base".
 *
 *   overlay  ── key → { seq, value | tombstone }     (sorted-btree, latin1 keys)
 *   base     ── any Reader (an Engine, an Engine snapshot)
 *   read     ── the overlay's entry wins; a tombstone hides the base's key
 *
 * The replicated engine keeps a leader's not-yet-applied writes here; each
 * entry remembers the sequence number of the write that produced it, so the
 * entry can be dropped once exactly that write is applied to the base (and
 * stays if a later write to the key is still pending).
 *
 * Snapshots of an overlay are O(1) copy-on-write clones of the tree. Keys
 * are compared as latin1 strings, whose order is byte order.
 *
 * Limits: every key of the overlay lives in memory; the owner bounds its
 * size (the replicated engine's overlay holds only writes in flight).
 */

import sortedBtree from 'sorted-btree';
import { fromLatin1, toLatin1 } from '../util/bytes.ts';
import type { EngineIterator, Reader, ScanOptions } from '../storage/engine.ts';

// sorted-btree is CommonJS; see memory-engine.ts for why both shapes occur.
const BTree: typeof sortedBtree.default =
  (sortedBtree as { default?: typeof sortedBtree.default }).default ??
  (sortedBtree as unknown as typeof sortedBtree.default);

/** One overlay entry: `value` undefined is a tombstone. */
export interface OverlayEntry {
  readonly seq: number;
  readonly value: Buffer | undefined;
}

export type OverlayTree = InstanceType<typeof BTree<string, OverlayEntry>>;

export class Overlay {
  tree: OverlayTree = new BTree<string, OverlayEntry>();

  get size(): number {
    return this.tree.size;
  }

  set(key: string, entry: OverlayEntry): void {
    this.tree.set(key, entry, true);
  }

  get(key: string): OverlayEntry | undefined {
    return this.tree.get(key);
  }

  /** Drops the entry for `key` only if it still carries write `seq`. */
  deleteIfSeq(key: string, seq: number): void {
    const e = this.tree.get(key);
    if (e !== undefined && e.seq === seq) this.tree.delete(key);
  }

  clear(): void {
    this.tree = new BTree<string, OverlayEntry>();
  }

  /** An O(1) frozen copy (copy-on-write). */
  clone(): OverlayTree {
    return this.tree.clone();
  }
}

/** Reads `key` through overlay `tree` over `base`. */
export function overlayGet(tree: OverlayTree, base: Pick<Reader, 'get'>, key: Uint8Array): Buffer | undefined {
  const e = tree.size === 0 ? undefined : tree.get(toLatin1(key));
  if (e !== undefined) return e.value;
  return base.get(key);
}

interface Bounds {
  lo: string | undefined;
  loInclusive: boolean;
  hi: string | undefined;
  hiInclusive: boolean;
}

function boundsOf(options: ScanOptions): Bounds {
  const b: Bounds = { lo: undefined, loInclusive: true, hi: undefined, hiInclusive: true };
  if (options.gt !== undefined) {
    b.lo = toLatin1(options.gt);
    b.loInclusive = false;
  } else if (options.gte !== undefined) {
    b.lo = toLatin1(options.gte);
  }
  if (options.lt !== undefined) {
    b.hi = toLatin1(options.lt);
    b.hiInclusive = false;
  } else if (options.lte !== undefined) {
    b.hi = toLatin1(options.lte);
  }
  return b;
}

function inBounds(b: Bounds, k: string): boolean {
  if (b.lo !== undefined && (k < b.lo || (k === b.lo && !b.loInclusive))) return false;
  if (b.hi !== undefined && (k > b.hi || (k === b.hi && !b.hiInclusive))) return false;
  return true;
}

/**
 * A cursor over overlay ∪ base within bounds, overlay winning on equal keys
 * and tombstones hiding base entries. The base iterator is opened with the
 * same bounds and no limit; the limit counts merged entries. Like the memory
 * engine's cursor it reads the live overlay tree step by step, so writes
 * during iteration are seen or not, but order is never broken.
 */
export class MergedIterator implements EngineIterator {
  private readonly b: Bounds;
  private readonly reverse: boolean;
  private remaining: number;
  private ov: [string, OverlayEntry] | undefined;
  private curKey: Buffer | undefined;
  private curValue: Buffer | undefined;
  private closed = false;
  private readonly base: EngineIterator;

  constructor(
    private readonly tree: OverlayTree,
    baseReader: Pick<Reader, 'iterator'>,
    options: ScanOptions,
  ) {
    this.b = boundsOf(options);
    this.reverse = options.reverse === true;
    this.remaining = options.limit ?? Infinity;
    const { limit: _limit, ...rest } = options;
    this.base = baseReader.iterator(rest);
    if (this.reverse) this.ovAtOrBelow(this.b.hi, this.b.hiInclusive);
    else this.ovAtOrAbove(this.b.lo, this.b.loInclusive);
    this.settle();
  }

  valid(): boolean {
    return this.curKey !== undefined;
  }

  key(): Buffer {
    if (this.curKey === undefined) throw new Error('iterator not valid');
    return this.curKey;
  }

  value(): Buffer {
    if (this.curValue === undefined) throw new Error('iterator not valid');
    return this.curValue;
  }

  next(): void {
    if (this.curKey === undefined) return;
    const k = toLatin1(this.curKey);
    // Step past the current key in both sources.
    if (this.ov !== undefined && this.ov[0] === k) this.stepOv();
    if (this.base.valid() && toLatin1(this.base.key()) === k) this.base.next();
    this.settle();
  }

  seek(key: Uint8Array): void {
    if (this.closed) return;
    this.base.seek(key);
    const k = toLatin1(key);
    if (this.reverse) {
      const clamp = this.b.hi !== undefined && (k > this.b.hi || (k === this.b.hi && !this.b.hiInclusive));
      this.ovAtOrBelow(clamp ? this.b.hi : k, clamp ? this.b.hiInclusive : true);
    } else {
      const clamp = this.b.lo !== undefined && (k < this.b.lo || (k === this.b.lo && !this.b.loInclusive));
      this.ovAtOrAbove(clamp ? this.b.lo : k, clamp ? this.b.loInclusive : true);
    }
    this.settle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.curKey = undefined;
    this.curValue = undefined;
    this.base.close();
  }

  private stepOv(): void {
    const k = this.ov![0];
    if (this.reverse) this.ovAtOrBelow(k, false);
    else this.ovAtOrAbove(k, false);
  }

  private ovAtOrAbove(k: string | undefined, inclusive: boolean): void {
    const p =
      k === undefined
        ? this.tree.nextHigherPair(undefined)
        : inclusive
          ? this.tree.getPairOrNextHigher(k)
          : this.tree.nextHigherPair(k);
    this.ov = p !== undefined && inBounds(this.b, p[0]) ? p : undefined;
  }

  private ovAtOrBelow(k: string | undefined, inclusive: boolean): void {
    const p =
      k === undefined
        ? this.tree.nextLowerPair(undefined)
        : inclusive
          ? this.tree.getPairOrNextLower(k)
          : this.tree.nextLowerPair(k);
    this.ov = p !== undefined && inBounds(this.b, p[0]) ? p : undefined;
  }

  /** Positions on the next visible merged entry, skipping tombstones. */
  private settle(): void {
    for (;;) {
      if (this.closed || this.remaining <= 0) {
        this.curKey = undefined;
        this.curValue = undefined;
        return;
      }
      const baseKey = this.base.valid() ? toLatin1(this.base.key()) : undefined;
      const ov = this.ov;
      if (ov === undefined && baseKey === undefined) {
        this.curKey = undefined;
        this.curValue = undefined;
        return;
      }
      let takeOv: boolean;
      if (ov === undefined) takeOv = false;
      else if (baseKey === undefined) takeOv = true;
      else takeOv = this.reverse ? ov[0] >= baseKey : ov[0] <= baseKey;
      if (!takeOv) {
        this.curKey = Buffer.from(this.base.key());
        this.curValue = this.base.value();
        this.remaining--;
        return;
      }
      const [k, e] = ov!;
      if (baseKey === k) this.base.next(); // the overlay shadows this base entry
      if (e.value === undefined) {
        this.stepOv();
        continue;
      }
      this.curKey = fromLatin1(k);
      this.curValue = e.value;
      this.remaining--;
      // The overlay cursor stays on k; next() steps past it.
      return;
    }
  }
}

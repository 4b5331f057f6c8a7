/**
 * MemoryEngine: the Engine contract held entirely in memory.
 *
 * A sorted-btree keyed by latin1 strings (one char per byte, so string order
 * is byte order), plus a hash index of the same keys and values for `get`
 * (src/storage/hash-index.ts): a point read then costs one hash probe
 * instead of a B-tree descent whose ~20 string comparisons each miss the
 * CPU cache on large trees (at 1M keys that descent was three quarters of
 * an embedded SQL point SELECT). The index also finds an existing key's
 * tree slot for an overwrite. It keeps its own copy of each value (get
 * answers from it; scans from the tree's slots). The index is dropped, and `get` uses the
 * tree, above getMapKeysMax keys. Snapshots are O(1) copy-on-write clones of the tree. Nothing
 * is durable: `sync()` resolves at once and `close()` drops everything. It is
 * the reference the LSM engine is tested against and the engine behind
 * `--memory` databases.
 */

import sortedBtree from 'sorted-btree';
import { fromLatin1, toLatin1 } from '../util/bytes.ts';
import { scanIterator } from './engine.ts';
import type { CheckpointInfo, Engine, EngineIterator, EngineStats, Reader, ScanOptions, Snapshot } from './engine.ts';
import { OpKind, type WriteBatch } from './write-batch.ts';
import { writeLsmCopy } from './lsm/copy.ts';
import { HashIndex } from './hash-index.ts';

// sorted-btree is CommonJS; under NodeNext its class is the `default` export property.
// (Loaded through a CommonJS transpiler, the default import is the class itself.)
const BTree: typeof sortedBtree.default =
  (sortedBtree as { default?: typeof sortedBtree.default }).default ??
  (sortedBtree as unknown as typeof sortedBtree.default);
/**
 * A key's value, held in a slot that the tree and the get map share: an
 * overwrite of an existing key (an MVCC head is rewritten several times
 * per transaction) replaces the slot's value instead of descending the
 * tree again, unless a snapshot is open (a snapshot's clone shares the
 * slots, so then the key gets a new slot through the tree).
 */
interface Slot {
  v: Buffer;
}
type Tree = InstanceType<typeof BTree<string, Slot>>;

/** Above this many keys the get index is dropped (its buckets would pass 256 MiB); an option for tests. */
const GET_MAP_KEYS_MAX = 8_000_000;

export class MemoryEngine implements Engine {
  private tree: Tree = new BTree<string, Slot>();
  /**
   * The tree's entries by key, for get and for finding an overwritten key's
   * slot (undefined once too large: see GET_MAP_KEYS_MAX). Each entry's
   * slot number is its index in `slots` (the slot holds the engine's own copy of the value).
   */
  private index: HashIndex | undefined = this.newIndex();
  private slots: (Slot | undefined)[] = [];
  private freeSlots: number[] = [];
  /** Snapshots not yet released: while any is open, slots are never changed in place. */
  private openSnapshots = 0;
  private closed = false;
  private bytes = 0;
  private readonly getMapKeysMax: number;

  constructor(options: { readonly getMapKeysMax?: number } = {}) {
    this.getMapKeysMax = options.getMapKeysMax ?? GET_MAP_KEYS_MAX;
  }

  get(key: Uint8Array): Buffer | undefined {
    this.checkOpen();
    const index = this.index;
    return index !== undefined ? index.get(key) : this.tree.get(toLatin1(key))?.v;
  }

  iterator(options: ScanOptions = {}): EngineIterator {
    this.checkOpen();
    return new TreeIterator(this.tree, options);
  }

  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this, options);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.checkOpen();
    const v = Buffer.from(value);
    if (this.index === undefined || !this.setIndexed(key, v)) this.setKey(toLatin1(key), v);
  }

  delete(key: Uint8Array): void {
    this.checkOpen();
    this.deleteKey(key);
  }

  write(batch: WriteBatch): void {
    this.checkOpen();
    for (const op of batch.ops) {
      if (op.kind === OpKind.put) {
        if (this.index === undefined || !this.setIndexed(op.key, op.value)) this.setKey(toLatin1(op.key), op.value);
      } else this.deleteKey(op.key);
    }
  }

  sync(): Promise<void> {
    this.checkOpen();
    return Promise.resolve();
  }

  snapshot(): Snapshot {
    this.checkOpen();
    this.openSnapshots++;
    return new TreeSnapshot(this.tree.clone(), () => this.openSnapshots--);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  compact(): Promise<void> {
    return Promise.resolve();
  }

  stats(): EngineStats {
    return { keys: this.tree.size, memoryBytes: this.bytes };
  }

  /**
   * Engine.checkpoint: writes a snapshot of everything into a new LSM data
   * directory at `dir` (so an in-memory database can be kept, and later
   * served with `--data dir`): writeLsmCopy. Writers go on meanwhile; the
   * copy is the snapshot's moment.
   */
  async checkpoint(dir: string): Promise<CheckpointInfo> {
    const snap = this.snapshot();
    try {
      return await writeLsmCopy(snap, dir);
    } finally {
      snap.release();
    }
  }

  close(): Promise<void> {
    this.closed = true;
    this.tree = new BTree<string, Slot>();
    this.index?.clear();
    this.slots = [];
    this.freeSlots = [];
    this.bytes = 0;
    return Promise.resolve();
  }

  private newIndex(): HashIndex {
    return new HashIndex();
  }

  /**
   * Sets a key through the index (present) to `value` (the engine's own
   * buffer; the index keeps a copy for get); false when the key is new and
   * the index is full: then the index is dropped and the caller uses setKey.
   */
  private setIndexed(key: Uint8Array, value: Buffer): boolean {
    const index = this.index!;
    const b = index.find(key);
    if (b >= 0) {
      const id = index.slotAt(b);
      const slot = this.slots[id]!;
      this.bytes += value.length - slot.v.length;
      index.replaceAt(b, key, value);
      if (this.openSnapshots === 0) slot.v = value;
      else {
        // A snapshot's clone shares the slot: the key gets a new one.
        const fresh: Slot = { v: value };
        this.slots[id] = fresh;
        this.tree.set(toLatin1(key), fresh, true);
      }
      return true;
    }
    if (index.size >= this.getMapKeysMax) {
      this.index = undefined;
      this.slots = [];
      this.freeSlots = [];
      return false;
    }
    const id = this.freeSlots.pop() ?? this.slots.length;
    index.insert(key, value, id);
    const slot: Slot = { v: value };
    this.slots[id] = slot;
    this.tree.set(toLatin1(key), slot, true);
    this.bytes += key.length + value.length;
    return true;
  }

  /** Sets a key without the index (dropped for size). */
  private setKey(k: string, v: Buffer): void {
    const old = this.tree.get(k);
    this.bytes += v.length - (old === undefined ? -k.length : old.v.length);
    if (old !== undefined && this.openSnapshots === 0) {
      old.v = v;
      return;
    }
    this.tree.set(k, { v }, true);
  }

  private deleteKey(key: Uint8Array): void {
    const index = this.index;
    const b = index === undefined ? -1 : index.find(key);
    if (index !== undefined && b < 0) return;
    const k = toLatin1(key);
    const old = b >= 0 ? this.slots[index!.slotAt(b)] : this.tree.get(k);
    if (old === undefined) return;
    this.bytes -= k.length + old.v.length;
    this.tree.delete(k);
    if (b >= 0) {
      const id = index!.slotAt(b);
      this.slots[id] = undefined;
      this.freeSlots.push(id);
      index!.deleteAt(b);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('MemoryEngine is closed');
  }
}

class TreeSnapshot implements Snapshot {
  private released = false;
  constructor(
    private readonly tree: Tree,
    private readonly onRelease: () => void,
  ) {}
  get(key: Uint8Array): Buffer | undefined {
    this.check();
    return this.tree.get(toLatin1(key))?.v;
  }
  iterator(options: ScanOptions = {}): EngineIterator {
    this.check();
    return new TreeIterator(this.tree, options);
  }
  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this as Reader, options);
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
  private check(): void {
    if (this.released) throw new Error('snapshot used after release');
  }
}

/**
 * Cursor over a btree within bounds. The tree may change underneath (the
 * engine's live tree); like LevelDB's iterators over a live memtable this
 * cursor then sees a consistent-enough order but not a snapshot. Callers
 * that need a consistent view iterate a snapshot.
 */
class TreeIterator implements EngineIterator {
  private readonly lo: string | undefined;
  private readonly loInclusive: boolean;
  private readonly hi: string | undefined;
  private readonly hiInclusive: boolean;
  private readonly reverse: boolean;
  private remaining: number;
  private cur: [string, Slot] | undefined;
  /** The value at `cur` when the iterator got there (a later in-place overwrite does not show). */
  private curValue: Buffer | undefined;
  private keyBuf: Buffer | undefined;

  constructor(
    private readonly tree: Tree,
    options: ScanOptions,
  ) {
    if (options.gt !== undefined) {
      this.lo = toLatin1(options.gt);
      this.loInclusive = false;
    } else {
      this.lo = options.gte === undefined ? undefined : toLatin1(options.gte);
      this.loInclusive = true;
    }
    if (options.lt !== undefined) {
      this.hi = toLatin1(options.lt);
      this.hiInclusive = false;
    } else {
      this.hi = options.lte === undefined ? undefined : toLatin1(options.lte);
      this.hiInclusive = true;
    }
    this.reverse = options.reverse === true;
    this.remaining = options.limit ?? Infinity;
    if (this.reverse) this.positionAtOrBelow(this.hi, this.hiInclusive);
    else this.positionAtOrAbove(this.lo, this.loInclusive);
  }

  valid(): boolean {
    return this.cur !== undefined;
  }

  key(): Buffer {
    if (this.cur === undefined) throw new Error('iterator not valid');
    this.keyBuf ??= fromLatin1(this.cur[0]);
    return this.keyBuf;
  }

  value(): Buffer {
    if (this.curValue === undefined) throw new Error('iterator not valid');
    return this.curValue;
  }

  next(): void {
    if (this.cur === undefined) return;
    const k = this.cur[0];
    if (this.reverse) this.positionAtOrBelow(k, false);
    else this.positionAtOrAbove(k, false);
  }

  seek(key: Uint8Array): void {
    const k = toLatin1(key);
    if (this.reverse) {
      const bound = this.hi !== undefined && (k > this.hi || (k === this.hi && !this.hiInclusive)) ? this.hi : k;
      this.positionAtOrBelow(bound, bound === k ? true : this.hiInclusive);
    } else {
      const bound = this.lo !== undefined && (k < this.lo || (k === this.lo && !this.loInclusive)) ? this.lo : k;
      this.positionAtOrAbove(bound, bound === k ? true : this.loInclusive);
    }
  }

  close(): void {
    this.cur = undefined;
    this.curValue = undefined;
  }

  private positionAtOrAbove(k: string | undefined, inclusive: boolean): void {
    this.keyBuf = undefined;
    let pair: [string, Slot] | undefined;
    if (k === undefined) pair = this.tree.nextHigherPair(undefined);
    else pair = inclusive ? this.tree.getPairOrNextHigher(k) : this.tree.nextHigherPair(k);
    this.settle(pair);
  }

  private positionAtOrBelow(k: string | undefined, inclusive: boolean): void {
    this.keyBuf = undefined;
    let pair: [string, Slot] | undefined;
    if (k === undefined) pair = this.tree.nextLowerPair(undefined);
    else pair = inclusive ? this.tree.getPairOrNextLower(k) : this.tree.nextLowerPair(k);
    this.settle(pair);
  }

  private settle(pair: [string, Slot] | undefined): void {
    if (pair === undefined || this.remaining <= 0 || !this.inBounds(pair[0])) {
      this.cur = undefined;
      this.curValue = undefined;
      return;
    }
    this.remaining--;
    this.cur = pair;
    this.curValue = pair[1].v;
  }

  private inBounds(k: string): boolean {
    if (this.lo !== undefined && (k < this.lo || (k === this.lo && !this.loInclusive))) return false;
    if (this.hi !== undefined && (k > this.hi || (k === this.hi && !this.hiInclusive))) return false;
    return true;
  }
}

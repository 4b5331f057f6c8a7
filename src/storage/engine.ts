/**
 * The storage Engine contract, shared by the in-memory engine and the LSM
 * engine (and run against both by the same tests).
 *
 *   reads  ──► get / iterator / snapshot      synchronous, never a Promise
 *   writes ──► put / delete / write(batch)    applied and visible at once
 *   sync() ──► Promise                         resolves once every write made
 *                                              before the call is durable
 *
 * Durability is decoupled from visibility: a write is visible to readers as
 * soon as `write` returns, and durable once a later `sync()` resolves. Many
 * concurrent callers of `sync()` share one fsync (group commit). Callers that
 * must not acknowledge before durability (a transaction commit, a Raft log
 * append) await `sync()`.
 *
 * Keys and values are byte strings compared bytewise (unsigned). The engine
 * takes ownership of nothing: it copies what it keeps, and buffers it returns
 * must not be mutated by the caller.
 */

import type { WriteBatch } from './write-batch.ts';

/** Bounds of an ordered scan; omitted bounds are open. */
export interface ScanBounds {
  /** Inclusive lower bound. */
  readonly gte?: Uint8Array;
  /** Exclusive lower bound. */
  readonly gt?: Uint8Array;
  /** Exclusive upper bound. */
  readonly lt?: Uint8Array;
  /** Inclusive upper bound. */
  readonly lte?: Uint8Array;
}

export interface ScanOptions extends ScanBounds {
  /** Iterate from the upper bound downwards. */
  readonly reverse?: boolean;
  /** Stop after this many entries. */
  readonly limit?: number;
}

/**
 * A positioned cursor over an ordered, consistent view of the keyspace.
 * Starts positioned at the first entry within bounds (or last, if reverse).
 * `key()`/`value()` are only valid while `valid()` is true; their buffers may
 * be reused after `next()`, so copy what you keep.
 */
export interface EngineIterator {
  valid(): boolean;
  key(): Buffer;
  value(): Buffer;
  next(): void;
  /** Repositions at the first entry >= key (or <= key when reverse), within bounds. */
  seek(key: Uint8Array): void;
  /** Releases resources; the iterator must not be used afterwards. Idempotent. */
  close(): void;
}

/** The read side of the engine, also offered by snapshots. */
export interface Reader {
  get(key: Uint8Array): Buffer | undefined;
  iterator(options?: ScanOptions): EngineIterator;
  /** Convenience over iterator(): copies each entry. */
  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]>;
}

/** A consistent point-in-time view; must be released. */
export interface Snapshot extends Reader {
  release(): void;
}

export interface EngineStats {
  /** Entries or bytes depend on the engine; names carry the unit last. */
  readonly [name: string]: number;
}

export interface Engine extends Reader {
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  /** Applies the batch atomically: after a crash either all of it or none is there. */
  write(batch: WriteBatch): void;
  /** Resolves when every write made before this call is durable. */
  sync(): Promise<void>;
  snapshot(): Snapshot;
  /** Persists the in-memory state (LSM: memtable to an SSTable). No-op for memory. */
  flush(): Promise<void>;
  /** Runs compaction until the tree is within its shape limits (LSM); no-op for memory. */
  compact(): Promise<void>;
  stats(): EngineStats;
  /**
   * Optional (engines that can back themselves up while serving): writes a
   * consistent copy of the whole database into `dir`, a directory that does
   * not exist yet or is empty, which `openLsmEngine({ dir })` opens as an
   * ordinary data directory. The copy holds every write made before the
   * call and is the state of a single moment: what a crash at that moment
   * would have left had everything written by then been durable.
   */
  checkpoint?(dir: string): Promise<CheckpointInfo>;
  /** Syncs, stops background work, releases files and locks. Idempotent. */
  close(): Promise<void>;
}

/** What Engine.checkpoint wrote. */
export interface CheckpointInfo {
  /** The directory written (as given). */
  readonly dir: string;
  /** Files in it, and their bytes. */
  readonly files: number;
  readonly bytes: number;
  /** Tables given a second name (hard links: no bytes copied) rather than copied. */
  readonly linked: number;
}

/** Copying scan over any iterator-producing reader, shared by implementations. */
export function* scanIterator(
  reader: Pick<Reader, 'iterator'>,
  options?: ScanOptions,
): IterableIterator<[Buffer, Buffer]> {
  const it = reader.iterator(options);
  try {
    for (; it.valid(); it.next()) yield [Buffer.from(it.key()), Buffer.from(it.value())];
  } finally {
    it.close();
  }
}

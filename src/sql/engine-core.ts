/**
 * State shared by all sessions of one SqlEngine: the transaction manager,
 * the catalog snapshot cache, the clock, backend ids and the row-id
 * generator. Sessions reach storage only through transactions from here.
 */

import type { CheckpointInfo } from '../storage/engine.ts';
import type { Clock } from '../util/clock.ts';
import type { Txn, TxnManager } from '../txn/api.ts';
import { MvccTxnManager } from '../txn/txn-manager.ts';
import { CatalogStore, sequenceKey, type CatalogSnapshot, type SequenceDef } from './catalog/catalog.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import { BackendTable } from './backends.ts';
import { SpillDir } from './exec/spill.ts';

const CATALOG_CACHE_MAX = 16;

/**
 * The catalog snapshot of `version` from `cache`, made by `load` on a miss. A failed load is forgotten (the next
 * call tries again); beyond `max` entries the oldest one goes.
 */
export function cachedCatalog(
  cache: Map<string, Promise<CatalogSnapshot>>,
  version: string,
  max: number,
  load: () => Promise<CatalogSnapshot>,
): Promise<CatalogSnapshot> {
  let p = cache.get(version);
  if (p === undefined) {
    p = load();
    p.catch(() => cache.delete(version));
    if (cache.size >= max) {
      const first = cache.keys().next().value;
      if (first !== undefined) cache.delete(first);
    }
    cache.set(version, p);
  }
  return p;
}
/** Sequence values reserved per storage round trip (PostgreSQL's CACHE); unused ones are skipped after a restart. */
const SEQUENCE_BLOCK = 32;

export class SqlEngineCore {
  private readonly catalogs = new Map<string, Promise<CatalogSnapshot>>();
  private pid = 1000;
  /** Live sessions by backend pid (pg_cancel_backend, pg_terminate_backend). */
  readonly backends = new BackendTable();
  /** Databases sessions may connect to (refreshed at open and by CREATE DATABASE). */
  databases: { oid: number; name: string }[] = [];
  private rowIdLastMs = 0;
  private rowIdSeq = 0;
  private versionSeq = 0;
  private readonly prng: Prng;
  private readonly seqCache = new Map<number, { next: bigint; left: number }>();
  private readonly seqLocks = new Map<number, Promise<unknown>>();

  /**
   * The latest committed catalog, known without reading the version key,
   * for read-only statements outside a transaction block (see
   * committedCatalog). Only when this engine's transaction manager is its
   * own: then every catalog change commits through a session of this engine.
   */
  private known: CatalogSnapshot | undefined;
  /** Transactions that wrote the catalog version and may not have ended yet. */
  private readonly catalogWriters = new Set<Txn>();
  /** Counts catalog writers seen ending: a read that overlapped one must not become `known`. */
  private catalogWritesEnded = 0;

  /**
   * This engine's own MVCC manager, for the read-only fast path of a point
   * SELECT outside a block (MvccTxnManager.readLatestCommitted); undefined
   * when transactions come from elsewhere (a shared or distributed manager).
   */
  readonly localMvcc: MvccTxnManager | undefined;

  constructor(
    readonly txns: TxnManager,
    readonly clock: Clock,
    seed: number,
    /** False when another process may change the catalog (a shared or distributed transaction manager). */
    private readonly catalogIsLocal = false,
    /** Where sessions' spill files go (see exec/spill.ts). */
    readonly spillDir: SpillDir = SpillDir.fallback(),
  ) {
    this.prng = new Prng(seed);
    this.localMvcc = catalogIsLocal && txns instanceof MvccTxnManager ? txns : undefined;
  }

  /**
   * nextdb_backup(): an online copy of the storage engine (Engine.checkpoint); undefined where the SQL
   * engine does not own its storage (a cluster node, a shared transaction manager) or the engine cannot.
   */
  checkpoint: ((dir: string) => Promise<CheckpointInfo>) | undefined;

  /** Called before a transaction writes the catalog version: no shortcut until it has ended. */
  catalogWriteBegins(txn: Txn): void {
    this.catalogWriters.add(txn);
    this.known = undefined;
  }

  /** Forgets catalog writers that ended; true when none is left. */
  private noCatalogWriter(): boolean {
    if (this.catalogWriters.size === 0) return true;
    // A committing transaction reports 'active' until its commit is complete and visible.
    for (const t of this.catalogWriters) {
      if (t.state !== 'active') {
        this.catalogWriters.delete(t);
        this.catalogWritesEnded++;
      }
    }
    return this.catalogWriters.size === 0;
  }

  /**
   * The committed catalog a new snapshot would read, without reading it:
   * known from an earlier read while no transaction that writes the catalog
   * has been live since. Undefined when unsure (then read it). Valid only
   * for a fresh implicit transaction that does not write the catalog.
   */
  committedCatalog(): CatalogSnapshot | undefined {
    if (!this.catalogIsLocal || this.known === undefined) return undefined;
    if (!this.noCatalogWriter()) {
      this.known = undefined;
      return undefined;
    }
    return this.known;
  }

  /** A mark to pass to noteCommittedCatalog, taken before a fresh implicit transaction reads the catalog. */
  catalogMark(): number {
    return this.noCatalogWriter() ? this.catalogWritesEnded : -1;
  }

  /** `catalog` was read by a fresh implicit transaction begun after `mark`: it is the committed one if no catalog writer lived meanwhile. */
  noteCommittedCatalog(catalog: CatalogSnapshot, mark: number): void {
    if (!this.catalogIsLocal || mark < 0) return;
    if (this.noCatalogWriter() && this.catalogWritesEnded === mark) this.known = catalog;
  }

  /**
   * nextval(): non-transactional like PostgreSQL's (a rolled-back
   * transaction does not give its numbers back). Values are reserved in
   * blocks by a short transaction of their own and handed out from memory.
   */
  async nextval(q: SequenceDef): Promise<bigint> {
    const c = this.seqCache.get(q.oid);
    if (c !== undefined && c.left > 0) {
      c.left--;
      const v = c.next;
      c.next += q.increment;
      return v;
    }
    // Serialize refills per sequence.
    const prev = this.seqLocks.get(q.oid) ?? Promise.resolve();
    const run = prev.then(() => this.refill(q));
    this.seqLocks.set(
      q.oid,
      run.catch(() => undefined),
    );
    await run;
    return this.nextval(q);
  }

  private async refill(q: SequenceDef): Promise<void> {
    const c = this.seqCache.get(q.oid);
    if (c !== undefined && c.left > 0) return;
    for (let attempt = 0; ; attempt++) {
      const txn = this.txns.begin({ isolation: 'serializable' });
      try {
        const key = sequenceKey(q.oid);
        const cur = await txn.get(key);
        let first = cur === undefined ? q.start : BigInt(cur.toString('utf8')) + q.increment;
        if (first > q.max || first < q.min) {
          if (!q.cycle) {
            throw new NextDbError(
              '2200H',
              `nextval: reached ${first > q.max ? 'maximum' : 'minimum'} value of sequence "${q.name}" (${first > q.max ? q.max : q.min})`,
            );
          }
          first = q.increment > 0n ? q.min : q.max;
        }
        const room = q.increment > 0n ? (q.max - first) / q.increment + 1n : (first - q.min) / -q.increment + 1n;
        const n = room < BigInt(SEQUENCE_BLOCK) ? Number(room) : SEQUENCE_BLOCK;
        await txn.put(key, Buffer.from((first + BigInt(n - 1) * q.increment).toString(), 'utf8'));
        await txn.commit();
        this.seqCache.set(q.oid, { next: first, left: n });
        return;
      } catch (e) {
        if (txn.state === 'active') await txn.rollback().catch(() => undefined);
        if (
          e instanceof NextDbError &&
          (e.code === SqlState.serializationFailure || e.code === SqlState.deadlockDetected) &&
          attempt < 10
        )
          continue;
        throw e;
      }
    }
  }

  /** setval(): writes the new position at once and drops reserved values. */
  async setval(q: SequenceDef, last: bigint): Promise<void> {
    this.seqCache.delete(q.oid);
    const txn = this.txns.begin({ isolation: 'serializable' });
    try {
      await txn.put(sequenceKey(q.oid), Buffer.from(last.toString(), 'utf8'));
      await txn.commit();
    } catch (e) {
      if (txn.state === 'active') await txn.rollback().catch(() => undefined);
      throw e;
    }
  }

  /** Forgets reserved values (TRUNCATE ... RESTART IDENTITY, DROP). */
  resetSequence(oid: number): void {
    this.seqCache.delete(oid);
  }

  nextBackendPid(): number {
    return ++this.pid;
  }

  random(): number {
    return this.prng.next();
  }

  /** Catalog snapshot for `version`, loaded through `txn` on a cache miss. */
  catalog(version: string, txn: Txn): Promise<CatalogSnapshot> {
    return cachedCatalog(this.catalogs, version, CATALOG_CACHE_MAX, () => CatalogStore.load(txn, version));
  }

  /** A new catalog version token: unique per engine, ordered, and distinct across restarts. */
  newVersionToken(): string {
    return `${Math.floor(this.clock.nowMs())}.${++this.versionSeq}.${Math.floor(this.prng.next() * 1e9)}`;
  }

  /** Unique, roughly time-ordered int8 for hidden rowids: milliseconds × 2^16 + sequence. */
  uniqueRowId(): bigint {
    const ms = Math.floor(this.clock.nowMs());
    if (ms > this.rowIdLastMs) {
      this.rowIdLastMs = ms;
      this.rowIdSeq = 0;
    } else if (++this.rowIdSeq >= 65536) {
      this.rowIdLastMs++;
      this.rowIdSeq = 0;
    }
    return (BigInt(this.rowIdLastMs) << 16n) | BigInt(this.rowIdSeq);
  }
}

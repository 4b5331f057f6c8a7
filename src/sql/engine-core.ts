/**
 * State shared by all sessions of one SqlEngine: the transaction manager,
 * the catalog snapshot cache, the clock, backend ids and the row-id
 * generator. Sessions reach storage only through transactions from here.
 */

import type { Clock } from '../util/clock.ts';
import type { Txn, TxnManager } from '../txn/api.ts';
import { CatalogStore, type CatalogSnapshot } from './catalog/catalog.ts';
import { Prng } from '../util/prng.ts';

const CATALOG_CACHE_MAX = 16;

export class SqlEngineCore {
  private readonly catalogs = new Map<string, Promise<CatalogSnapshot>>();
  private pid = 1000;
  private rowIdLastMs = 0;
  private rowIdSeq = 0;
  private versionSeq = 0;
  private readonly prng: Prng;

  constructor(
    readonly txns: TxnManager,
    readonly clock: Clock,
    seed: number,
  ) {
    this.prng = new Prng(seed);
  }

  nextBackendPid(): number {
    return ++this.pid;
  }

  random(): number {
    return this.prng.next();
  }

  /** Catalog snapshot for `version`, loaded through `txn` on a cache miss. */
  catalog(version: string, txn: Txn): Promise<CatalogSnapshot> {
    let p = this.catalogs.get(version);
    if (p === undefined) {
      p = CatalogStore.load(txn, version);
      p.catch(() => this.catalogs.delete(version));
      if (this.catalogs.size >= CATALOG_CACHE_MAX) {
        const first = this.catalogs.keys().next().value;
        if (first !== undefined) this.catalogs.delete(first);
      }
      this.catalogs.set(version, p);
    }
    return p;
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

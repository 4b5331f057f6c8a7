/**
 * Temporary tables (CREATE TEMP TABLE): a session's private keyspace.
 *
 * A session that creates its first temporary object gets a TempSpace: an
 * MVCC transaction manager of its own over an in-memory engine. Its
 * transactions are wrapped (TempTxn) so that every key of a temporary
 * object goes to that private store and every other key to the shared
 * one, inside one transaction as the SQL layer sees it:
 *
 *            SQL layer (catalog, DDL, executor) — one Txn
 *                              │
 *                           TempTxn ── key of a temp object? ──┐
 *                              │ no                            │ yes
 *                  shared Txn (replicated, durable)   private Txn (this session, memory)
 *
 * Which keys are private is decided by OID alone: temporary objects (the
 * pg_temp_N schema, tables, sequences) get OIDs from TEMP_OID_BASE up, out
 * of a counter kept in the private store, so their catalog descriptors
 * ('c' kind oid), rows and index entries ('t' oid ...) and sequence
 * positions ('q' oid) all sort into the upper part of their key space and
 * never reach the shared keyspace: other sessions do not see them, replicas
 * never get them, and a restart has nothing to forget. Closing the session
 * drops the whole store.
 *
 * Catalog: the catalog version the session reads is the shared token and
 * the private one joined by '~'; a snapshot is the shared snapshot with the
 * private descriptors added (loaded through the private transaction only).
 * DDL that writes only private descriptors bumps only the private token, so
 * other sessions keep their cached catalog.
 *
 * Transactions: the private transaction begins, commits and rolls back
 * (also to savepoints) with the shared one; the shared commit goes first
 * and the private one cannot fail (nobody else writes the private store).
 * ON COMMIT DELETE ROWS / DROP run just before the shared commit.
 *
 * Sessions without temporary objects never see any of this.
 */

import type { Txn, TxnManager, IsolationLevel, KeyValue, TxnScanOptions, TxnState } from '../txn/api.ts';
import { MvccTxnManager } from '../txn/txn-manager.ts';
import { MemoryEngine } from '../storage/index.ts';
import type { Clock } from '../util/clock.ts';
import { prefixSuccessor } from '../encoding/key-codec.ts';
import {
  CatalogSnapshot,
  CatalogStore,
  OID_KEY,
  VERSION_KEY,
  catalogKey,
  catalogKindPrefix,
  sequenceKey,
  tablePrefix,
  type SchemaDef,
} from './catalog/catalog.ts';
import { SqlEngineCore, cachedCatalog } from './engine-core.ts';

/** Temporary objects' OIDs start here (below 2^31, so an OID still fits a signed int4 anywhere). */
export const TEMP_OID_BASE = 2_000_000_000;

export function isTempOid(oid: number): boolean {
  return oid >= TEMP_OID_BASE;
}

/**
 * DDL that creates a temporary object (or an index, constraint ... of one)
 * calls this before allocating OIDs: until the statement ends
 * (TempSpace.endStatement) they come from the session's private counter.
 */
export function markTempDdl(txn: Txn): void {
  if (txn instanceof TempTxn) txn.space.tempDdl = true;
}

/** A private key range: [start, end). */
interface Region {
  readonly start: Buffer;
  readonly end: Buffer;
}

const CATALOG_KINDS = ['db', 'schema', 'rel', 'seq', 'role', 'func', 'acl'] as const;

const REGIONS: readonly Region[] = [
  { start: tablePrefix(TEMP_OID_BASE), end: Buffer.from([0x75]) },
  { start: sequenceKey(TEMP_OID_BASE), end: Buffer.from([0x72]) },
  ...CATALOG_KINDS.map((k) => ({ start: catalogKey(k, TEMP_OID_BASE), end: prefixSuccessor(catalogKindPrefix(k))! })),
];

function isPrivateKey(key: Uint8Array): boolean {
  for (const r of REGIONS) if (Buffer.compare(key, r.start) >= 0 && Buffer.compare(key, r.end) < 0) return true;
  return false;
}

const CATALOG_CACHE_MAX = 4;

/** One session's temporary objects: the private store and its catalog snapshots. */
export class TempSpace {
  /** The session's temporary schema: pg_temp_<backend pid>. */
  readonly schema: SchemaDef;
  /** Sequences of temporary tables (SERIAL): the engine's nextval over the private store. */
  readonly sequences: SqlEngineCore;
  /** A temp table with ON COMMIT DELETE ROWS / DROP was created: commits look for them. */
  hasOnCommit = false;
  /** Set while DDL creates temporary objects: OIDs come from the private counter. */
  tempDdl = false;
  private versionSeq = 0;
  private readonly catalogs = new Map<string, Promise<CatalogSnapshot>>();

  private constructor(
    private readonly mgr: MvccTxnManager,
    private readonly pid: number,
    dbOid: number,
    clock: Clock,
    /** ON COMMIT actions, run in the committing transaction (the session drops and empties tables). */
    readonly onCommit: (txn: TempTxn) => Promise<void>,
  ) {
    this.schema = { oid: TEMP_OID_BASE, dbOid, name: `pg_temp_${pid}` };
    this.sequences = new SqlEngineCore(mgr, clock, pid);
  }

  static async create(
    pid: number,
    dbOid: number,
    clock: Clock,
    onCommit: (txn: TempTxn) => Promise<void>,
  ): Promise<TempSpace> {
    const mgr = await MvccTxnManager.open(new MemoryEngine(), { clock, gcEveryCommits: 256 });
    const space = new TempSpace(mgr, pid, dbOid, clock, onCommit);
    const txn = mgr.begin({ isolation: 'read committed' });
    await CatalogStore.put(txn, 'schema', space.schema.oid, space.schema);
    await txn.put(OID_KEY, Buffer.from(String(TEMP_OID_BASE + 1), 'utf8'));
    await txn.put(VERSION_KEY, Buffer.from(space.nextVersion(), 'utf8'));
    await txn.commit();
    return space;
  }

  nextVersion(): string {
    return `${this.pid}.${++this.versionSeq}`;
  }

  /** Wraps a shared transaction: from now on it also reads and writes this session's temporary objects. */
  wrap(shared: Txn): TempTxn {
    return shared instanceof TempTxn
      ? shared
      : new TempTxn(this, shared, this.mgr.begin({ isolation: 'read committed' }));
  }

  /** The snapshot for a joined version: the shared one (from the engine's cache) plus the private descriptors. */
  catalog(version: string, txn: TempTxn, core: SqlEngineCore): Promise<CatalogSnapshot> {
    return cachedCatalog(this.catalogs, version, CATALOG_CACHE_MAX, async () => {
      const shared = version.slice(0, version.lastIndexOf('~'));
      const base = await core.catalog(shared, txn.shared);
      const mine = await CatalogStore.load(txn.mine, version);
      return new CatalogSnapshot(
        version,
        [...base.databases.values(), ...mine.databases.values()],
        [...base.schemas.values(), ...mine.schemas.values()],
        [...base.tables.values(), ...mine.tables.values()],
        [...base.sequences.values(), ...mine.sequences.values()],
        [...base.roles.values(), ...mine.roles.values()],
        [...base.functions.values(), ...mine.functions.values()],
        [...base.acls.values(), ...mine.acls.values()],
      );
    });
  }

  /** Ends the session's temporary objects (session end, DISCARD TEMP). */
  async close(): Promise<void> {
    this.catalogs.clear();
    await (this.mgr as TxnManager).close();
  }
}

/** A shared transaction joined with the session's private one (see the header). */
export class TempTxn implements Txn {
  /** The version token of this transaction's DDL, until it is written to the shared keyspace too. */
  private versionToken: Buffer | undefined;
  private sharedVersionWritten = false;
  private sharedCatalogWritten = false;
  private committing = false;

  constructor(
    readonly space: TempSpace,
    readonly shared: Txn,
    readonly mine: Txn,
  ) {}

  get id(): string {
    return this.shared.id;
  }
  get isolation(): IsolationLevel {
    return this.shared.isolation;
  }
  get readOnly(): boolean {
    return this.shared.readOnly;
  }
  get state(): TxnState {
    return this.shared.state;
  }

  beginStatement(): void {
    this.shared.beginStatement();
    this.mine.beginStatement();
  }

  private route(key: Uint8Array): Txn {
    return isPrivateKey(key) ? this.mine : this.shared;
  }

  async get(key: Uint8Array): Promise<Buffer | undefined> {
    if (Buffer.compare(key, VERSION_KEY) === 0) {
      const shared = await this.shared.get(key);
      const mine = await this.mine.get(key);
      return Buffer.from(`${shared?.toString('utf8') ?? ''}~${mine?.toString('utf8') ?? ''}`, 'utf8');
    }
    if (Buffer.compare(key, OID_KEY) === 0) return (this.space.tempDdl ? this.mine : this.shared).get(key);
    return this.route(key).get(key);
  }

  async scan(options: TxnScanOptions): Promise<KeyValue[]> {
    let overlaps = false;
    for (const r of REGIONS) {
      if (Buffer.compare(options.start, r.start) >= 0 && Buffer.compare(options.end, r.end) <= 0)
        return this.mine.scan(options);
      if (Buffer.compare(options.start, r.end) < 0 && Buffer.compare(options.end, r.start) > 0) overlaps = true;
    }
    if (!overlaps) return this.shared.scan(options);
    // Both stores: each holds no key of the other's ranges, so merging in key order is the answer.
    const a = await this.shared.scan(options);
    const b = await this.mine.scan(options);
    const sign = options.reverse === true ? -1 : 1;
    const out: KeyValue[] = [];
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    let i = 0;
    let j = 0;
    while (out.length < limit && (i < a.length || j < b.length)) {
      if (j >= b.length || (i < a.length && sign * Buffer.compare(a[i]!.key, b[j]!.key) < 0)) out.push(a[i++]!);
      else out.push(b[j++]!);
    }
    return out;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (Buffer.compare(key, VERSION_KEY) === 0) {
      // DDL bumps the version: the private token always (this session reloads its snapshot), the shared one
      // only when this transaction changed a shared descriptor (or does so later).
      this.versionToken = Buffer.from(value);
      await this.mine.put(key, Buffer.from(this.space.nextVersion(), 'utf8'));
      if (this.sharedCatalogWritten) await this.writeSharedVersion();
      return;
    }
    if (Buffer.compare(key, OID_KEY) === 0) return (this.space.tempDdl ? this.mine : this.shared).put(key, value);
    const to = this.route(key);
    if (to === this.shared && key[0] === 0x63) await this.sharedCatalogChange();
    return to.put(key, value);
  }

  async delete(key: Uint8Array): Promise<void> {
    const to = this.route(key);
    if (to === this.shared && key[0] === 0x63) await this.sharedCatalogChange();
    return to.delete(key);
  }

  private async sharedCatalogChange(): Promise<void> {
    this.sharedCatalogWritten = true;
    if (this.versionToken !== undefined && !this.sharedVersionWritten) await this.writeSharedVersion();
  }

  private async writeSharedVersion(): Promise<void> {
    this.sharedVersionWritten = true;
    await this.shared.put(VERSION_KEY, this.versionToken!);
  }

  lockForUpdate(key: Uint8Array): Promise<void> {
    return this.route(key).lockForUpdate(key);
  }

  getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    return this.route(key).getForUpdate(key);
  }

  savepoint(name: string): void {
    this.shared.savepoint(name);
    this.mine.savepoint(name);
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    await this.shared.rollbackToSavepoint(name);
    await this.mine.rollbackToSavepoint(name);
  }

  releaseSavepoint(name: string): void {
    this.shared.releaseSavepoint(name);
    this.mine.releaseSavepoint(name);
  }

  async commit(): Promise<void> {
    if (!this.committing && this.space.hasOnCommit && this.shared.state === 'active') {
      this.committing = true;
      try {
        await this.space.onCommit(this);
      } catch (e) {
        await this.rollback().catch(() => undefined);
        throw e;
      }
    }
    try {
      await this.shared.commit();
    } catch (e) {
      if (this.mine.state === 'active') await this.mine.rollback();
      throw e;
    }
    await this.mine.commit();
  }

  async rollback(): Promise<void> {
    try {
      if (this.shared.state === 'active') await this.shared.rollback();
    } finally {
      if (this.mine.state === 'active') await this.mine.rollback();
    }
  }
}

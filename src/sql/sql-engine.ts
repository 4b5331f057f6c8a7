/**
 * SqlEngine: the SQL layer's entry point, used by the protocol server and
 * the embedded API.
 *
 *   const sql = await SqlEngine.open({ engine });
 *   const session = sql.createSession({ user: 'postgres', database: 'postgres' });
 *   await session.simpleQuery('SELECT 1');
 *
 * Opening loads the parser, opens the MVCC transaction manager over the
 * storage engine and, on an empty keyspace, creates database `postgres`
 * with schemas `public` and `pg_catalog`. The superuser `postgres` exists
 * implicitly (authentication is the server's business).
 */

import type { CheckpointInfo, Engine } from '../storage/engine.ts';
import type { TxnManager } from '../txn/api.ts';
import { openTxnManager } from '../txn/index.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { NextDbError } from '../util/errors.ts';
import { loadParser } from './parser.ts';
import { CatalogStore } from './catalog/catalog.ts';
import { SqlEngineCore } from './engine-core.ts';
import { SqlSession } from './session.ts';
import { findRole } from './exec/roles.ts';
import { SpillDir } from './exec/spill.ts';
import type { RoleInfo, RoleLookup } from './api.ts';

export interface SqlEngineOptions {
  readonly engine: Engine;
  readonly clock?: Clock;
  /** Seed for random(); default from the clock. */
  readonly seed?: number;
  /** Use this transaction manager instead of opening one over `engine` (tests, the cluster layer). */
  readonly txnManager?: TxnManager;
  /**
   * nextdb_backup(): how to copy the database (a cluster node's backup). Default: `engine.checkpoint` when
   * this SQL engine owns its storage (no `txnManager` given); none otherwise (0A000).
   */
  readonly checkpoint?: (dir: string) => Promise<CheckpointInfo>;
  /** The data directory: spill files go to `<dataDir>/tmp` (emptied at open); without it, under os.tmpdir(). */
  readonly dataDir?: string;
}

export interface StartupInfo {
  readonly user: string;
  readonly database: string;
  readonly params?: Record<string, string>;
}

export class SqlEngine implements RoleLookup {
  private readonly sessions = new Set<SqlSession>();
  private closed = false;

  private constructor(
    private readonly core: SqlEngineCore,
    private readonly ownsTxns: boolean,
  ) {}

  static async open(options: SqlEngineOptions): Promise<SqlEngine> {
    await loadParser();
    const clock = options.clock ?? systemClock;
    const txns = options.txnManager ?? (await openTxnManager(options.engine));
    // With its own transaction manager this engine sees every catalog change commit (SqlEngineCore.committedCatalog).
    const core = new SqlEngineCore(
      txns,
      clock,
      options.seed ?? Math.floor(clock.nowMs()) % 2147483647,
      options.txnManager === undefined,
      await SpillDir.open(options.dataDir),
    );
    const storage = options.engine;
    if (options.checkpoint !== undefined) core.checkpoint = options.checkpoint;
    else if (options.txnManager === undefined && storage.checkpoint !== undefined)
      core.checkpoint = (dir) => storage.checkpoint!(dir);
    const txn = txns.begin({ isolation: 'serializable' });
    try {
      await CatalogStore.bootstrap(txn);
      await txn.commit();
    } catch (e) {
      if (txn.state === 'active') await txn.rollback();
      throw e;
    }
    const engine = new SqlEngine(core, options.txnManager === undefined);
    await engine.refreshDatabases();
    return engine;
  }

  private async refreshDatabases(): Promise<void> {
    const txn = this.core.txns.begin({ readOnly: true, isolation: 'read committed' });
    try {
      const snap = await CatalogStore.load(txn, `list-${Math.random()}`);
      this.core.databases = [...snap.databases.values()];
    } finally {
      await txn.rollback();
    }
  }

  /** Creates a session; unknown databases raise 3D000 (as PostgreSQL's startup does). */
  createSession(startup: StartupInfo): SqlSession {
    if (this.closed) throw new NextDbError('57P01', 'the database engine is shutting down');
    const db = this.core.databases.find((d) => d.name === startup.database);
    if (db === undefined) throw new NextDbError('3D000', `database "${startup.database}" does not exist`);
    const s = new SqlSession(this.core, startup.user, startup.database, db.oid, startup.params ?? {});
    this.sessions.add(s);
    return s;
  }

  /**
   * The role a login names (RoleLookup, for the server's authentication):
   * the built-in superuser `postgres` or a role made by CREATE ROLE/USER.
   * Read from the latest committed catalog.
   */
  async lookupRole(name: string): Promise<RoleInfo | undefined> {
    const txn = this.core.txns.begin({ readOnly: true, isolation: 'read committed' });
    try {
      const snap = await CatalogStore.load(txn, `roles-${Math.random()}`);
      const r = findRole(snap, name);
      return r === undefined
        ? undefined
        : { name: r.name, canLogin: r.login, superuser: r.superuser, password: r.password };
    } finally {
      await txn.rollback();
    }
  }

  /** Database names, refreshed from the catalog. */
  async listDatabases(): Promise<string[]> {
    await this.refreshDatabases();
    return this.core.databases.map((d) => d.name);
  }

  /** Makes databases created by CREATE DATABASE visible to createSession. */
  async refresh(): Promise<void> {
    await this.refreshDatabases();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sessions) await s.close();
    this.sessions.clear();
    if (this.ownsTxns) await this.core.txns.close();
    await this.core.spillDir.close();
  }
}

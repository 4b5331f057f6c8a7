/**
 * One SQL session: transaction state, settings, prepared statements and
 * portals, behind the `Session` interface of api.ts.
 *
 * Transactions: outside BEGIN each statement runs in its own implicit
 * transaction, committed when it ends (and retried up to 3 times on a
 * serialization failure, since nothing has been returned to the client
 * yet). Inside BEGIN the statements share the block's transaction; an
 * error puts the block in the failed state ('E'), where only ROLLBACK (or
 * ROLLBACK TO SAVEPOINT) is accepted, as in PostgreSQL.
 *
 * Catalog: each statement reads the catalog version token through its
 * transaction and uses the engine's cached snapshot for that version. Two
 * exceptions: a prepared point SELECT outside a block uses the committed
 * catalog the engine already knows, when no transaction that wrote the
 * catalog has been live since it was read (SqlEngineCore.committedCatalog);
 * and a statement in a block reuses the catalog an earlier statement of the
 * block read while the transaction's snapshot is the same and it holds no
 * intent on the version key (catalogFor): the same read would give the
 * same version.
 *
 * Extended protocol: Parse binds the statement once (parameter and result
 * types); the optimized plan is cached on the prepared statement and reused
 * while the catalog version and the relevant settings are unchanged
 * (plan/plan-cache.ts; a primary-key point SELECT runs as a compiled lookup,
 * exec/point-lookup.ts). A
 * portal runs its statement on the first Execute and hands out the rows in
 * `maxRows` slices (PortalSuspended in between).
 */

import type { CheckpointInfo } from '../storage/engine.ts';
import type { Node } from '@pgsql/types';
import { NextDbError, SqlState, notSupported } from '../util/errors.ts';
import { assert } from '../util/assert.ts';
import type { IsolationLevel, Txn } from '../txn/api.ts';
import { isStatementRetry } from '../txn/conflict-errors.ts';
import { MvccTxn } from '../txn/transaction.ts';
import { headKey } from '../txn/keys.ts';
import { prefixSuccessor } from '../encoding/key-codec.ts';
import {
  FormatCode,
  type ColumnDescription,
  type CopyIn,
  type CopyOut,
  type Notice,
  type PartialResultsCarrier,
  type PortalResult,
  type PreparedStatementInfo,
  type Session,
  type StatementResult,
  type TxnStatus,
} from './api.ts';
import { parseSql, type ParsedStatement } from './parser.ts';
import {
  CatalogStore,
  VERSION_KEY,
  tablePrefix,
  type CatalogSnapshot,
  type SequenceDef,
  type ColumnDef,
  type TableDef,
} from './catalog/catalog.ts';
import { Binder, type BoundQuery } from './plan/binder.ts';
import { optimize } from './plan/optimizer.ts';
import type { OutputColumn, Plan } from './plan/plan.ts';
import { EvalContext, type SessionServices } from './exec/eval-context.ts';
import { runPlan, type ExecEnv, type OperatorStats } from './exec/executor.ts';
import { parseMemorySetting, SpillSpace, type SpillSettings } from './exec/spill.ts';
import { readOnlyTransaction } from './exec/modify.ts';
import {
  alterTable,
  createFunction,
  createIndex,
  createSchema,
  createSequence,
  createTable,
  createView,
  drop,
  rename,
  truncate,
  type DdlContext,
} from './exec/ddl.ts';
import { Types, typeByOid, type SqlType, type Value } from './types/sql-type.ts';
import { formatBinary, formatText, parseBinary, parseText, type IoSettings } from './types/text-io.ts';
import { SETTINGS, DISPLAY_NAMES, settingKey } from './settings.ts';
import { explainPlan } from './plan/explain.ts';
import { CachedPlan } from './plan/plan-cache.ts';
import type { PointLookup } from './exec/point-lookup.ts';
import {
  virtualRelation,
  virtualOid,
  indexDef,
  constraintDef,
  functionText,
  type CursorInfo,
} from './catalog/pg-catalog.ts';
import type { SqlEngineCore } from './engine-core.ts';
import { compileExpr, CompileEnv, layoutOf } from './exec/compile-expr.ts';
import { CopyLoader, copyOptions, copyOutChunks } from './exec/copy.ts';
import { alterRole, createRole, dropRole, findRole } from './exec/roles.ts';
import type { Backend } from './backends.ts';
import { PlRuntime } from './plpgsql/host.ts';
import { createTrigger, triggerDef } from './exec/trigger-ddl.ts';
import { grantRevoke, privilegeAnswer } from './exec/privileges.ts';
import type { CopyFormatOptions } from '../wire/copy-format.ts';
import { TempSpace, TempTxn, isTempOid } from './temp-space.ts';
import { createTableAs } from './exec/create-table-as.ts';
import { Cursors, cursorOptions } from './cursors.ts';
import { isTempRelation } from './exec/ddl.ts';

interface ExecResult {
  readonly tag: string;
  readonly cols?: readonly OutputColumn[];
  readonly rows?: Value[][];
  /** COPY FROM STDIN waiting for data / COPY TO STDOUT's data. */
  readonly copyIn?: CopyIn;
  readonly copyOut?: CopyOut;
}

/** A statement's result with rows (a SELECT's). */
interface RowsResult extends ExecResult {
  readonly cols: readonly OutputColumn[];
  readonly rows: Value[][];
}

interface Prepared {
  readonly name: string;
  readonly parsed: ParsedStatement | undefined;
  readonly sql: string;
  readonly paramTypes: SqlType[];
  readonly columns: readonly OutputColumn[] | undefined;
  cache?: CachedPlan;
}

interface Portal {
  readonly stmt: Prepared;
  readonly params: Value[];
  readonly resultFormats: readonly FormatCode[];
  result?: ExecResult;
  pos: number;
}

const MEMORY_ROWS_MAX = 5_000_000;
/**
 * `[+-]?[0-9]{1,9}` in ASCII bytes as a number (-0 as 0), else undefined:
 * what parseText gives for such text as int4 (int2 when in its range),
 * which decides everything else (spaces, longer numbers, errors).
 */
function smallIntBytes(b: Uint8Array): number | undefined {
  const len = b.length;
  const c0 = b[0];
  const signed = c0 === 45 || c0 === 43; // '-' or '+'
  let i = signed ? 1 : 0;
  if (len === i || len - i > 9) return undefined;
  let n = 0;
  for (; i < len; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return c0 === 45 ? -n || 0 : n;
}

/** The catalog version key's MVCC head key as latin1, as MvccTxn.holdsIntent takes it. */
const VERSION_HEAD_LATIN1 = headKey(VERSION_KEY).toString('latin1');
/** Long statements give the event loop a turn this often (cancel requests, other sessions). */
const YIELD_EVERY_MS = 10;
/** The (empty) input row of a statement without FROM (see constantNow). */
const NO_VALUES: readonly Value[] = [];

export class SqlSession implements Session, Backend {
  private block: Txn | undefined;
  /** SET TRANSACTION READ ONLY (or SET transaction_read_only = on) inside the open block. */
  private blockReadOnly = false;
  private failed = false;
  private readonly settings = new Map<string, string>();
  /** Values to restore at the end of the transaction (SET LOCAL). */
  private localRestore: Map<string, string | undefined> | undefined;
  private readonly prepared = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  /** The unnamed portal, outside the Map: every Bind replaces it and every Sync drops it. */
  private unnamedPortal: Portal | undefined;
  private cancelRequested = false;
  private deadlineMs = 0;
  private readonly seqLast = new Map<number, bigint>();
  readonly backendPid: number;
  private txnStartMicros = 0n;
  private stmtStartMicros = 0n;
  private closed = false;
  private lastCatalog: CatalogSnapshot | undefined;
  private lastYieldMs = 0;
  /** PL/pgSQL: the runtime (made on first use) and RAISE notices for the current statement's result. */
  private plRuntime: PlRuntime | undefined;
  private readonly pendingNotices: Notice[] = [];
  /** Temporary tables: the session's private keyspace, made by its first CREATE TEMP (temp-space.ts). */
  private temp: TempSpace | undefined;
  /** DECLARE CURSOR: the open cursors (made on first use; cursors.ts). */
  private cursors: Cursors | undefined;
  /** Spill files of this session's statements (sorts, hashes over work_mem). */
  private readonly spill: SpillSpace;
  /** Settings read by every statement, parsed once; undefined after any setting changed. */
  private hot:
    | {
        readonly settingsKey: string;
        readonly timeoutMs: number;
        readonly isolation: IsolationLevel;
        readonly readOnly: boolean;
        readonly timeZone: string;
        readonly extraFloatDigits: number;
      }
    | undefined;

  /** The authenticated user (SET SESSION AUTHORIZATION may act as another one only when this is a superuser). */
  private readonly loginUser: string;
  /** SET SESSION AUTHORIZATION: session_user (undefined: the authenticated user). */
  private sessionAuth: string | undefined;
  /** SET ROLE: current_user (undefined: NONE, i.e. session_user). Privilege checks follow it. */
  private role: string | undefined;

  /** current_user: the role privileges are checked for (SET ROLE), else session_user. */
  get user(): string {
    return this.role ?? this.sessionAuth ?? this.loginUser;
  }

  /** session_user. */
  get sessionUser(): string {
    return this.sessionAuth ?? this.loginUser;
  }

  constructor(
    private readonly core: SqlEngineCore,
    user: string,
    readonly database: string,
    readonly dbOid: number,
    params: Record<string, string>,
  ) {
    this.loginUser = user;
    this.backendPid = core.nextBackendPid();
    core.backends.add(this);
    this.spill = new SpillSpace(core.spillDir, () => spillSettings(this));
    this.settings.set('session_authorization', user);
    for (const [k, v] of Object.entries(params)) {
      const key = settingKey(k);
      if (key === 'user' || key === 'database' || key === 'options' || key === 'replication') continue;
      try {
        this.setSetting(key, v, false);
      } catch {
        // Unknown startup parameters are ignored here (the server may reject them).
      }
    }
  }

  get txnStatus(): TxnStatus {
    if (this.block === undefined) return 'I';
    return this.failed ? 'E' : 'T';
  }

  // ---------------------------------------------------------------- settings

  getSetting(name: string): string | undefined {
    const key = settingKey(name);
    const v = this.settings.get(key);
    if (v !== undefined) return v;
    if (key === 'transaction_isolation' && this.block !== undefined) return this.block.isolation;
    if (key === 'role') return this.role ?? 'none';
    if (key === 'transaction_read_only') {
      const ro = this.block !== undefined ? this.readOnlyTxn(this.block) : this.hotSettings().readOnly;
      return ro ? 'on' : 'off';
    }
    const def = SETTINGS[key];
    if (def !== undefined) return def.default;
    return undefined;
  }

  /** Names of settings whose value the server reports (ParameterStatus). */
  reportedSettings(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, def] of Object.entries(SETTINGS))
      if (def.report === true) out[DISPLAY_NAMES[k] ?? k] = this.getSetting(k) ?? '';
    return out;
  }

  private setSetting(name: string, value: string, isLocal: boolean): void {
    const key = settingKey(name);
    const def = SETTINGS[key];
    if (def === undefined && !key.includes('.'))
      throw new NextDbError('42704', `unrecognized configuration parameter "${name}"`);
    if (def?.readOnly === true && key !== 'session_authorization')
      throw new NextDbError('55P02', `parameter "${name}" cannot be changed`);
    const v = def?.normalize !== undefined ? def.normalize(value) : value;
    if (key === 'transaction_isolation') {
      if (this.block === undefined) return;
      throw notSupported('changing the isolation level after BEGIN', 'use BEGIN ISOLATION LEVEL ...');
    }
    if (key === 'transaction_read_only') {
      // The current transaction's mode: outside a block, the statement's own transaction is over already.
      if (this.block !== undefined) this.setBlockReadOnly(v === 'on');
      return;
    }
    if (isLocal && this.block !== undefined) {
      this.localRestore ??= new Map();
      if (!this.localRestore.has(key)) this.localRestore.set(key, this.settings.get(key));
    }
    this.settings.set(key, v);
    this.settingsChanged();
  }

  private resetSetting(name: string): void {
    const key = settingKey(name);
    if (SETTINGS[key] === undefined && !key.includes('.'))
      throw new NextDbError('42704', `unrecognized configuration parameter "${name}"`);
    this.settings.delete(key);
    this.settingsChanged();
  }

  // Created once: they read the session's latest catalog when called.
  private readonly namespaceNameFn = (oid: number): string | undefined => this.lastCatalog?.schemas.get(oid)?.name;
  private readonly relationNameFn = (oid: number): string | undefined =>
    this.lastCatalog === undefined ? undefined : this.relationNameIn(this.lastCatalog, oid);

  /** regclass output: a table's, view's, sequence's or index's name, schema-qualified when not on the search path (PostgreSQL's rule). */
  private relationNameIn(cat: CatalogSnapshot, oid: number): string | undefined {
    const named = (schema: string, name: string): string =>
      schema === 'public' || schema === this.searchPath()[0] ? name : `${schema}.${name}`;
    const t = cat.tables.get(oid);
    if (t !== undefined) return named(t.schema, t.name);
    const q = cat.sequences.get(oid);
    if (q !== undefined) return named(q.schema, q.name);
    for (const tt of cat.tables.values())
      for (const ix of tt.indexes) if (ix.oid === oid) return named(tt.schema, ix.name);
    return undefined;
  }

  private lastIo: IoSettings | undefined;
  private lastIoHot: SqlSession['hot'];

  /** The session's text I/O settings (immutable; the last one is reused while the settings and transaction start are the same). */
  io(): IoSettings {
    const hot = this.hotSettings();
    const last = this.lastIo;
    if (last !== undefined && this.lastIoHot === hot && last.nowMicros === this.txnStartMicros) return last;
    this.lastIoHot = hot;
    return (this.lastIo = {
      timeZone: hot.timeZone,
      extraFloatDigits: hot.extraFloatDigits,
      nowMicros: this.txnStartMicros,
      namespaceName: this.namespaceNameFn,
      relationName: this.relationNameFn,
    });
  }

  searchPath(): string[] {
    const raw = this.getSetting('search_path') ?? 'public';
    const out: string[] = [];
    for (const part of raw.split(',')) {
      const s = part.trim().replace(/^"(.*)"$/, '$1');
      if (s === '') continue;
      out.push(s === '$user' ? this.user : s);
    }
    if (!out.includes('pg_catalog')) out.push('pg_catalog');
    if (this.temp !== undefined) {
      // The temporary schema is searched first unless search_path places pg_temp (PostgreSQL's rule).
      const at = out.indexOf('pg_temp');
      if (at >= 0) out[at] = this.temp.schema.name;
      else out.unshift(this.temp.schema.name);
    }
    return out;
  }

  // ------------------------------------------------------------ transactions

  private isolation(): IsolationLevel {
    return this.hotSettings().isolation;
  }

  /** Options of an implicit transaction (a statement outside a block). */
  private implicitTxnOptions(): { isolation: IsolationLevel; readOnly: boolean } {
    const h = this.hotSettings();
    return { isolation: h.isolation, readOnly: h.readOnly };
  }

  /** Whether `txn` may not write: begun READ ONLY (or over a replica), or SET TRANSACTION READ ONLY in the block. */
  private readOnlyTxn(txn: Txn): boolean {
    return txn.readOnly || (txn === this.block && this.blockReadOnly);
  }

  /** Writes refused by read-only transactions (Session.writesRefused). */
  writesRefused = 0;

  /** 25006 for `command`, counted in writesRefused. */
  private refuseWrite(command: string): NextDbError {
    this.writesRefused++;
    return readOnlyTransaction(command);
  }

  private setBlockReadOnly(on: boolean): void {
    if (!on && this.block?.readOnly === true)
      throw notSupported('SET TRANSACTION READ WRITE in a block begun READ ONLY', 'use BEGIN READ WRITE');
    this.blockReadOnly = on;
  }

  private lastNowMs = Number.NaN;
  private lastNowMicros = 0n;

  /** The clock in microseconds; the BigInt is made once per clock reading (statements within one millisecond share it). */
  private nowMicros(): bigint {
    const ms = this.core.clock.nowMs();
    if (ms !== this.lastNowMs) {
      this.lastNowMs = ms;
      this.lastNowMicros = BigInt(Math.round(ms * 1000));
    }
    return this.lastNowMicros;
  }

  private endBlock(): void {
    if (this.cursors !== undefined) this.cursors.endTransaction(this.block?.state === 'committed');
    this.block = undefined;
    this.blockReadOnly = false;
    this.failed = false;
    if (this.localRestore !== undefined) {
      for (const [k, v] of this.localRestore) {
        if (v === undefined) this.settings.delete(k);
        else this.settings.set(k, v);
      }
      this.settingsChanged();
      this.localRestore = undefined;
    }
  }

  /** Runs `fn` inside the block's transaction or an implicit one. */
  private async inTxn<T>(fn: (txn: Txn) => Promise<T>): Promise<T> {
    if (this.block !== undefined) {
      if (this.failed)
        throw new NextDbError(
          SqlState.inFailedSqlTransaction,
          'current transaction is aborted, commands ignored until end of transaction block',
        );
      this.block.beginStatement();
      const notices = this.pendingNotices.length;
      for (let retries = 0; ; retries++) {
        try {
          return await fn(this.block);
        } catch (e) {
          // A SERIALIZABLE write refresh moved the snapshot and undid the statement: run it again
          // (without the notices its first run raised).
          if (retries < STATEMENT_RETRIES_MAX && isStatementRetry(e) && this.block.retryStatement?.() === true) {
            this.pendingNotices.length = notices;
            continue;
          }
          this.failed = true;
          throw e;
        }
      }
    }
    for (let attempt = 0; ; attempt++) {
      const txn = this.beginTxn(this.implicitTxnOptions());
      this.txnStartMicros = this.stmtStartMicros;
      const notices = this.pendingNotices.length;
      try {
        let r: T;
        for (let retries = 0; ; retries++) {
          try {
            r = await fn(txn);
            break;
          } catch (e) {
            if (retries < STATEMENT_RETRIES_MAX && isStatementRetry(e) && txn.retryStatement?.() === true) {
              this.pendingNotices.length = notices;
              continue;
            }
            throw e;
          }
        }
        await txn.commit();
        return r;
      } catch (e) {
        if (txn.state === 'active') await txn.rollback().catch(() => undefined);
        if (e instanceof NextDbError && e.code === SqlState.serializationFailure && attempt < 3) continue;
        throw e;
      }
    }
  }

  /** A new transaction: joined with the session's temporary objects once it has some (temp-space.ts). */
  private beginTxn(options: { isolation: IsolationLevel; readOnly: boolean }): Txn {
    const txn = this.core.txns.begin(options);
    return this.temp === undefined ? txn : this.temp.wrap(txn);
  }

  /** Makes the temporary space before a statement that creates the session's first temporary object. */
  private async ensureTemp(): Promise<void> {
    if (this.temp !== undefined) return;
    this.temp = await TempSpace.create(this.backendPid, this.dbOid, this.core.clock, (txn) => this.tempOnCommit(txn));
    this.settingsChanged(); // the settings key marks plans made without temporary tables in sight
    if (this.block !== undefined) this.block = this.temp.wrap(this.block);
  }

  /** ON COMMIT DELETE ROWS empties, ON COMMIT DROP drops its temporary table, in the committing transaction. */
  private async tempOnCommit(txn: TempTxn): Promise<void> {
    const catalog = await this.catalogFor(txn);
    for (const t of catalog.tables.values()) {
      if (t.onCommit === 'drop') {
        const drop = parseSql(`DROP TABLE "${t.schema}"."${t.name.replace(/"/g, '""')}"`)[0]!.stmt;
        await this.utilityIn(txn, drop, '', []);
      } else if (t.onCommit === 'delete') {
        const prefix = tablePrefix(t.oid);
        const end = prefixSuccessor(prefix)!;
        // Each page resumes after the last key deleted (as TableStore.truncate):
        // from the prefix again it would walk over its own deletions every page.
        let start = prefix;
        for (;;) {
          const page = await txn.mine.scan({ start, end, limit: 1024 });
          for (const kv of page) await txn.mine.delete(kv.key);
          if (page.length < 1024) break;
          start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
        }
      }
    }
  }

  async catalogFor(txn: Txn): Promise<CatalogSnapshot> {
    const memo = this.catalogMemo;
    // Only an MVCC transaction's snapshot can be compared (snapshotTs is 0 until it is taken).
    const snapshotTs = txn instanceof MvccTxn ? txn.snapshotTsIfTaken() : 0;
    if (
      memo !== undefined &&
      memo.txn === txn &&
      snapshotTs !== 0 &&
      memo.snapshotTs === snapshotTs &&
      !(txn as MvccTxn).holdsIntent(VERSION_HEAD_LATIN1)
    ) {
      this.lastCatalog = memo.catalog;
      return memo.catalog;
    }
    const version = await CatalogStore.readVersion(txn);
    const c =
      txn instanceof TempTxn ? await txn.space.catalog(version, txn, this.core) : await this.core.catalog(version, txn);
    this.lastCatalog = c;
    // A repeated read of the version key at the same snapshot, with no intent of the transaction's own on it,
    // gives the same version: the block's next statements reuse this catalog while that holds (under READ
    // COMMITTED, each statement has a snapshot of its own). The transaction's own DDL writes the key first,
    // and a rollback to a savepoint before that DDL removes the intent again.
    if (
      snapshotTs !== 0 &&
      (txn as MvccTxn).snapshotTsIfTaken() === snapshotTs &&
      !(txn as MvccTxn).holdsIntent(VERSION_HEAD_LATIN1)
    )
      this.catalogMemo = { txn, snapshotTs, catalog: c };
    return c;
  }

  /** The catalog catalogFor read last, with the transaction and snapshot it read it at. */
  private catalogMemo:
    { readonly txn: Txn; readonly snapshotTs: number; readonly catalog: CatalogSnapshot } | undefined;

  // ------------------------------------------------------------ services

  private svcTxn: Txn | undefined;
  private svcCatalog: CatalogSnapshot | undefined;
  private svc: SessionServices | undefined;

  /**
   * The session services for a statement: one object per session, pointed
   * at the statement's transaction and catalog. No transaction for the
   * read-only point fast path (pointReadNow), whose expressions call no
   * volatile function, so never txn().
   */
  private services(txn: Txn | undefined, catalog: CatalogSnapshot): SessionServices {
    this.svcTxn = txn;
    this.svcCatalog = catalog;
    return (this.svc ??= this.buildServices());
  }

  private buildServices(): SessionServices {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const cur = (): { txn: Txn; catalog: CatalogSnapshot } => {
      assert(self.svcCatalog !== undefined, 'services used outside a statement');
      assert(self.svcTxn !== undefined, 'services asked for the transaction of a statement that runs without one');
      return { txn: self.svcTxn, catalog: self.svcCatalog };
    };
    const curCatalog = (): CatalogSnapshot => {
      assert(self.svcCatalog !== undefined, 'services used outside a statement');
      return self.svcCatalog;
    };
    const findSeq = (ref: string | number): SequenceDef => {
      if (typeof ref === 'number') {
        const catalog = curCatalog();
        const q = catalog.sequences.get(ref);
        if (q === undefined)
          throw new NextDbError('42809', `"${catalog.tables.get(ref)?.name ?? ref}" is not a sequence`);
        return q;
      }
      const name = ref;
      const parts = name.split('.').map((p) => p.trim().replace(/^"(.*)"$/, '$1'));
      const nm = parts[parts.length - 1]!;
      const schemas = parts.length > 1 ? [parts[0]!] : this.searchPath();
      for (const s of schemas) {
        const q = curCatalog().sequence(this.dbOid, s, nm);
        if (q !== undefined) return q;
      }
      throw new NextDbError(SqlState.undefinedTable, `relation "${name}" does not exist`);
    };
    return {
      getSetting: (n) => this.getSetting(n),
      setSetting: (n, v, l) => this.setSetting(n, v, l),
      get user() {
        return self.user;
      },
      get sessionUser() {
        return self.sessionUser;
      },
      database: this.database,
      backendPid: this.backendPid,
      txn: () => cur().txn,
      checkWritable: (command) => {
        if (this.readOnlyTxn(cur().txn)) throw this.refuseWrite(command);
      },
      nextval: async (name) => {
        if (this.readOnlyTxn(cur().txn)) throw this.refuseWrite('nextval()');
        const q = findSeq(name);
        const next = await (isTempOid(q.oid) ? this.temp!.sequences : this.core).nextval(q);
        this.seqLast.set(q.oid, next);
        return next;
      },
      currval: (name) => {
        const q = findSeq(name);
        const v = this.seqLast.get(q.oid);
        if (v === undefined)
          throw new NextDbError('55000', `currval of sequence "${q.name}" is not yet defined in this session`);
        return v;
      },
      setval: async (name, value, isCalled) => {
        if (this.readOnlyTxn(cur().txn)) throw this.refuseWrite('setval()');
        const q = findSeq(name);
        if (value > q.max || value < q.min)
          throw new NextDbError(
            '22003',
            `setval: value ${value} is out of bounds for sequence "${q.name}" (${q.min}..${q.max})`,
          );
        await (isTempOid(q.oid) ? this.temp!.sequences : this.core).setval(q, isCalled ? value : value - q.increment);
        if (isCalled) this.seqLast.set(q.oid, value);
        return value;
      },
      get statementStartMicros() {
        return self.stmtStartMicros;
      },
      get txnStartMicros() {
        return self.txnStartMicros;
      },
      clockMicros: () => this.nowMicros(),
      random: () => this.core.random(),
      callFunction: (f, args) => this.pl().callFunction(f, args),
      fireTrigger: (g, info) => this.pl().fireTrigger(g, info),
      privilege: (kind, user, object, privs) =>
        privilegeAnswer(curCatalog(), this.dbOid, this.searchPath(), user ?? this.user, kind, object, privs),
      notice: (n) => void this.pendingNotices.push(n),
      uniqueRowId: () => this.core.uniqueRowId(),
      relationOid: (n) => {
        const parts = n.split('.');
        const nm = parts[parts.length - 1]!;
        for (const s of parts.length > 1 ? [parts[0]!] : this.searchPath()) {
          const t = curCatalog().table(this.dbOid, s, nm);
          if (t !== undefined) return t.oid;
        }
        return undefined;
      },
      relationName: (oid) => this.relationNameIn(curCatalog(), oid),
      catalogText: (kind, oid) => {
        const catalog = curCatalog();
        if (kind === 'functionresult' || kind === 'functionargs') return functionText(catalog, kind, oid);
        for (const t of catalog.tables.values()) {
          if (kind === 'viewdef' && t.oid === oid) return t.viewSql ?? null;
          const g = kind === 'triggerdef' ? t.triggers?.find((x) => x.oid === oid) : undefined;
          if (g !== undefined) return triggerDef(t, g, catalog.functions.get(g.funcOid)?.name ?? '?');
          if (kind === 'indexdef' && t.indexes.some((i) => i.oid === oid)) return indexDef(t, oid) ?? null;
          if (kind === 'constraintdef' && t.constraints.some((c) => c.oid === oid))
            return constraintDef({ catalog }, t, oid) ?? null;
        }
        return null;
      },
      relationSize: async (oid) => {
        const { txn, catalog } = cur();
        const prefixes =
          oid === 0
            ? [...catalog.tables.values()]
                .filter((t) => t.dbOid === this.dbOid && t.kind === 'r')
                .map((t) => tablePrefix(t.oid))
            : [tablePrefix(oid)];
        let total = 0n;
        for (const prefix of prefixes) {
          const end = prefixSuccessor(prefix)!;
          let start: Uint8Array = prefix;
          for (;;) {
            const page = await txn.scan({ start, end, limit: 1024 });
            for (const kv of page) total += BigInt(kv.key.length + kv.value.length);
            if (page.length < 1024) break;
            start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
          }
        }
        return total;
      },
      signalBackend: (pid, signal) =>
        this.core.backends.signal(pid, signal, this.user, (role) => findRole(curCatalog(), role)?.superuser === true),
      ...(this.core.checkpoint === undefined ? {} : { backup: (dir: string) => this.backup(curCatalog(), dir) }),
      yieldPoint: () => {
        const now = performance.now();
        if (now - this.lastYieldMs < YIELD_EVERY_MS) return undefined;
        this.lastYieldMs = now;
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
      checkInterrupt: () => {
        if (this.cancelRequested) {
          this.cancelRequested = false;
          throw new NextDbError(SqlState.queryCanceled, 'canceling statement due to user request');
        }
        if (this.deadlineMs > 0 && this.core.clock.nowMs() > this.deadlineMs) {
          throw new NextDbError(SqlState.queryCanceled, 'canceling statement due to statement timeout');
        }
      },
    };
  }

  /** nextdb_backup(): superusers only, as PostgreSQL's functions that write server files. */
  private backup(catalog: CatalogSnapshot, dir: string): Promise<CheckpointInfo> {
    if (findRole(catalog, this.user)?.superuser !== true)
      throw new NextDbError('42501', 'permission denied to back up the database', {
        hint: 'Only superusers can call nextdb_backup().',
      });
    return this.core.checkpoint!(dir);
  }

  private binder(catalog: CatalogSnapshot, sql: string, paramTypes: (SqlType | undefined)[]): Binder {
    const b = new Binder({
      catalog,
      dbOid: this.dbOid,
      searchPath: this.searchPath(),
      io: this.io(),
      sql,
      paramTypes,
      user: this.user,
    });
    b.virtualRelations = (schema, name, binder) => virtualRelation(schema, name, binder, catalog, this.dbOid, this);
    b.virtualOid = virtualOid;
    return b;
  }

  private env(txn: Txn, catalog: CatalogSnapshot, params: readonly Value[], stats?: Map<Plan, OperatorStats>): ExecEnv {
    const ctx = new EvalContext(this.io(), params, this.services(txn, catalog));
    return {
      txn,
      ctx,
      outer: [],
      ctes: new Map(),
      working: new Map(),
      memoryRowsMax: MEMORY_ROWS_MAX,
      spill: this.spill,
      changed: 0,
      stores: new Map(),
      ...(stats === undefined ? {} : { stats }),
    };
  }

  // ------------------------------------------------------------ statements

  private bindQuery(stmt: Node, binder: Binder): BoundQuery {
    if ('SelectStmt' in stmt) return binder.bindTopQuery(stmt);
    if ('InsertStmt' in stmt) return binder.bindInsert(stmt.InsertStmt);
    if ('UpdateStmt' in stmt) return binder.bindUpdate(stmt.UpdateStmt);
    if ('DeleteStmt' in stmt) return binder.bindDelete(stmt.DeleteStmt);
    if ('MergeStmt' in stmt) return binder.bindMerge(stmt.MergeStmt);
    throw new NextDbError(SqlState.internalError, 'not a query');
  }

  private static isQuery(stmt: Node): boolean {
    return (
      'SelectStmt' in stmt ||
      'InsertStmt' in stmt ||
      'UpdateStmt' in stmt ||
      'DeleteStmt' in stmt ||
      'MergeStmt' in stmt
    );
  }

  private tagFor(stmt: Node, rowCount: number, changed: number): string {
    if ('SelectStmt' in stmt) return `SELECT ${rowCount}`;
    if ('InsertStmt' in stmt) return `INSERT 0 ${changed}`;
    if ('UpdateStmt' in stmt) return `UPDATE ${changed}`;
    if ('DeleteStmt' in stmt) return `DELETE ${changed}`;
    if ('MergeStmt' in stmt) return `MERGE ${changed}`;
    return 'SELECT';
  }

  /** The settings a plan depends on (see plan-cache.ts), as one string; recomputed only after a setting changed. */
  private settingsKey(): string {
    return this.hotSettings().settingsKey;
  }

  /** Session.settingsVersion: bumped with every change that drops the hot settings. */
  settingsVersion = 0;

  /** A setting (or current_user) changed: the parsed hot settings are stale, and the server looks for ParameterStatus changes. */
  private settingsChanged(): void {
    this.hot = undefined;
    this.settingsVersion++;
  }

  private hotSettings(): NonNullable<SqlSession['hot']> {
    return (this.hot ??= {
      settingsKey: `${this.getSetting('search_path') ?? ''}|${this.getSetting('timezone') ?? ''}|${this.getSetting('extra_float_digits') ?? ''}${this.temp === undefined ? '' : '|temp'}|${this.user}`,
      timeoutMs: Number(this.getSetting('statement_timeout') ?? '0'),
      isolation: (this.getSetting('default_transaction_isolation') ?? 'serializable') as IsolationLevel,
      readOnly: this.getSetting('default_transaction_read_only') === 'on',
      timeZone: this.getSetting('timezone') ?? 'UTC',
      extraFloatDigits: Number(this.getSetting('extra_float_digits') ?? '1'),
    });
  }

  /**
   * A statement begins: its clock reading, timeout and cancel state, and
   * (unless it is known to finish synchronously, so never yields) the time
   * of its last yield to the event loop.
   */
  private startStatement(synchronous = false, clockFree = false): void {
    // A statement that cannot read the clock (a plain point lookup, see runHandleNow) keeps the old reading.
    if (!clockFree) this.stmtStartMicros = this.nowMicros();
    const timeout = this.hotSettings().timeoutMs;
    this.deadlineMs = timeout > 0 ? this.core.clock.nowMs() + timeout : 0;
    this.cancelRequested = false;
    if (!synchronous) this.lastYieldMs = performance.now();
  }

  /**
   * The read-only fast path of a prepared point SELECT outside a block:
   * when the cached plan is a compiled lookup proven read-only
   * (PointLookup.readOnlyNow), it is still valid for the committed catalog
   * (SqlEngineCore.committedCatalog) and the session's settings, the
   * lookup reads the newest committed row synchronously, without a
   * transaction (MvccTxnManager.readLatestCommitted). That is the answer
   * an implicit transaction would give: it would snapshot now, read the
   * one key and commit with nothing to check. Undefined when any condition
   * does not hold or the key carries an intent: then the statement runs as
   * usual. Call startStatement() first.
   */
  private pointReadNow(prepared: Prepared, params: readonly Value[]): RowsResult | undefined {
    const cached = prepared.cache;
    const point = cached?.point;
    const mvcc = this.core.localMvcc;
    if (point === undefined || !point.readOnlyNow || mvcc === undefined || this.block !== undefined) return undefined;
    const catalog = this.core.committedCatalog();
    if (catalog === undefined || !cached!.matches(catalog.version, this.settingsKey())) return undefined;
    this.txnStartMicros = this.stmtStartMicros;
    this.lastCatalog = catalog;
    const cols = cached!.query.cols;
    let row: Value[] | null | undefined;
    try {
      row =
        point.plain !== undefined
          ? point.readLatestPlain(mvcc, params)
          : point.readLatest(mvcc, new EvalContext(this.io(), params, this.services(undefined, catalog)));
    } catch (e) {
      carry(e, { failedColumns: this.describe(cols) });
      throw e;
    }
    if (row === undefined) return undefined;
    return row === null ? { tag: 'SELECT 0', cols, rows: [] } : { tag: 'SELECT 1', cols, rows: [row] };
  }

  /**
   * A prepared statement without FROM whose output is immutable over its
   * parameters (CachedPlan.constant: `SELECT 1`, `SELECT $1 + 1`), outside
   * a block, while its plan is valid for the committed catalog and the
   * session's settings: the row is computed without a transaction (an
   * implicit one would read nothing and commit with nothing to check).
   * Undefined otherwise: the statement runs as usual.
   */
  private constantNow(prepared: Prepared, params: readonly Value[]): RowsResult | undefined {
    const cached = prepared.cache;
    const fns = cached?.constant;
    if (fns === undefined || this.block !== undefined) return undefined;
    const catalog = this.core.committedCatalog();
    if (catalog === undefined || !cached!.matches(catalog.version, this.settingsKey())) return undefined;
    this.txnStartMicros = this.stmtStartMicros;
    this.lastCatalog = catalog;
    const cols = cached!.query.cols;
    const ctx = new EvalContext(this.io(), params, this.services(undefined, catalog));
    const row = new Array<Value>(fns.length);
    try {
      for (let i = 0; i < fns.length; i++) row[i] = fns[i]!(NO_VALUES, ctx);
    } catch (e) {
      carry(e, { failedColumns: this.describe(cols) });
      throw e;
    }
    return { tag: 'SELECT 1', cols, rows: [row] };
  }

  /** Runs one statement; `prepared` carries a plan cache for the extended protocol. */
  private async run(
    parsed: ParsedStatement,
    sql: string,
    params: Value[],
    paramTypes: (SqlType | undefined)[],
    prepared?: Prepared,
  ): Promise<ExecResult & { notices?: Notice[] }> {
    const stmt = parsed.stmt;
    this.startStatement();
    if (prepared !== undefined) {
      const fast = this.pointReadNow(prepared, params) ?? this.constantNow(prepared, params);
      if (fast !== undefined) return fast;
    }
    if ('TransactionStmt' in stmt) return this.transactionStmt(stmt.TransactionStmt);
    if (this.block !== undefined && this.failed) {
      throw new NextDbError(
        SqlState.inFailedSqlTransaction,
        'current transaction is aborted, commands ignored until end of transaction block',
      );
    }
    if (
      'VariableSetStmt' in stmt &&
      (stmt.VariableSetStmt.name === 'role' || stmt.VariableSetStmt.name === 'session_authorization')
    )
      return this.setRole(stmt.VariableSetStmt);
    if ('VariableSetStmt' in stmt) return this.setStmt(stmt.VariableSetStmt);
    if ('VariableShowStmt' in stmt) return this.showStmt(stmt.VariableShowStmt.name ?? '');
    if ('VacuumStmt' in stmt) return { tag: stmt.VacuumStmt.is_vacuumcmd === false ? 'ANALYZE' : 'VACUUM' };
    if ('DiscardStmt' in stmt && stmt.DiscardStmt.target === 'DISCARD_TEMP') {
      await this.discardTemp();
      return { tag: 'DISCARD TEMP' };
    }
    if ('DiscardStmt' in stmt) {
      if (stmt.DiscardStmt.target === 'DISCARD_ALL' && this.block !== undefined)
        throw new NextDbError('25001', 'DISCARD ALL cannot run inside a transaction block');
      await this.discardTemp();
      this.cursors = undefined;
      this.role = undefined;
      this.sessionAuth = undefined;
      this.settings.clear();
      this.settingsChanged();
      this.prepared.clear();
      this.portals.clear();
      this.unnamedPortal = undefined;
      return { tag: 'DISCARD ALL' };
    }
    if ('DeallocateStmt' in stmt) {
      if (stmt.DeallocateStmt.name === undefined) this.prepared.clear();
      else this.prepared.delete(stmt.DeallocateStmt.name);
      return { tag: stmt.DeallocateStmt.name === undefined ? 'DEALLOCATE ALL' : 'DEALLOCATE' };
    }
    if ('ExplainStmt' in stmt) return this.explain(stmt.ExplainStmt, sql, params, paramTypes);
    if ('CopyStmt' in stmt) return this.copy(stmt.CopyStmt);
    if ('SelectStmt' in stmt && stmt.SelectStmt.intoClause !== undefined) {
      // SELECT ... INTO name: CREATE TABLE name AS SELECT ...
      const { intoClause, ...query } = stmt.SelectStmt;
      const ctas: Node = {
        CreateTableAsStmt: {
          query: { SelectStmt: query },
          into: intoClause,
          objtype: 'OBJECT_TABLE',
          is_select_into: true,
        },
      };
      return this.utility(ctas, sql);
    }
    if ('CallStmt' in stmt) {
      const fc = stmt.CallStmt.funccall!;
      return this.inTxn(async (txn) => {
        const catalog = await this.catalogFor(txn);
        await runPlan(
          optimize(this.binder(catalog, sql, paramTypes).bindCall(fc).plan),
          this.env(txn, catalog, params),
        );
        return { tag: 'CALL' };
      });
    }
    if ('DeclareCursorStmt' in stmt) return this.declareCursor(stmt.DeclareCursorStmt, parsed, params, paramTypes);
    if ('FetchStmt' in stmt) {
      const f = (this.cursors ??= new Cursors()).fetch(stmt.FetchStmt);
      return stmt.FetchStmt.ismove === true
        ? { tag: `MOVE ${f.count}` }
        : { tag: `FETCH ${f.count}`, cols: f.cursor.cols, rows: f.rows };
    }
    if ('ClosePortalStmt' in stmt) {
      (this.cursors ??= new Cursors()).close(stmt.ClosePortalStmt.portalname);
      return { tag: stmt.ClosePortalStmt.portalname === undefined ? 'CLOSE CURSOR ALL' : 'CLOSE CURSOR' };
    }
    if (SqlSession.isQuery(stmt)) {
      // A prepared point SELECT (or constant SELECT, see constantNow) outside a block may skip reading the
      // catalog version when the engine knows the committed catalog and the cached plan was made for it
      // (SqlEngineCore.committedCatalog); it notes the catalog it reads for the next one.
      const pointRead =
        this.block === undefined &&
        (prepared?.cache?.point !== undefined || prepared?.cache?.constant !== undefined) &&
        'SelectStmt' in stmt;
      const mark = pointRead ? this.core.catalogMark() : -1;
      return this.inTxn(async (txn) => {
        const settingsKey = this.settingsKey();
        const cached = prepared?.cache;
        let catalog = pointRead ? this.core.committedCatalog() : undefined;
        if (catalog !== undefined && cached?.matches(catalog.version, settingsKey) === true) this.lastCatalog = catalog;
        else {
          catalog = await this.catalogFor(txn);
          if (pointRead) this.core.noteCommittedCatalog(catalog, mark);
        }
        let q: BoundQuery;
        let point: PointLookup | undefined;
        if (cached !== undefined && cached.matches(catalog.version, settingsKey)) {
          q = cached.query;
          point = cached.point;
        } else {
          const b = this.binder(catalog, sql, paramTypes);
          const bound = this.bindQuery(stmt, b);
          q = { plan: optimize(bound.plan), cols: bound.cols };
          if (prepared !== undefined) {
            prepared.cache = new CachedPlan(catalog.version, settingsKey, q);
            point = prepared.cache.point;
          }
        }
        const isSelect = 'SelectStmt' in stmt;
        let rows: Value[][];
        let changed = 0;
        try {
          if (point !== undefined)
            rows = await point.run(txn, new EvalContext(this.io(), params, this.services(txn, catalog)));
          else {
            const env = this.env(txn, catalog, params);
            rows = await runPlan(q.plan, env);
            changed = env.changed;
          }
        } catch (e) {
          // Planned, then failed while running: PostgreSQL has sent the RowDescription by now.
          if (isSelect || q.cols.length > 0) carry(e, { failedColumns: this.describe(q.cols) });
          throw e;
        }
        return {
          tag: this.tagFor(stmt, rows.length, changed),
          ...(isSelect || q.cols.length > 0 ? { cols: q.cols, rows } : {}),
        };
      });
    }
    return this.utility(stmt, sql);
  }

  /** The session's PL/pgSQL runtime: the current statement's transaction and catalog, this session's binder. */
  private pl(): PlRuntime {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return (this.plRuntime ??= new PlRuntime({
      txn: () => self.services(self.svcTxn!, self.svcCatalog!).txn(),
      catalog: () => self.svcCatalog!,
      binder: (catalog, sql, paramTypes) => self.binder(catalog, sql, paramTypes),
      env: (txn, catalog, params) => self.env(txn, catalog, params),
      io: () => self.io(),
      settingsKey: () => self.settingsKey(),
      notice: (n) => void self.pendingNotices.push(n),
      interrupt: () => {
        const svc = self.services(self.svcTxn!, self.svcCatalog!);
        svc.checkInterrupt();
        return svc.yieldPoint();
      },
      utility: async (stmt, text) => {
        const txn = self.svcTxn!;
        const tag = await self.utilityIn(txn, stmt, text, self.pendingNotices);
        self.services(txn, await self.catalogFor(txn));
        return tag;
      },
      dbOid: this.dbOid,
      searchPath: () => self.searchPath(),
    }));
  }

  /** DO [LANGUAGE plpgsql] $$ ... $$: runs in the statement's (or the block's) transaction. */
  private async doStmt(s: Extract<Node, { DoStmt: unknown }>['DoStmt']): Promise<ExecResult> {
    let body: string | undefined;
    for (const a of s.args ?? []) {
      if (!('DefElem' in a)) continue;
      const v = a.DefElem.arg;
      const text = v !== undefined && 'String' in v ? (v.String.sval ?? '') : '';
      if (a.DefElem.defname === 'language' && text !== 'plpgsql') throw notSupported(`DO LANGUAGE ${text}`);
      if (a.DefElem.defname === 'as') body = text;
    }
    await this.inTxn(async (txn) => {
      const catalog = await this.catalogFor(txn);
      this.services(txn, catalog);
      await this.pl().doBlock(body ?? '');
    });
    return { tag: 'DO' };
  }

  private async utility(stmt: Node, sql: string): Promise<ExecResult & { notices?: Notice[] }> {
    if ('DoStmt' in stmt) return this.doStmt(stmt.DoStmt);
    if ('CreatedbStmt' in stmt) return this.createDatabase(stmt.CreatedbStmt.dbname ?? '');
    if ('DropdbStmt' in stmt) throw notSupported('DROP DATABASE');
    if ('CommentStmt' in stmt) return { tag: 'COMMENT' };
    const notices: Notice[] = [];
    if (this.temp === undefined && createsTemp(stmt)) await this.ensureTemp();
    const tag = await this.inTxn((txn) => this.utilityIn(txn, stmt, sql, notices));
    return { tag, notices };
  }

  /** A DDL / role / GRANT statement in `txn` (also from PL/pgSQL): its command tag. */
  private async utilityIn(txn: Txn, stmt: Node, sql: string, notices: Notice[]): Promise<string> {
    if (this.temp !== undefined) this.temp.tempDdl = false;
    if (this.readOnlyTxn(txn)) throw this.refuseWrite(ddlCommand(stmt));
    {
      const catalog = await this.catalogFor(txn);
      const ctx: DdlContext = {
        txn,
        catalog,
        dbOid: this.dbOid,
        searchPath: this.searchPath().filter((s) => s !== 'pg_catalog'),
        notices,
        user: this.user,
        binder: (text) => this.binder(catalog, text, []),
        evalDefault: async (t: TableDef, col: ColumnDef) => {
          const b = this.binder(catalog, '', []);
          const e = b.defaultFor(col, b.newScope());
          const cenv = CompileEnv.root(layoutOf([]), [], () =>
            Promise.reject(notSupported('subqueries in column defaults')),
          );
          const fn = compileExpr(e, cenv);
          const env = this.env(txn, catalog, []);
          void t;
          return async () => {
            for (const h of cenv.hoisted) env.ctx.slots[h.slot] = await h.run([], env.ctx);
            return fn([], env.ctx);
          };
        },
      };
      let t: string;
      if (createsTemp(stmt) && !(txn instanceof TempTxn))
        throw notSupported(
          "a session's first temporary object inside a function or DO block",
          'create it with a statement of its own first',
        );
      if ('CreateStmt' in stmt) t = await createTable(ctx, stmt.CreateStmt);
      else if ('CreateTableAsStmt' in stmt)
        t = await createTableAs(ctx, stmt.CreateTableAsStmt, async (ins) => {
          this.core.catalogWriteBegins(txn);
          await CatalogStore.bumpVersion(txn, this.core.newVersionToken());
          const cat = await this.catalogFor(txn);
          const env = this.env(txn, cat, []);
          await runPlan(optimize(this.binder(cat, sql, []).bindInsert(ins).plan), env);
          return env.changed;
        });
      else if ('IndexStmt' in stmt) t = await createIndex(ctx, stmt.IndexStmt);
      else if ('CreateFunctionStmt' in stmt) t = await createFunction(ctx, stmt.CreateFunctionStmt);
      else if ('CreateTrigStmt' in stmt) t = await createTrigger(ctx, stmt.CreateTrigStmt);
      else if ('GrantStmt' in stmt) t = await grantRevoke(ctx, stmt.GrantStmt);
      else if ('ViewStmt' in stmt) t = await createView(ctx, stmt.ViewStmt, sql);
      else if ('CreateSeqStmt' in stmt) t = await createSequence(ctx, stmt.CreateSeqStmt);
      else if ('CreateSchemaStmt' in stmt) t = await createSchema(ctx, stmt.CreateSchemaStmt);
      else if ('DropStmt' in stmt) t = await drop(ctx, stmt.DropStmt);
      else if ('TruncateStmt' in stmt) t = await truncate(ctx, stmt.TruncateStmt);
      else if ('AlterTableStmt' in stmt) t = await alterTable(ctx, stmt.AlterTableStmt);
      else if ('RenameStmt' in stmt) t = await rename(ctx, stmt.RenameStmt);
      else if ('CreateRoleStmt' in stmt) t = await createRole(txn, catalog, stmt.CreateRoleStmt);
      else if ('AlterRoleStmt' in stmt) t = await alterRole(txn, catalog, stmt.AlterRoleStmt, this.user);
      else if ('DropRoleStmt' in stmt)
        t = await dropRole(
          txn,
          catalog,
          stmt.DropRoleStmt,
          this.user,
          notices as { severity: 'NOTICE'; code: string; message: string }[],
        );
      else {
        const kind = Object.keys(stmt)[0] ?? 'statement';
        throw notSupported(kindToSql(kind));
      }
      if (this.temp !== undefined && onCommitAction(stmt)) this.temp.hasOnCommit = true;
      this.core.catalogWriteBegins(txn);
      await CatalogStore.bumpVersion(txn, this.core.newVersionToken());
      if ('AlterTableStmt' in stmt) await this.validateChecks(txn, stmt);
      return t;
    }
  }

  /**
   * After ALTER TABLE ADD CONSTRAINT CHECK/FOREIGN KEY: every existing row
   * must satisfy it. (PRIMARY KEY and UNIQUE check their rows while they
   * build: TableStore.rekeyFrom, buildIndex.)
   */
  private async validateChecks(txn: Txn, stmt: Extract<Node, { AlterTableStmt: unknown }>): Promise<void> {
    const cmds = stmt.AlterTableStmt.cmds ?? [];
    const adds = cmds.some((c) => {
      if (!('AlterTableCmd' in c) || c.AlterTableCmd.subtype !== 'AT_AddConstraint') return false;
      const def = c.AlterTableCmd.def;
      const type = def !== undefined && 'Constraint' in def ? def.Constraint.contype : undefined;
      return type !== 'CONSTR_PRIMARY' && type !== 'CONSTR_UNIQUE';
    });
    if (!adds) return;
    const catalog = await this.catalogFor(txn);
    const rv = stmt.AlterTableStmt.relation!;
    const b = this.binder(catalog, '', []);
    const t = b.lookupTable(rv.schemaname, rv.relname ?? '')!;
    // Re-inserting would be heavy; instead run the table's UPDATE-less check: SELECT rows and validate.
    const upd = b.bindUpdate({ relation: { relname: t.name, schemaname: t.schema, inh: true }, targetList: [] });
    const env = this.env(txn, catalog, []);
    await runPlan(optimize(upd.plan), env);
  }

  private async createDatabase(name: string): Promise<ExecResult> {
    if (this.block !== undefined)
      throw new NextDbError('25001', 'CREATE DATABASE cannot run inside a transaction block');
    if (this.temp !== undefined) this.temp.tempDdl = false;
    return this.inTxn(async (txn) => {
      const catalog = await this.catalogFor(txn);
      if (catalog.database(name) !== undefined) throw new NextDbError('42P04', `database "${name}" already exists`);
      const oid = await CatalogStore.allocOid(txn);
      await CatalogStore.put(txn, 'db', oid, { oid, name });
      const schemaOid = await CatalogStore.allocOid(txn);
      await CatalogStore.put(txn, 'schema', schemaOid, { oid: schemaOid, dbOid: oid, name: 'public' });
      this.core.catalogWriteBegins(txn);
      await CatalogStore.bumpVersion(txn, this.core.newVersionToken());
      this.core.databases = [...this.core.databases.filter((d) => d.name !== name), { oid, name }];
      return { tag: 'CREATE DATABASE' };
    });
  }

  /** BEGIN / START TRANSACTION: synchronous (executeNow runs it without a promise). */
  private beginBlock(
    t: Extract<Node, { TransactionStmt: unknown }>['TransactionStmt'],
  ): ExecResult & { notices?: Notice[] } {
    if (this.block !== undefined) {
      return {
        tag: 'BEGIN',
        notices: [{ severity: 'WARNING', code: '25001', message: 'there is already a transaction in progress' }],
      };
    }
    let isolation = this.isolation();
    let readOnly = this.getSetting('default_transaction_read_only') === 'on';
    for (const o of t.options ?? []) {
      if (!('DefElem' in o)) continue;
      const d = o.DefElem;
      const a = d.arg;
      const val =
        a !== undefined && 'A_Const' in a
          ? (a.A_Const.sval?.sval ?? (a.A_Const.ival?.ival === 1 ? 'true' : 'false'))
          : '';
      if (d.defname === 'transaction_isolation')
        isolation = SETTINGS.transaction_isolation!.normalize!(val) as IsolationLevel;
      else if (d.defname === 'transaction_read_only') readOnly = val === 'true' || val === '1';
      else if (d.defname === 'transaction_deferrable') continue;
    }
    this.txnStartMicros = this.nowMicros();
    this.block = this.beginTxn({ isolation, readOnly });
    this.blockReadOnly = readOnly;
    this.failed = false;
    return { tag: 'BEGIN' };
  }

  private async transactionStmt(
    t: Extract<Node, { TransactionStmt: unknown }>['TransactionStmt'],
  ): Promise<ExecResult & { notices?: Notice[] }> {
    const kind = t.kind ?? 'TRANS_STMT_BEGIN';
    switch (kind) {
      case 'TRANS_STMT_BEGIN':
      case 'TRANS_STMT_START':
        return this.beginBlock(t);
      case 'TRANS_STMT_COMMIT': {
        const b = this.block;
        if (b === undefined)
          return {
            tag: 'COMMIT',
            notices: [{ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' }],
          };
        if (this.failed) {
          await b.rollback().catch(() => undefined);
          this.endBlock();
          return { tag: 'ROLLBACK' };
        }
        try {
          await b.commit();
        } finally {
          this.endBlock();
        }
        return { tag: 'COMMIT' };
      }
      case 'TRANS_STMT_ROLLBACK': {
        const b = this.block;
        if (b === undefined)
          return {
            tag: 'ROLLBACK',
            notices: [{ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' }],
          };
        try {
          if (b.state === 'active') await b.rollback();
        } finally {
          this.endBlock();
        }
        return { tag: 'ROLLBACK' };
      }
      case 'TRANS_STMT_SAVEPOINT': {
        if (this.block === undefined)
          throw new NextDbError(SqlState.noActiveSqlTransaction, 'SAVEPOINT can only be used in transaction blocks');
        if (this.failed)
          throw new NextDbError(
            SqlState.inFailedSqlTransaction,
            'current transaction is aborted, commands ignored until end of transaction block',
          );
        this.block.savepoint(t.savepoint_name ?? '');
        return { tag: 'SAVEPOINT' };
      }
      case 'TRANS_STMT_RELEASE': {
        if (this.block === undefined)
          throw new NextDbError(
            SqlState.noActiveSqlTransaction,
            'RELEASE SAVEPOINT can only be used in transaction blocks',
          );
        if (this.failed)
          throw new NextDbError(
            SqlState.inFailedSqlTransaction,
            'current transaction is aborted, commands ignored until end of transaction block',
          );
        this.block.releaseSavepoint(t.savepoint_name ?? '');
        return { tag: 'RELEASE' };
      }
      case 'TRANS_STMT_ROLLBACK_TO': {
        if (this.block === undefined)
          throw new NextDbError(
            SqlState.noActiveSqlTransaction,
            'ROLLBACK TO SAVEPOINT can only be used in transaction blocks',
          );
        await this.block.rollbackToSavepoint(t.savepoint_name ?? '');
        this.failed = false;
        return { tag: 'ROLLBACK' };
      }
      default:
        throw notSupported(`transaction command ${kind}`);
    }
  }

  /**
   * SET ROLE name / NONE, RESET ROLE, SET SESSION AUTHORIZATION name / DEFAULT, RESET SESSION AUTHORIZATION.
   * Without role memberships, SET ROLE to another role needs a superuser session user (PostgreSQL: a member
   * of the role); SET SESSION AUTHORIZATION needs a superuser authenticated user. Privileges then follow
   * current_user, and the plan cache key has it (settingsKey).
   */
  private async setRole(s: Extract<Node, { VariableSetStmt: unknown }>['VariableSetStmt']): Promise<ExecResult> {
    if (s.is_local === true) throw notSupported(`SET LOCAL ${s.name === 'role' ? 'ROLE' : 'SESSION AUTHORIZATION'}`);
    const kind = s.kind ?? 'VAR_SET_VALUE';
    const a = s.args?.[0];
    const value =
      kind === 'VAR_SET_VALUE' && a !== undefined && 'A_Const' in a ? (a.A_Const.sval?.sval ?? '') : undefined;
    const target = value === undefined || (s.name === 'role' && value === 'none') ? undefined : value;
    const superuser = async (name: string): Promise<boolean> =>
      this.inTxn(async (txn) => findRole(await this.catalogFor(txn), name)?.superuser === true);
    if (target !== undefined) {
      const exists = await this.inTxn(async (txn) => findRole(await this.catalogFor(txn), target) !== undefined);
      if (!exists) throw new NextDbError('22023', `role "${target}" does not exist`);
    }
    if (s.name === 'role') {
      if (target !== undefined && target !== this.sessionUser && !(await superuser(this.sessionUser)))
        throw new NextDbError('42501', `permission denied to set role "${target}"`);
      this.role = target;
    } else {
      if (target !== undefined && target !== this.loginUser && !(await superuser(this.loginUser)))
        throw new NextDbError('42501', 'permission denied to set session authorization');
      this.sessionAuth = target;
      this.role = undefined;
      this.settings.set('session_authorization', this.sessionUser);
    }
    this.settingsChanged(); // the settings key (plan cache) has current_user
    return { tag: kind === 'VAR_RESET' ? 'RESET' : 'SET' };
  }

  private setStmt(s: Extract<Node, { VariableSetStmt: unknown }>['VariableSetStmt']): ExecResult {
    const kind = s.kind ?? 'VAR_SET_VALUE';
    const name = s.name ?? '';
    if (kind === 'VAR_RESET_ALL') {
      this.settings.clear();
      this.settingsChanged();
      return { tag: 'RESET' };
    }
    if (kind === 'VAR_RESET') {
      this.resetSetting(name);
      return { tag: 'RESET' };
    }
    if (kind === 'VAR_SET_DEFAULT') {
      this.resetSetting(name);
      return { tag: 'SET' };
    }
    if (kind === 'VAR_SET_MULTI') {
      if (name === 'TRANSACTION' || name === 'SESSION CHARACTERISTICS') {
        for (const a of s.args ?? []) {
          if (!('DefElem' in a)) continue;
          const d = a.DefElem;
          const v =
            d.arg !== undefined && 'A_Const' in d.arg
              ? (d.arg.A_Const.sval?.sval ?? String(d.arg.A_Const.ival?.ival ?? ''))
              : '';
          if (d.defname === 'transaction_isolation') {
            const iso = SETTINGS.transaction_isolation!.normalize!(v);
            if (name === 'TRANSACTION') {
              if (this.block === undefined) continue;
              if (this.block.isolation !== iso)
                throw notSupported('SET TRANSACTION ISOLATION LEVEL after BEGIN', 'use BEGIN ISOLATION LEVEL ...');
            } else this.setSetting('default_transaction_isolation', iso, false);
          } else if (d.defname === 'transaction_read_only') {
            if (name === 'TRANSACTION') {
              if (this.block !== undefined) this.setBlockReadOnly(v === 'true' || v === '1');
            } else this.setSetting('default_transaction_read_only', v === 'true' || v === '1' ? 'on' : 'off', false);
          }
        }
        return { tag: 'SET' };
      }
      throw notSupported(`SET ${name}`);
    }
    if (kind === 'VAR_SET_CURRENT') throw notSupported('SET ... FROM CURRENT');
    const values = (s.args ?? []).map((a) => {
      if ('A_Const' in a) {
        const c = a.A_Const;
        if (c.sval !== undefined) return c.sval.sval ?? '';
        if (c.ival !== undefined) return String(c.ival.ival ?? 0);
        if (c.fval !== undefined) return c.fval.fval ?? '0';
        if (c.boolval !== undefined) return c.boolval.boolval ? 'on' : 'off';
        return '0';
      }
      if ('TypeCast' in a && a.TypeCast.arg !== undefined && 'A_Const' in a.TypeCast.arg)
        return a.TypeCast.arg.A_Const.sval?.sval ?? '';
      throw notSupported('this SET value form');
    });
    let value = values.join(', ');
    if (settingKey(name) === 'search_path')
      value = values.map((v) => (/^[a-z_][a-z0-9_]*$/.test(v) ? v : `"${v}"`)).join(', ');
    if (
      name === 'timezone' &&
      values.length === 1 &&
      s.args?.[0] !== undefined &&
      'A_Const' in s.args[0] &&
      s.args[0].A_Const.ival !== undefined
    ) {
      // SET TIME ZONE <number>: hours east... PostgreSQL treats a bare number as hours offset (west negative).
      value = values[0]!;
    }
    this.setSetting(name, value, s.is_local === true);
    return { tag: 'SET' };
  }

  private showStmt(name: string): ExecResult {
    if (name.toLowerCase() === 'all') throw notSupported('SHOW ALL');
    const key = name.toLowerCase() === 'transaction isolation level' ? 'transaction_isolation' : name;
    const v = this.getSetting(key);
    if (v === undefined) throw new NextDbError('42704', `unrecognized configuration parameter "${name}"`);
    const colName =
      key === 'transaction_isolation' ? 'transaction_isolation' : (DISPLAY_NAMES[settingKey(key)] ?? key.toLowerCase());
    return { tag: 'SHOW', cols: [{ id: 1, name: colName, type: Types.text, tableOid: 0, attnum: 0 }], rows: [[v]] };
  }

  private async explain(
    e: Extract<Node, { ExplainStmt: unknown }>['ExplainStmt'],
    sql: string,
    params: Value[],
    paramTypes: (SqlType | undefined)[],
  ): Promise<ExecResult> {
    let analyze = false;
    let verbose = false;
    for (const o of e.options ?? []) {
      if (!('DefElem' in o)) continue;
      const d = o.DefElem;
      const on = d.arg === undefined || !('A_Const' in d.arg) || d.arg.A_Const.boolval?.boolval !== false;
      if (d.defname === 'analyze') analyze = on;
      else if (d.defname === 'verbose') verbose = on;
      else if (d.defname === 'format') {
        const f = d.arg !== undefined && 'String' in d.arg ? d.arg.String.sval : undefined;
        if (f !== undefined && f.toLowerCase() !== 'text') throw notSupported(`EXPLAIN (FORMAT ${f})`);
      }
    }
    const stmt = e.query!;
    if (!SqlSession.isQuery(stmt)) throw notSupported('EXPLAIN of utility statements');
    return this.inTxn(async (txn) => {
      const catalog = await this.catalogFor(txn);
      const b = this.binder(catalog, sql, paramTypes);
      const bound = this.bindQuery(stmt, b);
      const plan = optimize(bound.plan);
      let stats: Map<Plan, OperatorStats> | undefined;
      let totalMs = 0;
      if (analyze) {
        stats = new Map();
        const env = this.env(txn, catalog, params, stats);
        const t0 = performance.now();
        await runPlan(plan, env);
        totalMs = performance.now() - t0;
      }
      const lines = explainPlan(plan, stats, verbose);
      if (analyze) lines.push(`Execution Time: ${totalMs.toFixed(3)} ms`);
      return {
        tag: 'EXPLAIN',
        cols: [{ id: 1, name: 'QUERY PLAN', type: Types.text, tableOid: 0, attnum: 0 }],
        rows: lines.map((l) => [l]),
      };
    });
  }

  // ------------------------------------------------------------ wire format

  /** RowDescription columns; a cached plan's column list is described once (its entries are immutable). */
  private describe(cols: readonly OutputColumn[]): readonly ColumnDescription[] {
    let d = describedColumns.get(cols);
    if (d === undefined) {
      d = cols.map((c) => ({
        name: c.name,
        tableOid: c.tableOid,
        columnAttr: c.attnum,
        typeOid: c.type.oid,
        typeSize: c.type.len,
        typeMod: c.type.typmod,
      }));
      describedColumns.set(cols, d);
    }
    return d;
  }

  private formatRows(
    cols: readonly OutputColumn[],
    rows: readonly Value[][],
    formats: readonly FormatCode[],
  ): (Buffer | null)[][] {
    const io = this.io();
    const n = cols.length;
    const fmt = (i: number): FormatCode =>
      formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    const out: (Buffer | null)[][] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      const o: (Buffer | null)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = row[i] ?? null;
        if (v === null) o[i] = null;
        else {
          const ty = cols[i]!.type;
          o[i] = fmt(i) === 1 ? formatBinary(ty, v, io) : Buffer.from(formatText(ty, v, io), 'utf8');
        }
      }
      out[r] = o;
    }
    return out;
  }

  private toResult(r: ExecResult & { notices?: Notice[] }, formats: readonly FormatCode[]): StatementResult {
    if (this.pendingNotices.length > 0) r = { ...r, notices: [...this.pendingNotices.splice(0), ...(r.notices ?? [])] };
    if (r.copyIn !== undefined) return { commandTag: r.tag, copyIn: r.copyIn };
    if (r.copyOut !== undefined) return { commandTag: r.tag, copyOut: r.copyOut };
    return {
      commandTag: r.tag,
      ...(r.cols === undefined
        ? {}
        : { columns: this.describe(r.cols), rows: this.formatRows(r.cols, r.rows ?? [], formats) }),
      ...(r.notices === undefined || r.notices.length === 0 ? {} : { notices: r.notices }),
    };
  }

  // ------------------------------------------------------------ Session API

  async simpleQuery(sql: string): Promise<StatementResult[]> {
    this.assertOpen();
    this.pendingNotices.length = 0;
    const stmts = parseStatements(sql);
    const out: StatementResult[] = [];
    // Several statements in one Query message run in one implicit transaction
    // (as PostgreSQL does), unless they manage transactions themselves.
    if (
      stmts.length > 1 &&
      this.block === undefined &&
      !stmts.some((p) => 'TransactionStmt' in p.stmt) &&
      stmts.some((p) => 'CopyStmt' in p.stmt && p.stmt.CopyStmt.is_from === true)
    ) {
      throw notSupported(
        'COPY FROM STDIN together with other statements in one query outside a transaction block',
        'send the COPY alone',
      );
    }
    if (stmts.length > 1 && this.block === undefined && !stmts.some((p) => 'TransactionStmt' in p.stmt)) {
      if (this.temp === undefined && stmts.some((p) => createsTemp(p.stmt))) await this.ensureTemp();
      this.txnStartMicros = this.nowMicros();
      const txn = this.beginTxn(this.implicitTxnOptions());
      this.block = txn;
      try {
        for (const p of stmts) out.push(this.toResult(await this.run(p, sql, [], []), []));
        if (this.block === txn) await txn.commit();
      } catch (e) {
        if (txn.state === 'active') await txn.rollback().catch(() => undefined);
        carry(e, { completedResults: out });
        throw e;
      } finally {
        if (this.block === txn) this.endBlock();
      }
      return out;
    }
    for (let i = 0; i < stmts.length; i++) {
      let r: ExecResult & { notices?: Notice[] };
      try {
        r = await this.run(stmts[i]!, sql, [], []);
      } catch (e) {
        carry(e, { completedResults: out });
        throw e;
      }
      out.push(this.toResult(r, []));
      if (r.copyIn !== undefined && i + 1 < stmts.length) {
        // The statements after a COPY FROM STDIN run once its data is in (StatementResult.copyIn).
        const rest = stmts.slice(i + 1);
        const copy = r.copyIn;
        const finish = async (): Promise<StatementResult[]> => {
          const results = await copy.finish();
          for (const p of rest) results.push(this.toResult(await this.run(p, sql, [], []), []));
          return results;
        };
        out[out.length - 1] = {
          commandTag: r.tag,
          copyIn: {
            format: copy.format,
            columnFormats: copy.columnFormats,
            write: (d) => copy.write(d),
            finish,
            abort: (m) => copy.abort(m),
          },
        };
        return out;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ COPY

  /** COPY ... FROM STDIN (returns a CopyIn that loads the data) or COPY ... TO STDOUT (returns the data). */
  private async copy(c: Extract<Node, { CopyStmt: unknown }>['CopyStmt']): Promise<ExecResult> {
    if (c.is_program === true || c.filename !== undefined) {
      throw notSupported(
        `COPY ${c.is_from === true ? 'from' : 'to'} a file or program`,
        `use COPY ... ${c.is_from === true ? 'FROM STDIN' : 'TO STDOUT'} (psql: \\copy)`,
      );
    }
    if (c.whereClause !== undefined) throw notSupported('COPY FROM ... WHERE');
    const options = copyOptions(c.options, c.is_from === true);
    const attnames = (c.attlist ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
    const ident = (n: string): string => `"${n.replace(/"/g, '""')}"`;
    if (c.is_from !== true) {
      let selectSql: string;
      if (c.query !== undefined) {
        const r = await this.run({ stmt: c.query, text: '', offset: 0 }, '', [], []);
        return this.copyOutResult(r.cols ?? [], r.rows ?? [], options);
      }
      const rv = c.relation!;
      const from = `${rv.schemaname === undefined ? '' : `${ident(rv.schemaname)}.`}${ident(rv.relname ?? '')}`;
      if (attnames.length > 0) selectSql = `SELECT ${attnames.map(ident).join(', ')} FROM ONLY ${from}`;
      else selectSql = `SELECT * FROM ONLY ${from}`;
      const parsed = parseSql(selectSql);
      const r = await this.run(parsed[0]!, selectSql, [], []);
      return this.copyOutResult(r.cols ?? [], r.rows ?? [], options);
    }
    return this.copyIn(c.relation!, attnames, options);
  }

  private copyOutResult(cols: readonly OutputColumn[], rows: Value[][], options: CopyFormatOptions): ExecResult {
    const chunks = copyOutChunks(cols, rows, options, this.io());
    return {
      tag: `COPY ${rows.length}`,
      copyOut: { format: FormatCode.text, columnFormats: cols.map(() => FormatCode.text), chunks },
    };
  }

  private async copyIn(
    rv: NonNullable<Extract<Node, { CopyStmt: unknown }>['CopyStmt']['relation']>,
    attnames: readonly string[],
    options: CopyFormatOptions,
  ): Promise<ExecResult> {
    if (this.block !== undefined ? this.readOnlyTxn(this.block) : this.hotSettings().readOnly)
      throw this.refuseWrite('COPY FROM');
    // The COPY runs in the open block, or in a transaction of its own that commits when the data is in.
    const own = this.block === undefined;
    const txn = this.block ?? this.beginTxn(this.implicitTxnOptions());
    if (own) this.txnStartMicros = this.stmtStartMicros;
    const fail = async (): Promise<void> => {
      if (own) {
        if (txn.state === 'active') await txn.rollback().catch(() => undefined);
      } else this.failed = true;
    };
    let columns: ColumnDef[];
    let catalog: CatalogSnapshot;
    let t: TableDef;
    try {
      if (!own) txn.beginStatement();
      catalog = await this.catalogFor(txn);
      const b = this.binder(catalog, '', []);
      t = b.lookupTable(rv.schemaname, rv.relname ?? '', rv.location)!;
      if (t.kind !== 'r')
        throw new NextDbError('42809', `cannot copy to ${t.kind === 'v' ? 'view' : 'relation'} "${t.name}"`);
      const visible = t.columns.filter((col) => !col.dropped && col.hidden !== true);
      columns =
        attnames.length === 0
          ? visible
          : attnames.map((n) => {
              const col = visible.find((x) => x.name === n);
              if (col === undefined)
                throw new NextDbError('42703', `column "${n}" of relation "${t.name}" does not exist`);
              return col;
            });
    } catch (e) {
      await fail();
      throw e;
    }
    const plans = new Map<number, Plan>();
    const ident = (n: string): string => `"${n.replace(/"/g, '""')}"`;
    const insert = async (rows: Value[][]): Promise<number> => {
      let plan = plans.get(rows.length);
      if (plan === undefined) {
        let k = 0;
        const tuples = rows.map(() => `(${columns.map(() => `$${++k}`).join(', ')})`).join(', ');
        const text = `INSERT INTO ${ident(t.schema)}.${ident(t.name)} (${columns.map((col) => ident(col.name)).join(', ')}) VALUES ${tuples}`;
        const types: (SqlType | undefined)[] = rows.flatMap(() => columns.map((col) => col.type));
        const bound = this.bindQuery(parseSql(text)[0]!.stmt, this.binder(catalog, text, types));
        plan = optimize(bound.plan);
        plans.set(rows.length, plan);
      }
      const params: Value[] = [];
      for (const r of rows) for (const v of r) params.push(v);
      const env = this.env(txn, catalog, params);
      await runPlan(plan, env);
      return env.changed;
    };
    const loader = new CopyLoader({ table: t.name, columns }, options, this.io(), insert);
    let done = false;
    const copy: CopyIn = {
      format: FormatCode.text,
      columnFormats: columns.map(() => FormatCode.text),
      write: async (data) => {
        if (done) return;
        try {
          await loader.write(data);
        } catch (e) {
          done = true;
          await fail();
          throw e;
        }
      },
      finish: async () => {
        if (done) throw new NextDbError(SqlState.inFailedSqlTransaction, 'COPY already failed');
        done = true;
        let n: number;
        try {
          n = await loader.finish();
          if (own) await txn.commit();
        } catch (e) {
          await fail();
          throw e;
        }
        return [{ commandTag: `COPY ${n}` }];
      },
      abort: async () => {
        if (done) return;
        done = true;
        await fail();
      },
    };
    return { tag: 'COPY', copyIn: copy };
  }

  /** Runs a query with typed parameters and returns raw values (embedded API). */
  async queryValues(
    sql: string,
    params: readonly Value[],
    paramTypes: readonly (SqlType | undefined)[] = [],
  ): Promise<{ tag: string; cols: readonly OutputColumn[]; rows: Value[][] }> {
    this.assertOpen();
    const stmts = parseStatements(sql);
    if (stmts.length !== 1 && params.length > 0)
      throw new NextDbError(SqlState.syntaxError, 'cannot insert multiple commands into a prepared statement');
    let last: ExecResult = { tag: '' };
    for (const p of stmts) last = await this.run(p, sql, [...params], [...paramTypes]);
    return { tag: last.tag, cols: last.cols ?? [], rows: last.rows ?? [] };
  }

  /** Embedded API: prepares `sql` (types inferred) without registering a name. */
  async prepareHandle(sql: string): Promise<PreparedHandle> {
    const name = `\u0000embedded${++embeddedSeq}`;
    await this.prepare(name, sql, []);
    const p = this.getPrepared(name);
    this.prepared.delete(name);
    return new PreparedHandle(p);
  }

  /**
   * Embedded API: runs a prepared handle synchronously when it can take
   * the read-only point fast path (see pointReadNow); undefined when it
   * cannot, and then nothing has happened: call runHandle.
   */
  runHandleNow(h: PreparedHandle, params: readonly Value[]): RowsResult | undefined {
    this.assertOpen();
    const p = h.prepared;
    const point = p.cache?.point;
    if (point === undefined) return undefined;
    // A plain lookup reads only its parameters and the row (PointLookup.readLatestPlain): no clock reading
    // (if it cannot run now, runHandle starts the statement again, with one).
    this.startStatement(true, point.plain !== undefined);
    return this.pointReadNow(p, params);
  }

  /** Embedded API: runs a prepared handle with already-converted parameter values. */
  async runHandle(
    h: PreparedHandle,
    params: readonly Value[],
  ): Promise<{ tag: string; cols: readonly OutputColumn[]; rows: Value[][] }> {
    this.assertOpen();
    const p = h.prepared;
    if (p.parsed === undefined) return { tag: 'EMPTY', cols: [], rows: [] };
    const r = await this.run(p.parsed, p.sql, [...params], [...p.paramTypes], p);
    return { tag: r.tag, cols: r.cols ?? [], rows: r.rows ?? [] };
  }

  async prepare(name: string, sql: string, paramTypes: readonly number[]): Promise<PreparedStatementInfo> {
    this.assertOpen();
    if (name !== '' && this.prepared.has(name))
      throw new NextDbError('42P05', `prepared statement "${name}" already exists`);
    const stmts = parseStatements(sql);
    if (stmts.length > 1)
      throw new NextDbError(SqlState.syntaxError, 'cannot insert multiple commands into a prepared statement');
    const parsed = stmts[0];
    const types: (SqlType | undefined)[] = paramTypes.map((oid) => (oid === 0 ? undefined : typeByOid(oid)));
    paramTypes.forEach((oid, i) => {
      if (oid !== 0 && types[i] === undefined) throw new NextDbError('42704', `type with OID ${oid} does not exist`);
    });
    let columns: readonly OutputColumn[] | undefined;
    let cache: Prepared['cache'];
    // DECLARE CURSOR: its query's parameters (it returns no rows itself).
    const declared =
      parsed !== undefined && 'DeclareCursorStmt' in parsed.stmt ? parsed.stmt.DeclareCursorStmt.query : undefined;
    if (declared !== undefined && SqlSession.isQuery(declared)) {
      const bindDeclared = async (txn: Txn): Promise<void> => {
        this.bindQuery(declared, this.binder(await this.catalogFor(txn), sql, types));
      };
      await (this.block !== undefined ? bindDeclared(this.block) : this.inTxn(bindDeclared));
    } else if (parsed !== undefined && 'FetchStmt' in parsed.stmt && parsed.stmt.FetchStmt.ismove !== true) {
      columns = this.cursors?.columnsOf(parsed.stmt.FetchStmt.portalname ?? '');
    } else if (parsed !== undefined && SqlSession.isQuery(parsed.stmt)) {
      const bind = async (txn: Txn): Promise<void> => {
        const catalog = await this.catalogFor(txn);
        const b = this.binder(catalog, sql, types);
        const bound = this.bindQuery(parsed.stmt, b);
        const plan = { plan: optimize(bound.plan), cols: bound.cols };
        columns = bound.cols.length > 0 || 'SelectStmt' in parsed.stmt ? bound.cols : undefined;
        cache = new CachedPlan(catalog.version, this.settingsKey(), plan);
      };
      if (this.block !== undefined) {
        if (this.failed)
          throw new NextDbError(
            SqlState.inFailedSqlTransaction,
            'current transaction is aborted, commands ignored until end of transaction block',
          );
        await bind(this.block);
      } else {
        const txn = this.beginTxn({ readOnly: true, isolation: 'read committed' });
        try {
          await bind(txn);
        } finally {
          await txn.rollback().catch(() => undefined);
        }
      }
    } else if (parsed !== undefined && 'VariableShowStmt' in parsed.stmt) {
      columns = [{ id: 1, name: parsed.stmt.VariableShowStmt.name ?? '', type: Types.text, tableOid: 0, attnum: 0 }];
    }
    const resolved = types.map((t) => t ?? Types.text);
    const p: Prepared = { name, parsed, sql, paramTypes: resolved, columns, ...(cache === undefined ? {} : { cache }) };
    this.prepared.set(name, p);
    return {
      paramTypes: resolved.map((t) => t.oid),
      columns: columns === undefined ? undefined : this.describe(columns),
    };
  }

  describeStatement(name: string): PreparedStatementInfo {
    const p = this.getPrepared(name);
    return {
      paramTypes: p.paramTypes.map((t) => t.oid),
      columns: p.columns === undefined ? undefined : this.describe(p.columns),
    };
  }

  private getPrepared(name: string): Prepared {
    const p = this.prepared.get(name);
    if (p === undefined) throw new NextDbError('26000', `prepared statement "${name}" does not exist`);
    return p;
  }

  bind(
    portal: string,
    statement: string,
    paramFormats: readonly FormatCode[],
    params: readonly (Buffer | null)[],
    resultFormats: readonly FormatCode[],
  ): void {
    const p = this.getPrepared(statement);
    if (params.length !== p.paramTypes.length) {
      throw new NextDbError(
        SqlState.protocolViolation,
        `bind message supplies ${params.length} parameters, but prepared statement "${statement}" requires ${p.paramTypes.length}`,
      );
    }
    const io = this.io();
    const n = params.length;
    const values = new Array<Value>(n);
    for (let i = 0; i < n; i++) {
      const b = params[i]!;
      if (b === null) {
        values[i] = null;
        continue;
      }
      const f = paramFormats.length === 0 ? 0 : paramFormats.length === 1 ? paramFormats[0]! : (paramFormats[i] ?? 0);
      const ty = p.paramTypes[i]!;
      if (f === 1) values[i] = parseBinary(ty, b, io);
      else {
        // A text int4/int2 of plain digits (pgbench's and most drivers' keys) is read from the bytes, without a string.
        const small = ty.id === 'int4' || ty.id === 'int2' ? smallIntBytes(b) : undefined;
        values[i] =
          small !== undefined && (ty.id === 'int4' || (small <= 32767 && small >= -32768))
            ? small
            : parseText(ty, b.toString('utf8'), io);
      }
    }
    const bound: Portal = { stmt: p, params: values, resultFormats, pos: 0 };
    if (portal === '') this.unnamedPortal = bound;
    else if (this.portals.has(portal)) throw new NextDbError('42P03', `cursor "${portal}" already exists`);
    else this.portals.set(portal, bound);
  }

  describePortal(portal: string): readonly ColumnDescription[] | undefined {
    const p = this.getPortal(portal);
    return p.stmt.columns === undefined ? undefined : this.describe(p.stmt.columns);
  }

  private getPortal(name: string): Portal {
    const p = this.findPortal(name);
    if (p === undefined) throw new NextDbError('34000', `portal "${name}" does not exist`);
    return p;
  }

  async execute(portal: string, maxRows: number): Promise<PortalResult> {
    this.assertOpen();
    const p = this.getPortal(portal);
    if (p.result === undefined) {
      const parsed = p.stmt.parsed;
      if (parsed === undefined) {
        p.result = { tag: '' }; // EmptyQueryResponse
      } else {
        const r = await this.run(parsed, p.stmt.sql, p.params, [...p.stmt.paramTypes], p.stmt);
        // A statement's own notices (BEGIN in a block, COMMIT outside one) go out with the portal's, as in the simple protocol.
        if (r.notices !== undefined) this.pendingNotices.push(...r.notices);
        p.result = r;
      }
    }
    return this.portalResult(p, maxRows);
  }

  /**
   * Runs a portal at once when its statement takes the read-only point
   * fast path or is a constant SELECT (pointReadNow, constantNow): the
   * same answer as execute(), without a promise. Undefined when it cannot,
   * and then nothing has happened: call execute().
   */
  executeNow(portal: string, maxRows: number): PortalResult | undefined {
    this.assertOpen();
    const p = this.findPortal(portal);
    if (p === undefined || p.result !== undefined) return undefined;
    const stmt = p.stmt.parsed?.stmt;
    if (stmt !== undefined && 'TransactionStmt' in stmt && this.block === undefined) {
      // BEGIN / START TRANSACTION outside a block: nothing to wait for (run() would do the same, in a promise).
      const kind = stmt.TransactionStmt.kind ?? 'TRANS_STMT_BEGIN';
      if (kind !== 'TRANS_STMT_BEGIN' && kind !== 'TRANS_STMT_START') return undefined;
      this.startStatement(true);
      p.result = this.beginBlock(stmt.TransactionStmt);
      return this.portalResult(p, maxRows);
    }
    const cached = p.stmt.cache;
    if (cached === undefined) return undefined;
    if (cached.point === undefined && cached.constant === undefined) return undefined;
    // A plain lookup reads no clock (as runHandleNow); when the fast path is refused, execute() starts the statement again.
    this.startStatement(true, cached.point?.plain !== undefined);
    const r = this.pointReadNow(p.stmt, p.params) ?? this.constantNow(p.stmt, p.params);
    if (r === undefined) return undefined;
    p.result = r;
    return this.portalResult(p, maxRows);
  }

  /** The next rows of a portal whose statement has run (at most maxRows, 0 = all). */
  private portalResult(p: Portal, maxRows: number): PortalResult {
    const r = p.result!;
    if (r.copyIn !== undefined) return { commandTag: r.tag, copyIn: r.copyIn, suspended: false };
    if (r.copyOut !== undefined) return { commandTag: r.tag, copyOut: r.copyOut, suspended: false };
    const notices = this.pendingNotices.length === 0 ? undefined : { notices: this.pendingNotices.splice(0) };
    if (r.cols === undefined || r.rows === undefined) {
      return { commandTag: r.tag, suspended: false, ...notices };
    }
    const all = r.rows;
    const end = maxRows > 0 ? Math.min(all.length, p.pos + maxRows) : all.length;
    const slice = all.slice(p.pos, end);
    p.pos = end;
    const suspended = end < all.length;
    const tag = r.tag.startsWith('SELECT') ? `SELECT ${slice.length}` : r.tag;
    return {
      commandTag: tag,
      columns: this.describe(r.cols),
      rows: this.formatRows(r.cols, slice, p.resultFormats),
      suspended,
      ...notices,
    };
  }

  closeStatement(name: string): void {
    this.prepared.delete(name);
  }

  closePortal(portal: string): void {
    if (portal === '') this.unnamedPortal = undefined;
    else this.portals.delete(portal);
  }

  private findPortal(name: string): Portal | undefined {
    return name === '' ? this.unnamedPortal : this.portals.get(name);
  }

  sync(): undefined {
    // Each Execute ran in its own implicit transaction (or the open block); nothing to close.
    this.unnamedPortal = undefined;
    return undefined;
  }

  cancel(): void {
    this.cancelRequested = true;
  }

  /** Set by the server (Session.onTerminate); without it, pg_terminate_backend just closes the session. */
  onTerminate: ((message: string) => void) | undefined;

  /** pg_terminate_backend: stops the running statement and ends the session with FATAL 57P01. */
  terminate(): void {
    this.cancel();
    if (this.onTerminate !== undefined) this.onTerminate('terminating connection due to administrator command');
    else void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.core.backends.remove(this);
    if (this.block !== undefined && this.block.state === 'active') await this.block.rollback().catch(() => undefined);
    this.endBlock();
    this.prepared.clear();
    this.portals.clear();
    this.unnamedPortal = undefined;
    await this.spill.releaseFrom(0);
    await this.temp?.close();
    this.temp = undefined;
  }

  /** DECLARE name [NO] SCROLL CURSOR [WITH HOLD] FOR query: runs the query now and keeps its rows (cursors.ts). */
  private async declareCursor(
    s: Extract<Node, { DeclareCursorStmt: unknown }>['DeclareCursorStmt'],
    parsed: ParsedStatement,
    params: Value[],
    paramTypes: (SqlType | undefined)[],
  ): Promise<ExecResult> {
    const name = s.portalname ?? '';
    const o = cursorOptions(s);
    if (o.binary) throw notSupported('BINARY cursors', 'fetch in text format');
    if (!o.hold && this.block === undefined)
      throw new NextDbError(SqlState.noActiveSqlTransaction, 'DECLARE CURSOR can only be used in transaction blocks');
    this.cursors ??= new Cursors();
    if (this.cursors.has(name)) throw new NextDbError('42P03', `cursor "${name}" already exists`);
    const query = s.query!;
    if (!('SelectStmt' in query)) throw notSupported(`DECLARE CURSOR FOR ${Object.keys(query)[0] ?? ''}`);
    if (hasModifyingCte(query))
      throw new NextDbError('0A000', 'DECLARE CURSOR must not contain data-modifying statements in WITH');
    const r = await this.run(
      { stmt: query, text: parsed.text, offset: parsed.offset },
      parsed.text,
      params,
      paramTypes,
    );
    this.cursors.add(
      {
        name,
        statement: parsed.text,
        cols: r.cols ?? [],
        rows: r.rows ?? [],
        hold: o.hold,
        binary: o.binary,
        scroll: o.scroll,
        createdMicros: this.stmtStartMicros,
      },
      this.block !== undefined,
    );
    return { tag: 'DECLARE CURSOR' };
  }

  /** pg_cursors: the session's open cursors. */
  cursorList(): CursorInfo[] {
    return this.cursors === undefined ? [] : [...this.cursors.all()];
  }

  /** DISCARD TEMP / ALL: drops the session's temporary objects (all of them are in its private space). */
  private async discardTemp(): Promise<void> {
    if (this.temp === undefined) return;
    if (this.block !== undefined)
      throw notSupported('DISCARD TEMP inside a transaction block', 'run it outside the block');
    await this.temp.close();
    this.temp = undefined;
    this.settingsChanged();
  }

  private assertOpen(): void {
    assert(!this.closed, 'session is closed');
  }
}

let embeddedSeq = 0;

/** Whether a cursor's query has a data-modifying CTE (PostgreSQL refuses it). */
function hasModifyingCte(query: Node): boolean {
  if (!('SelectStmt' in query)) return false;
  for (const cte of query.SelectStmt.withClause?.ctes ?? []) {
    const q = 'CommonTableExpr' in cte ? cte.CommonTableExpr.ctequery : undefined;
    if (q !== undefined && ('InsertStmt' in q || 'UpdateStmt' in q || 'DeleteStmt' in q || 'MergeStmt' in q))
      return true;
  }
  return false;
}

/** Whether `stmt` creates a table with ON COMMIT DELETE ROWS / DROP (commits must look for them). */
function onCommitAction(stmt: Node): boolean {
  const a =
    'CreateStmt' in stmt
      ? stmt.CreateStmt.oncommit
      : 'CreateTableAsStmt' in stmt
        ? stmt.CreateTableAsStmt.into?.onCommit
        : undefined;
  return a === 'ONCOMMIT_DELETE_ROWS' || a === 'ONCOMMIT_DROP';
}

/** Whether `stmt` creates a temporary relation (the session needs its temporary space first). */
function createsTemp(stmt: Node): boolean {
  if ('CreateStmt' in stmt) return isTempRelation(stmt.CreateStmt.relation ?? {});
  if ('CreateTableAsStmt' in stmt) return isTempRelation(stmt.CreateTableAsStmt.into?.rel ?? {});
  if ('ViewStmt' in stmt) return isTempRelation(stmt.ViewStmt.view ?? {});
  return false;
}

/** How many times one statement runs again after SERIALIZABLE write refreshes before its 40001 goes to the client. */
const STATEMENT_RETRIES_MAX = 100;

/** work_mem and temp_file_limit in bytes (both validated by SET). */
function spillSettings(s: SqlSession): SpillSettings {
  return {
    workMemBytes: parseMemorySetting(s.getSetting('work_mem') ?? '4MB') ?? 4 * 1024 * 1024,
    tempFileLimitBytes: parseMemorySetting(s.getSetting('temp_file_limit') ?? '-1') ?? -1,
  };
}

const describedColumns = new WeakMap<readonly OutputColumn[], readonly ColumnDescription[]>();

/** The statements of `sql`; none for an empty string (EmptyQueryResponse), which the parser itself refuses. */
function parseStatements(sql: string): ParsedStatement[] {
  return sql === '' ? [] : parseSql(sql);
}

/** Adds PartialResultsCarrier fields to an error on its way to the server (never to a non-object). */
function carry(e: unknown, fields: PartialResultsCarrier): void {
  if (e === null || typeof e !== 'object') return;
  const c = e as { -readonly [K in keyof PartialResultsCarrier]: PartialResultsCarrier[K] };
  if (fields.completedResults !== undefined && c.completedResults === undefined)
    c.completedResults = fields.completedResults;
  if (fields.failedColumns !== undefined && c.failedColumns === undefined) c.failedColumns = fields.failedColumns;
}

/** An embedded prepared statement: parameter types and a plan cache. */
export class PreparedHandle {
  /** @internal */
  constructor(readonly prepared: Prepared) {}
  get paramTypes(): readonly SqlType[] {
    return this.prepared.paramTypes;
  }
  get columns(): readonly OutputColumn[] | undefined {
    return this.prepared.columns;
  }
}

/** The command a read-only transaction refuses, as PostgreSQL names it in 25006. */
function ddlCommand(stmt: Node): string {
  const kind = Object.keys(stmt)[0] ?? 'statement';
  const names: Record<string, string> = {
    CreateStmt: 'CREATE TABLE',
    IndexStmt: 'CREATE INDEX',
    ViewStmt: 'CREATE VIEW',
    CreateSeqStmt: 'CREATE SEQUENCE',
    CreateSchemaStmt: 'CREATE SCHEMA',
    DropStmt: 'DROP',
    TruncateStmt: 'TRUNCATE TABLE',
    AlterTableStmt: 'ALTER TABLE',
    RenameStmt: 'ALTER',
    AlterRoleStmt: 'ALTER ROLE',
    DropRoleStmt: 'DROP ROLE',
    GrantStmt: 'GRANT',
  };
  return names[kind] ?? kindToSql(kind);
}

function kindToSql(kind: string): string {
  const map: Record<string, string> = {
    CreateFunctionStmt: 'CREATE FUNCTION',
    CreateTrigStmt: 'CREATE TRIGGER',
    CreateRoleStmt: 'CREATE ROLE',
    GrantStmt: 'GRANT/REVOKE (privileges)',
    GrantRoleStmt: 'GRANT role',
    DoStmt: 'DO',
    ListenStmt: 'LISTEN',
    NotifyStmt: 'NOTIFY',
    LockStmt: 'LOCK',
    ReindexStmt: 'REINDEX',
    CreateExtensionStmt: 'CREATE EXTENSION',
    CreateDomainStmt: 'CREATE DOMAIN',
    CompositeTypeStmt: 'CREATE TYPE',
    CreateEnumStmt: 'CREATE TYPE ... AS ENUM',
    PrepareStmt: 'PREPARE',
    ExecuteStmt: 'EXECUTE',
    DeclareCursorStmt: 'DECLARE CURSOR',
    FetchStmt: 'FETCH',
    ClosePortalStmt: 'CLOSE',
    MergeStmt: 'MERGE',
    CallStmt: 'CALL',
    AlterSeqStmt: 'ALTER SEQUENCE',
    RuleStmt: 'CREATE RULE',
    CreateTableAsStmt: 'CREATE TABLE AS',
  };
  return map[kind] ?? kind.replace(/Stmt$/, '');
}

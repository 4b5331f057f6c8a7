/**
 * ClusterSession: the Session a cluster node hands to every PostgreSQL
 * connection, so a client may connect to any node and need not know who
 * leads.
 *
 *   PgConnection ──► ClusterSession ──┬─ this node serves ─► local SqlEngine session
 *                                     └─ otherwise ────────► RemoteSession ─► the leader's SQL port
 *
 * Target choice: at open, and again whenever the session is idle (no
 * transaction block open) and the target went stale — the local node no
 * longer serves, the remote connection closed, or another node leads now.
 * A switch keeps the named prepared statements (they are prepared again on
 * the new target) and the session's SET/RESET statements sent with the
 * simple protocol outside blocks (the last one per parameter is run again
 * on the new target).
 * A connection forwarded to this node (startup parameter
 * `nextdb.forwarded_from`) is never forwarded again: it is served locally
 * or refused with NotLeaderError, so two nodes with different ideas of who
 * leads cannot bounce a session between them.
 *
 * Leader changes:
 * - inside a transaction block: the block fails with 40001 (on the local
 *   target ClusterTxn reports it; when the remote leader's connection is
 *   lost, this session reports it and stays in the failed-block state until
 *   the client ends the block with ROLLBACK, COMMIT or END);
 * - an implicit transaction (a simple Query outside a block) that fails
 *   with 40001 before any of its statements completed — the leader moved,
 *   or a serialization conflict: nothing of it committed — is retried here,
 *   up to RETRIES_MAX times with backoff, on whichever node leads then. A
 *   statement whose connection to the leader was lost after it was sent is
 *   never retried: it fails with 40003 (completion unknown). Extended-
 *   protocol executions are not retried (their implicit transaction spans
 *   until Sync, after rows may have gone out).
 *
 * Stale reads: `SET nextdb.read_consistency = 'stale'` (or 'linearizable',
 * the default; also RESET and SHOW, and SET as a prepared statement) is
 * handled here; a connection may also start with it (startup parameter
 * `nextdb.read_consistency`, or `options=-c nextdb.read_consistency=stale`). While it is 'stale', a simple query outside a transaction
 * block that does not open one runs on this node's own replica
 * (deps.stale: a SqlEngine over StaleTxnManager) without asking the
 * leader — if the node heard from the leader within an election timeout,
 * which bounds how far the replica can lag; otherwise, and for any
 * statement that tries to write (25006 from the read-only transaction,
 * before anything changed), the statement goes the normal way. Extended-
 * protocol statements and statements inside blocks always go the normal
 * way (linearizable).
 */

import type { ClusterNode } from '../kv/cluster-node.ts';
import { NotLeaderError } from '../raft/errors.ts';
import { NONE, type NodeId } from '../raft/types.ts';
import type {
  ColumnDescription,
  FormatCode,
  PartialResultsCarrier,
  PortalResult,
  PreparedStatementInfo,
  Session,
  StatementResult,
  TxnStatus,
} from '../sql/api.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { ConnectionLostError, RemoteSession } from './remote-session.ts';
import type { StartupInfo } from './server-types.ts';

/** Implicit statements are retried at most this many times. */
export const RETRIES_MAX = 8;
/** The startup parameter that marks a forwarded connection. */
export const FORWARDED_PARAM = 'nextdb.forwarded_from';

/** The session setting that asks for stale reads. */
export const READ_CONSISTENCY = 'nextdb.read_consistency';
const readConsistencyValues = ['linearizable', 'stale'] as const;
type ReadConsistency = (typeof readConsistencyValues)[number];

/** SET / RESET / SHOW of nextdb.read_consistency (one statement, optional trailing ';'). */
const setRe = /^\s*set\s+(?:session\s+)?nextdb\.read_consistency\s*(?:=|to)\s*(?:'([^']*)'|([a-z_]+))\s*;?\s*$/i;
const resetRe =
  /^\s*(?:reset\s+nextdb\.read_consistency|set\s+(?:session\s+)?nextdb\.read_consistency\s*(?:=|to)\s*default)\s*;?\s*$/i;
const showRe = /^\s*show\s+nextdb\.read_consistency\s*;?\s*$/i;
const beginsBlock = /^\s*(begin|start\s+transaction)\b/i;
/** `SET [SESSION] name ...` or `RESET name` as one statement: the parameter name (SET LOCAL ends with its block). */
const settingRe = /^\s*(?:set\s+(?:session\s+)?(?!local\b)([a-z_][\w.]*)\b|reset\s+([a-z_][\w.]*))[^;]*;?\s*$/i;

export interface ClusterSessionDeps {
  readonly node: ClusterNode;
  /** A session of this node's own SQL engine (called only while the node serves). */
  local(startup: StartupInfo): Promise<Session>;
  /** SQL/HTTP address (host:port) of a member, from the member registry. */
  addressOf(id: NodeId): string | undefined;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Stale reads on this node: a session over its own replica, and whether the replica is fresh enough now. */
  readonly stale?: {
    session(startup: StartupInfo): Promise<Session>;
    fresh(): boolean;
    /** Counts statements served from the replica (metrics). */
    served(): void;
  };
  /** Counts implicit statements retried after a 40001 (metrics). */
  retried?(): void;
}

/** A statement answered by this session itself (SET/SHOW nextdb.read_consistency), also when prepared. */
interface OwnStatement {
  readonly info: PreparedStatementInfo;
  run(): StatementResult;
}

interface Target {
  readonly kind: 'local' | 'remote';
  readonly session: Session;
  readonly leader: NodeId;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const endsBlock = /^\s*(rollback|abort|commit|end)\b/i;

export class ClusterSession implements Session {
  private target: Target | undefined;
  /** The remote leader was lost inside a transaction block: 'E' until the client ends the block. */
  private broken = false;
  private brokenEnd: string | undefined;
  /** Named prepared statements, to prepare again after a switch. */
  private readonly prepared = new Map<string, { sql: string; paramTypes: readonly number[] }>();
  /** Session-level SET/RESET statements (simple protocol, outside blocks), replayed after a switch; the last per parameter. */
  private readonly settings = new Map<string, string>();
  private readonly forwarded: boolean;
  private readConsistency: ReadConsistency = 'linearizable';
  private staleSession: Session | undefined;
  private readonly own = new Map<string, OwnStatement>();
  private readonly ownPortals = new Map<string, OwnStatement>();

  private constructor(
    private readonly deps: ClusterSessionDeps,
    private readonly startup: StartupInfo,
  ) {
    this.forwarded = startup.params?.[FORWARDED_PARAM] !== undefined;
    // The setting may also come with the connection: a startup parameter of its own name
    // (drivers that pass arbitrary parameters) or `options=-c nextdb.read_consistency=stale` (PGOPTIONS).
    const fromOptions = /(?:^|\s)(?:-c\s*|--)nextdb\.read_consistency=(\w+)/.exec(startup.params?.options ?? '')?.[1];
    const initial = (startup.params?.[READ_CONSISTENCY] ?? fromOptions)?.toLowerCase();
    if (initial !== undefined && (readConsistencyValues as readonly string[]).includes(initial))
      this.readConsistency = initial as ReadConsistency;
  }

  /** Opens the first target, retrying (like an implicit statement) while the leader is moving. */
  static async open(deps: ClusterSessionDeps, startup: StartupInfo): Promise<ClusterSession> {
    const s = new ClusterSession(deps, startup);
    for (let attempt = 0; ; attempt++) {
      try {
        await s.current();
        return s;
      } catch (e) {
        if (!s.mayRetry(e, undefined) || attempt >= RETRIES_MAX) throw e;
        await s.backoff(attempt);
      }
    }
  }

  get txnStatus(): TxnStatus {
    if (this.broken) return 'E';
    return this.target?.session.txnStatus ?? 'I';
  }

  /** Where statements run now: 'local' or 'remote' (tests, the admin page). */
  get targetKind(): 'local' | 'remote' | undefined {
    return this.target?.kind;
  }

  getSetting(name: string): string | undefined {
    if (name === READ_CONSISTENCY) return this.readConsistency;
    return this.target?.session.getSetting(name);
  }

  /** SET/RESET/SHOW nextdb.read_consistency, or undefined for any other statement. */
  private ownStatement(sql: string): OwnStatement | undefined {
    const set = setRe.exec(sql);
    const reset = set === null ? resetRe.exec(sql) : null;
    if (set !== null || reset !== null) {
      const value = reset !== null ? 'linearizable' : (set![1] ?? set![2] ?? '').toLowerCase();
      return {
        info: { paramTypes: [], columns: undefined },
        run: () => {
          if (!(readConsistencyValues as readonly string[]).includes(value))
            throw new NextDbError(
              SqlState.invalidParameterValue,
              `invalid value for parameter "${READ_CONSISTENCY}": "${value}"`,
              {
                hint: `Available values: ${readConsistencyValues.join(', ')}.`,
              },
            );
          this.readConsistency = value as ReadConsistency;
          return { commandTag: 'SET' };
        },
      };
    }
    if (showRe.test(sql)) {
      const columns: ColumnDescription[] = [
        { name: READ_CONSISTENCY, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1 },
      ];
      return {
        info: { paramTypes: [], columns },
        run: () => ({ commandTag: 'SHOW', columns, rows: [[Buffer.from(this.readConsistency)]] }),
      };
    }
    return undefined;
  }

  /** Runs `sql` on this node's replica when the session asked for stale reads and that is allowed now; undefined otherwise. */
  private async tryStale(sql: string): Promise<StatementResult[] | undefined> {
    const stale = this.deps.stale;
    if (
      this.readConsistency !== 'stale' ||
      stale === undefined ||
      this.txnStatus !== 'I' ||
      beginsBlock.test(sql) ||
      !stale.fresh()
    )
      return undefined;
    let session: Session;
    try {
      session = this.staleSession ??= await stale.session(this.startup);
    } catch {
      this.staleSession = undefined;
      return undefined; // e.g. the catalog has not replicated yet: the normal way works
    }
    try {
      const results = await session.simpleQuery(sql);
      if (session.txnStatus !== 'I') {
        await session.simpleQuery('ROLLBACK').catch(() => undefined);
        throw new NextDbError(
          SqlState.featureNotSupported,
          `transaction blocks cannot be opened under ${READ_CONSISTENCY} = 'stale'; SET ${READ_CONSISTENCY} = 'linearizable' first`,
        );
      }
      stale.served();
      return results;
    } catch (e) {
      if (session.txnStatus !== 'I') await session.simpleQuery('ROLLBACK').catch(() => undefined);
      const completed = (e as PartialResultsCarrier).completedResults?.length ?? 0;
      if (e instanceof NextDbError && e.code === SqlState.readOnlySqlTransaction && completed === 0) return undefined; // a write: the leader runs it
      throw e;
    }
  }

  // ───────────── simple protocol ─────────────

  async simpleQuery(sql: string): Promise<StatementResult[]> {
    if (this.broken) return this.inBrokenBlock(sql);
    const own = this.ownStatement(sql);
    if (own !== undefined) return [own.run()];
    const staleResults = await this.tryStale(sql);
    if (staleResults !== undefined) return staleResults;
    this.dropLostTarget();
    for (let attempt = 0; ; attempt++) {
      let t: Target | undefined;
      let before: TxnStatus = this.txnStatus;
      try {
        t = await this.current();
        before = t.session.txnStatus;
        const results = await t.session.simpleQuery(sql);
        if (before === 'I' && t.session.txnStatus === 'I') this.noteSetting(sql, results);
        return results;
      } catch (e) {
        const lost = t !== undefined && t.kind === 'remote' && (t.session as RemoteSession).lost;
        if (before !== 'I') {
          if (lost) throw this.breakBlock(e);
          throw e;
        }
        if (!this.mayRetry(e, t) || attempt >= RETRIES_MAX) throw e;
        this.deps.retried?.();
        await this.backoff(attempt);
      }
    }
  }

  /** Remembers a successful single SET/RESET of a session parameter, to replay it on a new target. */
  private noteSetting(sql: string, results: readonly StatementResult[]): void {
    if (results.length !== 1 || (results[0]!.commandTag !== 'SET' && results[0]!.commandTag !== 'RESET')) return;
    const m = settingRe.exec(sql);
    if (m === null) return;
    const name = (m[1] ?? m[2]!).toLowerCase();
    if (name === 'all') this.settings.clear();
    else this.settings.set(name, sql);
  }

  /** After the leader was lost inside a block: only ending the block is accepted. */
  private inBrokenBlock(sql: string): StatementResult[] {
    if (endsBlock.test(sql)) {
      this.broken = false;
      return [{ commandTag: 'ROLLBACK' }];
    }
    throw new NextDbError(
      SqlState.inFailedSqlTransaction,
      'current transaction is aborted, commands ignored until end of transaction block',
    );
  }

  /**
   * A remote target whose connection is gone is dropped before the next
   * statement; if a block was open on it, the block is lost (40001, and the
   * session waits for the client to end it) — the statement must not run
   * outside the block on a new leader.
   */
  private dropLostTarget(): void {
    const t = this.target;
    if (t === undefined || t.kind !== 'remote' || !(t.session as RemoteSession).lost) return;
    this.target = undefined;
    void t.session.close();
    if (t.session.txnStatus !== 'I')
      throw this.breakBlock(new ConnectionLostError((t.session as RemoteSession).address, false));
  }

  private breakBlock(cause: unknown): NextDbError {
    this.broken = true;
    return new NextDbError(
      SqlState.serializationFailure,
      `the connection to the leader was lost; the transaction is aborted (retry it)`,
      { hint: 'end the block with ROLLBACK and run the transaction again', cause },
    );
  }

  /** An implicit transaction may run again when nothing of it can have committed. */
  private mayRetry(e: unknown, t: Target | undefined): boolean {
    if (e instanceof ConnectionLostError) return !e.sent;
    if (!(e instanceof NextDbError) || e.code !== SqlState.serializationFailure) return false;
    if (((e as PartialResultsCarrier).completedResults?.length ?? 0) > 0) return false;
    // The target must be idle again (the failed statement did not leave a block open).
    return t === undefined || t.session.txnStatus === 'I';
  }

  private backoff(attempt: number): Promise<void> {
    const base = this.deps.tickMs * Math.min(2 ** attempt, 16);
    return sleep(base / 2 + Math.random() * base);
  }

  // ───────────── extended protocol ─────────────

  async prepare(name: string, sql: string, paramTypes: readonly number[]): Promise<PreparedStatementInfo> {
    if (this.broken) {
      if (!endsBlock.test(sql))
        throw new NextDbError(
          SqlState.inFailedSqlTransaction,
          'current transaction is aborted, commands ignored until end of transaction block',
        );
      this.brokenEnd = name;
      return { paramTypes: [], columns: undefined };
    }
    const own = this.ownStatement(sql);
    if (own !== undefined) {
      this.own.set(name, own);
      return own.info;
    }
    this.own.delete(name);
    this.dropLostTarget();
    for (let attempt = 0; ; attempt++) {
      let t: Target | undefined;
      try {
        t = await this.current();
        const info = await t.session.prepare(name, sql, paramTypes);
        if (name !== '') this.prepared.set(name, { sql, paramTypes });
        return info;
      } catch (e) {
        // Preparing has no effects: retry when the leader moved and no block is open.
        if (this.txnStatus !== 'I' || !this.mayRetry(e, t) || attempt >= RETRIES_MAX) throw e;
        if (t?.kind === 'remote' && this.target === t) {
          // The leader's connection now skips everything up to a Sync the client has not sent yet: retry on a fresh one.
          this.target = undefined;
          void t.session.close();
        }
        this.deps.retried?.();
        await this.backoff(attempt);
      }
    }
  }

  describeStatement(name: string): PreparedStatementInfo {
    if (this.broken && this.brokenEnd === name) return { paramTypes: [], columns: undefined };
    const own = this.own.get(name);
    if (own !== undefined) return own.info;
    return this.require().describeStatement(name);
  }

  bind(
    portal: string,
    statement: string,
    paramFormats: readonly FormatCode[],
    params: readonly (Buffer | null)[],
    resultFormats: readonly FormatCode[],
  ): void {
    if (this.broken) {
      if (statement === this.brokenEnd) return;
      throw new NextDbError(
        SqlState.inFailedSqlTransaction,
        'current transaction is aborted, commands ignored until end of transaction block',
      );
    }
    const own = this.own.get(statement);
    if (own !== undefined) {
      this.ownPortals.set(portal, own);
      return;
    }
    this.ownPortals.delete(portal);
    this.require().bind(portal, statement, paramFormats, params, resultFormats);
  }

  describePortal(portal: string): readonly ColumnDescription[] | undefined {
    if (this.broken) return undefined;
    const own = this.ownPortals.get(portal);
    if (own !== undefined) return own.info.columns;
    return this.require().describePortal(portal);
  }

  async execute(portal: string, maxRows: number): Promise<PortalResult> {
    if (this.broken) {
      if (this.brokenEnd === undefined)
        throw new NextDbError(
          SqlState.inFailedSqlTransaction,
          'current transaction is aborted, commands ignored until end of transaction block',
        );
      this.broken = false;
      this.brokenEnd = undefined;
      return { commandTag: 'ROLLBACK', suspended: false };
    }
    const own = this.ownPortals.get(portal);
    if (own !== undefined) return { ...own.run(), suspended: false };
    const t = this.requireTarget();
    const before = t.session.txnStatus;
    try {
      return await t.session.execute(portal, maxRows);
    } catch (e) {
      if (before !== 'I' && t.kind === 'remote' && (t.session as RemoteSession).lost) throw this.breakBlock(e);
      throw e;
    }
  }

  closeStatement(name: string): void {
    this.prepared.delete(name);
    if (this.own.delete(name)) return;
    if (this.brokenEnd === name) this.brokenEnd = undefined;
    this.target?.session.closeStatement(name);
  }

  closePortal(portal: string): void {
    if (this.ownPortals.delete(portal)) return;
    this.target?.session.closePortal(portal);
  }

  async sync(): Promise<void> {
    const t = this.target;
    if (t === undefined || this.broken) return;
    const before = t.session.txnStatus;
    try {
      await t.session.sync();
    } catch (e) {
      if (t.kind === 'remote' && (t.session as RemoteSession).lost) {
        if (before !== 'I') throw this.breakBlock(e);
        return; // an idle connection that went away: the next statement opens a new one
      }
      throw e;
    }
  }

  cancel(): void {
    this.target?.session.cancel();
  }

  async close(): Promise<void> {
    const t = this.target;
    this.target = undefined;
    const stale = this.staleSession;
    this.staleSession = undefined;
    await stale?.close();
    await t?.session.close();
  }

  // ───────────── target choice ─────────────

  private require(): Session {
    return this.requireTarget().session;
  }

  private requireTarget(): Target {
    const t = this.target;
    if (t === undefined) throw new NextDbError('08006', 'no connection to the leader');
    return t;
  }

  /** The current target, switched first when idle and stale. */
  private async current(): Promise<Target> {
    const t = this.target;
    if (t !== undefined && (t.session.txnStatus !== 'I' || !this.stale(t))) return t;
    this.target = undefined;
    if (t !== undefined) await t.session.close().catch(() => undefined);
    const next = await this.choose();
    for (const sql of this.settings.values()) await next.session.simpleQuery(sql).catch(() => undefined);
    for (const [name, p] of this.prepared) {
      try {
        await next.session.prepare(name, p.sql, p.paramTypes);
      } catch {
        this.prepared.delete(name); // e.g. its table was dropped meanwhile: it fails when used, as it would anyway
      }
    }
    this.target = next;
    return next;
  }

  private stale(t: Target): boolean {
    const st = this.deps.node.status();
    if (t.kind === 'local') return !st.serving;
    if ((t.session as RemoteSession).lost) return true;
    return st.leader !== NONE && st.leader !== t.leader;
  }

  private async choose(): Promise<Target> {
    const node = this.deps.node;
    const deadline = Date.now() + this.deps.tickMs * this.deps.electionTicks * 4;
    for (;;) {
      const st = node.status();
      if (st.serving) return { kind: 'local', session: await this.deps.local(this.startup), leader: node.id };
      if (this.forwarded) throw new NotLeaderError(node.group, node.id, st.leader === node.id ? NONE : st.leader);
      if (st.leader !== NONE && st.leader !== node.id) {
        const addr = this.deps.addressOf(st.leader);
        if (addr !== undefined) {
          const i = addr.lastIndexOf(':');
          const session = await RemoteSession.connect(
            addr.slice(0, i).replace(/^\[|\]$/g, ''),
            Number(addr.slice(i + 1)),
            this.startup,
            node.id,
          );
          return { kind: 'remote', session, leader: st.leader };
        }
      }
      if (Date.now() > deadline)
        throw new NotLeaderError(node.group, node.id, st.leader === node.id ? NONE : st.leader);
      await sleep(this.deps.tickMs);
    }
  }
}

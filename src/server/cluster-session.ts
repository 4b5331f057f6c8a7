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
 * `nextdb.read_consistency`, or `options=-c nextdb.read_consistency=stale`).
 * While it is 'stale', a read outside a transaction block runs on this
 * node's own replica (the stale session: deps.stale, a SqlEngine over
 * StaleTxnManager) without asking the leader — if the node heard from the
 * leader within an election timeout, which bounds how far the replica can
 * lag. A read is what `replicaSafe` says: only SELECT (no FOR UPDATE/SHARE,
 * INTO, data-modifying WITH, or function acting on the session or other
 * backends), TABLE, VALUES, SHOW and EXPLAIN of those; judged from the
 * parse tree, because an UPDATE or DELETE that matches nothing on a
 * lagging replica would otherwise "succeed" there without ever reaching the
 * leader. Anything else goes the normal way, and so does a read that tries
 * to write all the same (a function that writes: the replica's read-only
 * transaction refuses the write with 25006 when its statement starts,
 * before anything changed; and when the function caught that 25006 itself,
 * the stale session's writesRefused count tells). Statements
 * inside blocks always go the normal way (linearizable). The stale session
 * gets the session's SET/RESET statements too (replayed when it opens, and
 * each new one), so both resolve names and format values alike.
 *
 * The extended protocol follows the same rules per Execute (NextDB runs
 * each Execute outside a block in an implicit transaction of its own):
 *
 *   Parse ── stale eligible ──► prepared on the stale session only (the
 *            │                  leader is asked at Execute, if ever)
 *            └─ otherwise ────► prepared on the target (as before)
 *   Bind ─── stale eligible ──► a routed portal, bound on the stale session
 *            │                  (at once, or at Execute if the statement must
 *            │                  be prepared there first)
 *            ├─ prepared on the target ► bound there (the ordinary path)
 *            └─ otherwise ────► a routed portal bound on the target at Execute
 *   Execute ─ routed to the replica: runs there; 25006 on its first Execute
 *            (a write) ─► the statement is marked leader-only, the portal is
 *            bound on the target and runs there
 *   Sync ─── goes to the stale session and/or the target — only to those
 *            used since the last Sync, so a read served by the replica
 *            costs no round trip to the leader.
 *
 * A statement prepared in one place and run in the other must describe the
 * same parameters and columns there (the client was told them at Parse);
 * otherwise the replica is not used, or on the target the Execute fails with
 * 0A000 'cached plan must not change result type', as PostgreSQL says when a
 * prepared statement's result type changed under it.
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
import { loadParser, parseSql } from '../sql/parser.ts';
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
/** A SET or RESET of any kind: runs on the target (and is replayed on the stale session), never only on the replica. */
const setsParameter = /^\s*(set|reset)\b/i;
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

/** A prepared statement ('' included) as the client was told it, and where it is prepared. */
interface Statement {
  readonly name: string;
  readonly sql: string;
  readonly paramTypes: readonly number[];
  /** What Parse answered the client (parameter and result types). */
  readonly info: PreparedStatementInfo;
  /** The target session it is prepared on under `name` (undefined: not yet, or not since the target changed). */
  on: Session | undefined;
  /** The stale session it is prepared on, and under which name there. */
  staleOn: Session | undefined;
  staleName: string;
  /** Never runs on the replica (not replicaSafe, or it tried to write there once); undefined: not judged yet. */
  leaderOnly: boolean | undefined;
  /** A SET/RESET: remembered for replay when it succeeds outside a block. */
  readonly setting: boolean;
}

/** A portal not bound on the target the ordinary way (see the header: routed to the replica, or bound at Execute). */
interface RoutedPortal {
  readonly stmt: Statement;
  readonly paramFormats: readonly FormatCode[];
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly FormatCode[];
  /** Runs on the replica if it can (until a 25006 sends it to the target). */
  toStale: boolean;
  /** Where it is bound now. */
  at: 'stale' | 'target' | undefined;
  /** Executed once already (a suspended portal continues where it is). */
  started: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const endsBlock = /^\s*(rollback|abort|commit|end)\b/i;

export class ClusterSession implements Session {
  private target: Target | undefined;
  /** The remote leader was lost inside a transaction block: 'E' until the client ends the block. */
  private broken = false;
  private brokenEnd: string | undefined;
  /** Prepared statements by name ('' included): named ones are prepared again after a switch. */
  private readonly statements = new Map<string, Statement>();
  /** Portals routed to the replica or bound on the target only at Execute. */
  private readonly routed = new Map<string, RoutedPortal>();
  /** Portals of SET/RESET statements bound on the target, to remember the setting once it ran. */
  private readonly settingPortals = new Map<string, Statement>();
  /** Since the last Sync: extended-protocol messages went to the target / the stale session ran something. */
  private targetUsed = false;
  private staleUsed = false;
  /** Names for statements prepared only for one portal (a statement re-parsed since its Bind). */
  private hiddenSeq = 0;
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

  /**
   * The session asked for stale reads and they are allowed now: no block is
   * open (nor may one have been opened by an Execute on the target since
   * the last Sync, which a remote target reports only at Sync), and the
   * replica heard from the leader recently.
   */
  private staleAllowed(): boolean {
    return (
      this.readConsistency === 'stale' &&
      this.deps.stale !== undefined &&
      !this.targetUsed &&
      this.txnStatus === 'I' &&
      this.deps.stale.fresh()
    );
  }

  /** The stale session, opened on first use with the session's settings replayed; undefined when it cannot open. */
  private async openStale(): Promise<Session | undefined> {
    if (this.staleSession !== undefined) return this.staleSession;
    let session: Session;
    try {
      session = await this.deps.stale!.session(this.startup);
    } catch {
      return undefined; // e.g. the catalog has not replicated yet: the normal way works
    }
    for (const sql of this.settings.values()) await session.simpleQuery(sql).catch(() => undefined);
    await loadParser(); // loaded by the stale SqlEngine already; replicaSafe parses synchronously
    if (this.staleSession !== undefined) {
      void session.close();
      return this.staleSession;
    }
    this.staleSession = session;
    return session;
  }

  /** Runs `sql` on this node's replica when the session asked for stale reads and that is allowed now; undefined otherwise. */
  private async tryStale(sql: string): Promise<StatementResult[] | undefined> {
    const stale = this.deps.stale;
    if (stale === undefined || !this.staleAllowed() || beginsBlock.test(sql) || setsParameter.test(sql))
      return undefined;
    const session = await this.openStale();
    if (session === undefined || !replicaSafe(sql)) return undefined;
    const refused = session.writesRefused ?? 0;
    try {
      const results = await session.simpleQuery(sql);
      // A write refused there but caught (a PL/pgSQL EXCEPTION handler): nothing was written; the leader runs it.
      if ((session.writesRefused ?? 0) !== refused) return undefined;
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
        if (before === 'I' && t.session.txnStatus === 'I') await this.noteSetting(sql, results);
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

  /**
   * Remembers a successful single SET/RESET of a session parameter, to
   * replay it on a new target, and runs it on the stale session too.
   */
  private async noteSetting(sql: string, results: readonly StatementResult[]): Promise<void> {
    if (results.length !== 1 || (results[0]!.commandTag !== 'SET' && results[0]!.commandTag !== 'RESET')) return;
    const m = settingRe.exec(sql);
    if (m === null) return;
    const name = (m[1] ?? m[2]!).toLowerCase();
    if (name === 'all') this.settings.clear();
    else this.settings.set(name, sql);
    await this.staleSession?.simpleQuery(sql).catch(() => undefined);
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
    if (name !== '' && (this.statements.has(name) || this.own.has(name)))
      throw new NextDbError('42P05', `prepared statement "${name}" already exists`);
    const own = this.ownStatement(sql);
    if (own !== undefined) {
      this.own.set(name, own);
      return own.info;
    }
    this.own.delete(name);
    const setting = setsParameter.test(sql);
    let leaderOnly: boolean | undefined = setting || beginsBlock.test(sql) ? true : undefined;
    if (leaderOnly === undefined && this.staleAllowed()) {
      // Prepared on the replica only: a read it serves never asks the leader.
      const session = await this.openStale();
      if (session !== undefined) leaderOnly = !replicaSafe(sql);
      if (session !== undefined && !leaderOnly) {
        try {
          const info = await session.prepare(name, sql, paramTypes);
          this.statements.set(name, {
            name,
            sql,
            paramTypes,
            info,
            on: undefined,
            staleOn: session,
            staleName: name,
            leaderOnly,
            setting,
          });
          return info;
        } catch {
          // E.g. its table has not replicated yet: the target decides (and reports the error if any).
        }
      }
    }
    this.dropLostTarget();
    for (let attempt = 0; ; attempt++) {
      let t: Target | undefined;
      try {
        t = await this.current();
        this.targetUsed = true;
        const info = await t.session.prepare(name, sql, paramTypes);
        this.statements.set(name, {
          name,
          sql,
          paramTypes,
          info,
          on: t.session,
          staleOn: undefined,
          staleName: name,
          leaderOnly,
          setting,
        });
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
    const st = this.statements.get(name);
    if (st !== undefined) return st.info;
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
    const prev = this.routed.get(portal);
    if (prev !== undefined) {
      if (portal !== '') throw new NextDbError('42P03', `cursor "${portal}" already exists`);
      this.dropRouted(portal, prev);
    }
    this.settingPortals.delete(portal);
    const st = this.statements.get(statement);
    if (st === undefined) {
      // Unknown here: the target answers (26000) as before.
      this.targetUsed = true;
      this.require().bind(portal, statement, paramFormats, params, resultFormats);
      return;
    }
    const route = (toStale: boolean): RoutedPortal => ({
      stmt: st,
      paramFormats,
      params,
      resultFormats,
      toStale,
      at: undefined,
      started: false,
    });
    if (st.leaderOnly !== true && this.staleAllowed()) {
      const r = route(true);
      const session = this.staleSession;
      if (session !== undefined && st.staleOn === session) {
        session.bind(portal, st.staleName, paramFormats, params, resultFormats);
        r.at = 'stale';
      }
      this.routed.set(portal, r);
      return;
    }
    const t = this.target;
    if (t !== undefined && st.on === t.session) {
      this.targetUsed = true;
      t.session.bind(portal, statement, paramFormats, params, resultFormats);
      if (st.setting) this.settingPortals.set(portal, st);
      return;
    }
    this.routed.set(portal, route(false));
  }

  describePortal(portal: string): readonly ColumnDescription[] | undefined {
    if (this.broken) return undefined;
    const own = this.ownPortals.get(portal);
    if (own !== undefined) return own.info.columns;
    const r = this.routed.get(portal);
    if (r !== undefined && r.at === 'stale') return this.staleSession!.describePortal(portal);
    if (r !== undefined && r.at === undefined) return r.stmt.info.columns;
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
    const r = this.routed.get(portal);
    if (r !== undefined) {
      if (r.toStale) {
        const result = await this.executeStale(portal, r, maxRows);
        if (result !== undefined) return result;
      }
      if (r.at !== 'target') await this.bindOnTarget(portal, r);
    }
    const t = this.requireTarget();
    const before = t.session.txnStatus;
    this.targetUsed = true;
    try {
      const result = await t.session.execute(portal, maxRows);
      const setting = this.settingPortals.get(portal) ?? (r?.stmt.setting === true ? r.stmt : undefined);
      if (setting !== undefined && before === 'I' && t.session.txnStatus === 'I')
        await this.noteSetting(setting.sql, [result]);
      return result;
    } catch (e) {
      if (before !== 'I' && t.kind === 'remote' && (t.session as RemoteSession).lost) throw this.breakBlock(e);
      throw e;
    }
  }

  /**
   * Runs a portal routed to the replica there. Undefined when it must run
   * on the target instead: the replica is no longer fresh or cannot prepare
   * the statement as the client knows it, or the statement tried to write
   * (25006 before anything changed; it goes to the target from now on).
   */
  private async executeStale(portal: string, r: RoutedPortal, maxRows: number): Promise<PortalResult | undefined> {
    const stale = this.deps.stale!;
    if (r.started) {
      // Rows went out already: a write refused (and caught) now cannot move to the target; fail, never answer wrongly.
      const s = this.staleSession!;
      const refused = s.writesRefused ?? 0;
      const more = await s.execute(portal, maxRows);
      if ((s.writesRefused ?? 0) !== refused) {
        r.stmt.leaderOnly = true;
        throw new NextDbError(
          SqlState.readOnlySqlTransaction,
          `a function called by this statement tried to write on the replica after rows were sent; run it under ${READ_CONSISTENCY} = 'linearizable'`,
        );
      }
      return more;
    }
    const fallBack = (): undefined => {
      if (r.at === 'stale') this.staleSession?.closePortal(portal);
      r.at = undefined;
      r.toStale = false;
      return undefined;
    };
    if (!stale.fresh()) return fallBack();
    let session = r.at === 'stale' ? this.staleSession : undefined;
    if (session === undefined) {
      session = await this.openStale();
      if (session === undefined) return fallBack();
      const st = r.stmt;
      st.leaderOnly ??= !replicaSafe(st.sql);
      if (st.leaderOnly) return fallBack();
      if (st.staleOn !== session) {
        const current = this.statements.get(st.name) === st;
        const name = current ? st.name : `\u0000stale${++this.hiddenSeq}`;
        try {
          const info = await session.prepare(name, st.sql, st.paramTypes);
          if (!sameShape(info, st.info)) {
            session.closeStatement(name);
            return fallBack(); // the replica's catalog differs (DDL not applied yet): the target decides
          }
        } catch {
          return fallBack();
        }
        if (current) {
          st.staleOn = session;
          st.staleName = name;
        }
        session.bind(portal, name, r.paramFormats, r.params, r.resultFormats);
        if (!current) session.closeStatement(name); // the portal keeps it
      } else session.bind(portal, st.staleName, r.paramFormats, r.params, r.resultFormats);
      r.at = 'stale';
    }
    this.staleUsed = true;
    const refused = session.writesRefused ?? 0;
    try {
      const result = await session.execute(portal, maxRows);
      if ((session.writesRefused ?? 0) !== refused) {
        r.stmt.leaderOnly = true; // a write refused there but caught: nothing was written; the target runs it
        return fallBack();
      }
      r.started = true;
      stale.served();
      return result;
    } catch (e) {
      if (e instanceof NextDbError && e.code === SqlState.readOnlySqlTransaction) {
        r.stmt.leaderOnly = true; // a write: the target runs it, now and from now on
        return fallBack();
      }
      throw e;
    }
  }

  /** Binds a routed portal on the target at its Execute, preparing its statement there first when needed. */
  private async bindOnTarget(portal: string, r: RoutedPortal): Promise<void> {
    const t = this.targetUsed ? this.requireTarget() : await this.current();
    this.targetUsed = true;
    const st = r.stmt;
    let name = st.name;
    if (st.on !== t.session) {
      const current = this.statements.get(st.name) === st;
      if (!current) name = `\u0000target${++this.hiddenSeq}`;
      const info = await t.session.prepare(name, st.sql, st.paramTypes);
      if (!sameShape(info, st.info)) {
        t.session.closeStatement(name);
        if (current) st.on = undefined;
        throw new NextDbError(SqlState.featureNotSupported, 'cached plan must not change result type');
      }
      if (current) st.on = t.session;
    }
    t.session.bind(portal, name, r.paramFormats, r.params, r.resultFormats);
    if (name !== st.name) t.session.closeStatement(name); // the portal keeps it
    r.at = 'target';
  }

  /** Forgets a routed portal (closed, rebound, or its cycle ended), closing it where it is bound. */
  private dropRouted(portal: string, r: RoutedPortal): void {
    this.routed.delete(portal);
    if (r.at === 'stale') this.staleSession?.closePortal(portal);
    else if (r.at === 'target') {
      this.targetUsed = true;
      this.target?.session.closePortal(portal);
    }
  }

  closeStatement(name: string): void {
    const st = this.statements.get(name);
    this.statements.delete(name);
    if (this.own.delete(name)) return;
    if (this.brokenEnd === name) this.brokenEnd = undefined;
    if (st !== undefined && st.staleOn !== undefined && st.staleOn === this.staleSession)
      st.staleOn.closeStatement(st.staleName);
    if (st === undefined || st.on === this.target?.session) {
      this.targetUsed = true;
      this.target?.session.closeStatement(name);
    }
  }

  closePortal(portal: string): void {
    if (this.ownPortals.delete(portal)) return;
    this.settingPortals.delete(portal);
    const r = this.routed.get(portal);
    if (r !== undefined) {
      this.dropRouted(portal, r);
      return;
    }
    this.targetUsed = true;
    this.target?.session.closePortal(portal);
  }

  async sync(): Promise<void> {
    const staleUsed = this.staleUsed;
    const targetUsed = this.targetUsed;
    this.staleUsed = false;
    this.targetUsed = false;
    // Portals on the replica live only until Sync (they are outside blocks); so do the others once no block is open.
    for (const [portal, r] of this.routed) if (r.at === 'stale') this.dropRouted(portal, r);
    if (staleUsed) await this.staleSession?.sync();
    const t = this.target;
    if (t === undefined || this.broken || !targetUsed) {
      if (this.txnStatus === 'I') this.routed.clear();
      return; // nothing went to the target since the last Sync: no round trip
    }
    const before = t.session.txnStatus;
    try {
      await t.session.sync();
    } catch (e) {
      if (t.kind === 'remote' && (t.session as RemoteSession).lost) {
        if (before !== 'I') throw this.breakBlock(e);
        return; // an idle connection that went away: the next statement opens a new one
      }
      throw e;
    } finally {
      if (t.session.txnStatus === 'I') {
        this.routed.clear();
        this.settingPortals.clear();
      }
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
    for (const st of this.statements.values()) {
      if (st.on === undefined) continue; // prepared there when a portal needs it
      st.on = undefined;
      if (st.name === '') continue;
      try {
        await next.session.prepare(st.name, st.sql, st.paramTypes);
        st.on = next.session;
      } catch {
        // E.g. its table was dropped meanwhile: preparing it again at its next Execute reports why.
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

/** Whether two descriptions of a statement agree on parameter and result types (what a client relies on). */
function sameShape(a: PreparedStatementInfo, b: PreparedStatementInfo): boolean {
  if (a.paramTypes.length !== b.paramTypes.length || a.paramTypes.some((t, i) => t !== b.paramTypes[i])) return false;
  if (a.columns === undefined || b.columns === undefined) return a.columns === b.columns;
  return a.columns.length === b.columns.length && a.columns.every((c, i) => c.typeOid === b.columns![i]!.typeOid);
}

/** One statement (at most a trailing ';') that begins with a keyword only a read begins with. */
const quickRead = /^\s*(?:select|table|values|show|with)\b[^;]*;?\s*$/i;
/**
 * Any text that could hold what onlyReads rejects: FOR UPDATE/SHARE, INTO, a data-modifying statement, a
 * session function — or a Unicode-escaped identifier (U&"...") that could spell one.
 */
const riskyWord =
  /for|into|insert|update|delete|merge|set_config|nextval|setval|pg_terminate|pg_cancel|pg_backend_pid|txid|xact|u&/i;

/** Functions a SELECT may call that act on this session or on other backends: the replica's engine must not run them. */
const sessionFunctions = new Set([
  'set_config',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_backend_pid',
  'txid_current',
  'pg_current_xact_id',
  'nextval',
  'setval',
]);

/**
 * True when every statement of `sql` only reads (see the header): the
 * replica may answer it. False for anything else, and for text that does
 * not parse (the target reports the syntax error). Needs the parser loaded.
 */
export function replicaSafe(sql: string): boolean {
  // Most reads are told by their text alone (no parse: pgbench -S sends a new text every time). Only when
  // the text is one statement starting with a read keyword and has none of the words the tree walk looks
  // for; anything else (including "information_schema", which contains "for") is parsed.
  if (quickRead.test(sql) && !riskyWord.test(sql)) return true;
  let stmts;
  try {
    stmts = parseSql(sql);
  } catch {
    return false;
  }
  return stmts.length > 0 && stmts.every((p) => readOnlyStatement(p.stmt));
}

function readOnlyStatement(stmt: unknown): boolean {
  const n = stmt as Record<string, unknown>;
  if ('VariableShowStmt' in n) return true;
  if ('ExplainStmt' in n) return readOnlyStatement((n.ExplainStmt as { query?: unknown }).query ?? {});
  if (!('SelectStmt' in n)) return false;
  return onlyReads(n.SelectStmt);
}

/** Walks a SELECT's tree: no locking clause, no INTO, no data-modifying statement, no session function anywhere. */
function onlyReads(node: unknown): boolean {
  if (Array.isArray(node)) return node.every(onlyReads);
  if (node === null || typeof node !== 'object') return true;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    switch (key) {
      case 'lockingClause':
      case 'intoClause':
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return false;
      case 'FuncCall': {
        const names = (value as { funcname?: { String?: { sval?: string } }[] }).funcname ?? [];
        const last = names.at(-1)?.String?.sval?.toLowerCase();
        if (last !== undefined && sessionFunctions.has(last)) return false;
        break;
      }
      default:
        break;
    }
    if (!onlyReads(value)) return false;
  }
  return true;
}

/**
 * The NextDB client library: a pool that knows several hosts, routes to a
 * healthy one, pushes back when exhausted, and retries what is safe to retry.
 *
 *   createClient({ hosts: ['h1:8080', 'h2:8080'] })
 *        │
 *        ├── PoolGate  (≤ pool.max operations at once, bounded wait)
 *        ├── HostState per host: a `postgres` (postgres.js) pool, up/down
 *        │     marks from failures and periodic health checks
 *        └── retry policy (retry.ts): conflicts always, connection failures
 *              only where nothing can have been applied twice
 *
 * The wire protocol is postgres.js's (pipelining, prepared statements); this
 * module adds routing, back-pressure, retries and PostgreSQL-shaped errors.
 * Operations stick to one preferred host while it is healthy; when that host
 * fails the preference moves on.
 *
 * Members: the configured hosts are seeds. The client asks one of them for
 * the cluster's members (discovery.ts, GET /api/cluster) before the first
 * operation, every discovery.intervalMs, and at once after a host failed;
 * once a node answered, the routable hosts are exactly the members with an
 * address, and the leader is preferred (a follower would forward to it). A
 * member that left the cluster stops getting work and its connections close.
 * Where no node answers (PostgreSQL, an older server) the seeds are the hosts.
 */

import postgres from 'postgres';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ConnectionOptions } from 'node:tls';
import { NextDbError } from '../util/errors.ts';
import { fetchClusterView, type ClusterView } from './discovery.ts';
import { installArrayTypes } from './pg-arrays.ts';
import { PoolGate } from './pool-gate.ts';
import { backoffMs, classifyFailure, endsSession, sleep, toClientError, type RetryOptions } from './retry.ts';

export type IsolationLevel = 'serializable' | 'repeatable read' | 'read committed';

export interface PoolOptions {
  /** Concurrent operations (and connections per host). Default 10. */
  readonly max?: number;
  /** Close connections idle this long. Default 30 000. */
  readonly idleTimeoutMs?: number;
  /** Longest wait for a free slot before a 53300 error. Default 10 000. */
  readonly acquireTimeoutMs?: number;
  /** Callers allowed to wait at once; more get 53300 at once. Default 10 000. */
  readonly maxWaiting?: number;
  /** Replace connections older than this. Default 30 minutes. */
  readonly maxLifetimeMs?: number;
}

export interface DiscoveryOptions {
  /** How often the member list is asked for while nothing fails. Default 10 000 ms. */
  readonly intervalMs?: number;
  /** Longest wait for one node's answer. Default min(connectTimeoutMs, 1000). */
  readonly timeoutMs?: number;
}

export interface ClientOptions {
  /** 'host:port' entries (seeds when discovery is on); default port 8080. Ignored when `url` is given. */
  readonly hosts?: readonly string[];
  /** A postgres:// URL (single host). */
  readonly url?: string;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly pool?: PoolOptions;
  readonly tls?: boolean | ConnectionOptions;
  readonly retry?: RetryOptions;
  /** How often hosts marked down are probed. Default 1000 ms. */
  readonly healthCheckIntervalMs?: number;
  /** Connect timeout per attempt. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Ask the nodes for the cluster's members (default on); false: use the given hosts only. */
  readonly discovery?: DiscoveryOptions | false;
}

export interface Field {
  readonly name: string;
  readonly typeOid: number;
}

export interface QueryResult<R> {
  readonly rows: R[];
  /** Rows returned or affected, as in the command tag. */
  readonly rowCount: number;
  /** The command tag's verb: SELECT, INSERT, ... */
  readonly command: string;
  readonly fields: readonly Field[];
}

export type Row = Record<string, unknown>;
export type Param =
  string | number | bigint | boolean | null | Date | Buffer | readonly unknown[] | Record<string, unknown>;

export interface QueryOptions {
  /**
   * The statement may run twice without harm. Read-only statements are
   * detected; say so for idempotent writes to have them retried after a
   * lost connection.
   */
  readonly idempotent?: boolean;
}

export interface TransactionOptions {
  readonly isolation?: IsolationLevel;
  readonly readOnly?: boolean;
  /** Overrides retry.maxAttempts for this transaction. */
  readonly maxAttempts?: number;
  /**
   * The transaction function is idempotent (running it again after it
   * committed changes nothing, e.g. it starts by inserting a unique request
   * id and returns early when that id exists). Then a commit whose outcome
   * is unknown (connection lost during COMMIT, leader change: 40003) is
   * retried too, and no ambiguity reaches the caller.
   */
  readonly idempotent?: boolean;
}

/** What a transaction body gets: queries on the transaction's connection. */
export interface Transaction {
  query<R extends Row = Row>(text: string, params?: readonly Param[]): Promise<QueryResult<R>>;
  sql<R extends Row = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<QueryResult<R>>;
  /** Runs `fn` inside a savepoint; an error rolls back to it and is rethrown. */
  savepoint<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

export interface HostStatus {
  readonly host: string;
  readonly port: number;
  readonly healthy: boolean;
  readonly preferred: boolean;
  /** From the cluster's member list, when a node answered. */
  readonly nodeId?: number;
  /** 'leader', 'follower', 'learner', ... from the member list. */
  readonly role?: string;
}

type Sql = postgres.Sql;
type TxSql = postgres.TransactionSql;

interface HostState {
  readonly host: string;
  readonly port: number;
  readonly sql: Sql;
  /** Epoch ms until which the host is considered down; 0 when up. */
  downUntil: number;
  /** Node id and role from the last member list that named this host. */
  nodeId: number | undefined;
  role: string | undefined;
}

interface HostPort {
  readonly host: string;
  readonly port: number;
}

const READ_ONLY_STATEMENT = /^\s*(select|show|values|table|explain)\b/i;
const HOST_COOLDOWN_MS = 1000;
/** A failure asks for the member list again at most this often. */
const REFRESH_AFTER_FAILURE_GAP_MS = 100;
const UNDISCOVERED_REFRESH_GAP_MS = 1000;
/** First delay of the follow-up refresh during an election; doubles up to discovery.intervalMs. */
const FOLLOW_UP_FIRST_MS = 200;

export class NextDbClient {
  /** Where operations go: the seeds until a node listed the members, then those members. */
  private hosts: HostState[];
  private preferred: HostState;
  private readonly seeds: readonly HostPort[];
  private readonly makePool: (hp: HostPort) => Sql;
  /** Pools of members that left the cluster, closing once their work is done. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly gate: PoolGate;
  private readonly retry: RetryOptions;
  private readonly healthTimer: NodeJS.Timeout;
  private closed = false;
  private readonly idle: (() => void)[] = [];
  private probing: Promise<void> | undefined;
  private readonly discovery: { readonly intervalMs: number; readonly timeoutMs: number } | undefined;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = 0;
  /** A sooner refresh while the known leader is down or none is known (an election). */
  private followUp: NodeJS.Timeout | undefined;
  private followUpDelayMs = FOLLOW_UP_FIRST_MS;
  /** Some node answered the member-list request once (so failures ask again). */
  private discovered = false;
  /** The first member-list request; operations wait for it (it is bounded in time). */
  private readonly ready: Promise<void>;

  constructor(options: ClientOptions) {
    const pool = options.pool ?? {};
    const max = pool.max ?? 10;
    this.gate = new PoolGate(max, pool.acquireTimeoutMs ?? 10_000, pool.maxWaiting ?? 10_000);
    this.retry = { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 1000, ...options.retry };
    const base: postgres.Options<Record<string, postgres.PostgresType>> = {
      max,
      idle_timeout: (pool.idleTimeoutMs ?? 30_000) / 1000,
      max_lifetime: (pool.maxLifetimeMs ?? 30 * 60_000) / 1000,
      connect_timeout: (options.connectTimeoutMs ?? 5000) / 1000,
      onnotice: () => {},
      // postgres.js retries connects on its own; our retry loop does the routing instead.
      backoff: false,
      // Its per-connection type fetch can fail into an unhandled rejection; see pg-arrays.ts.
      fetch_types: false,
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.database === undefined ? {} : { database: options.database }),
      ...(options.tls === undefined ? {} : { ssl: options.tls === true ? 'require' : options.tls }),
    };
    const url = options.url;
    if (url !== undefined) {
      const u = new URL(url);
      this.seeds = [{ host: u.hostname, port: Number(u.port || 5432) }];
      // Credentials and settings from the URL; the host and port of the member.
      this.makePool = ({ host, port }) => withArrayTypes(postgres(url, { ...base, host, port }));
    } else {
      const list = options.hosts ?? ['127.0.0.1:8080'];
      if (list.length === 0) throw new RangeError('hosts must not be empty');
      this.seeds = list.map(parseHostPort);
      this.makePool = ({ host, port }) => withArrayTypes(postgres({ ...base, host, port }));
    }
    this.hosts = this.seeds.map((hp) => this.newHost(hp));
    this.preferred = this.hosts[0] as HostState;
    this.healthTimer = setInterval(() => void this.checkDownHosts(), options.healthCheckIntervalMs ?? 1000);
    this.healthTimer.unref();
    if (options.discovery === false) {
      this.discovery = undefined;
      this.ready = Promise.resolve();
    } else {
      this.discovery = {
        intervalMs: options.discovery?.intervalMs ?? 10_000,
        timeoutMs: options.discovery?.timeoutMs ?? Math.min(options.connectTimeoutMs ?? 5000, 1000),
      };
      this.ready = this.refreshMembers();
      this.discoveryTimer = setInterval(() => void this.refreshMembers(), this.discovery.intervalMs);
      this.discoveryTimer.unref();
    }
  }

  /** Runs one statement (an implicit transaction), retrying where safe. */
  query<R extends Row = Row>(
    text: string,
    params: readonly Param[] = [],
    options: QueryOptions = {},
  ): Promise<QueryResult<R>> {
    const idempotent = options.idempotent ?? READ_ONLY_STATEMENT.test(text);
    return this.withRetries(this.retry.maxAttempts ?? 10, async (host) => {
      try {
        return toResult<R>(await host.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]));
      } catch (err) {
        throw new Attempt(err, idempotent);
      }
    });
  }

  /** Tagged-template query: values become parameters, never string pieces. */
  sql<R extends Row = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<QueryResult<R>> {
    return this.query<R>(templateText(strings), values);
  }

  /**
   * Runs `fn` in a transaction and commits it. A serialization failure or a
   * connection lost before COMMIT runs the whole function again (so `fn`
   * must not have effects outside the database that cannot repeat), with
   * jittered backoff, up to maxAttempts.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const mode = `isolation level ${options.isolation ?? 'serializable'}${options.readOnly === true ? ' read only' : ''}`;
    return this.withRetries(options.maxAttempts ?? this.retry.maxAttempts ?? 10, async (host) => {
      const session = new TxSession();
      let commitSent = false;
      const begun = host.sql.begin(mode, async (txSql) => {
        const value = await session.run(() => fn(new TxHandle(txSql, session)));
        commitSent = true;
        return value;
      });
      // Whatever ended the attempt, no statement of it may reach the connection any more.
      begun.catch((err: unknown) => session.kill(err));
      try {
        return (await Promise.race([begun, session.lost])) as T;
      } catch (err) {
        const kind = classifyFailure(err);
        const ambiguous = kind === 'ambiguous' || (commitSent && kind === 'connection-lost');
        if (ambiguous && options.idempotent === true) throw new Attempt(err, true, true);
        if (ambiguous) {
          throw new NextDbError(
            '08007',
            'the transaction may or may not have committed: the connection or the leader was lost during COMMIT',
            {
              cause: err,
              hint: 'Check whether its effects are present before running it again, or make it idempotent and pass { idempotent: true }.',
            },
          );
        }
        throw new Attempt(err, !commitSent);
      }
    });
  }

  /** Streams a large result in batches of `batchSize` rows (a server-side cursor). */
  async *stream<R extends Row = Row>(text: string, params: readonly Param[] = [], batchSize = 100): AsyncGenerator<R> {
    await this.acquire();
    try {
      await this.ready;
      const host = this.pickHost();
      const cursor = host.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]).cursor(batchSize);
      for await (const rows of cursor) for (const row of rows) yield row as unknown as R;
    } catch (err) {
      throw toClientError(err);
    } finally {
      this.releaseSlot();
    }
  }

  /** COPY ... FROM STDIN fed from `source` (text or CSV chunks, as the statement says). */
  async copyFrom(
    copyStatement: string,
    source: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  ): Promise<void> {
    await this.acquire();
    try {
      await this.ready;
      const host = this.pickHost();
      const sink: Writable = await host.sql.unsafe(copyStatement).writable();
      await pipeline(Readable.from(source), sink);
    } catch (err) {
      throw toClientError(err);
    } finally {
      this.releaseSlot();
    }
  }

  /** COPY ... TO STDOUT as a stream of Buffers. */
  async *copyTo(copyStatement: string): AsyncGenerator<Buffer> {
    await this.acquire();
    try {
      await this.ready;
      const host = this.pickHost();
      const source: Readable = await host.sql.unsafe(copyStatement).readable();
      for await (const chunk of source) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    } catch (err) {
      throw toClientError(err);
    } finally {
      this.releaseSlot();
    }
  }

  /** The hosts this client routes to and what it thinks of them. */
  members(): HostStatus[] {
    const now = Date.now();
    return this.hosts.map((h) => ({
      host: h.host,
      port: h.port,
      healthy: h.downUntil <= now,
      preferred: h === this.preferred,
      ...(h.nodeId === undefined ? {} : { nodeId: h.nodeId }),
      ...(h.role === undefined ? {} : { role: h.role }),
    }));
  }

  /**
   * Asks the cluster for its members now (it also happens on its own); resolves
   * once a node answered or every one was tried.
   */
  refreshMembers(): Promise<void> {
    if (this.discovery === undefined || this.closed) return Promise.resolve();
    this.refreshing ??= this.askForMembers(this.discovery.timeoutMs).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Operations running and callers waiting, for monitoring. */
  poolStats(): { active: number; waiting: number; max: number } {
    return { active: this.gate.activeCount, waiting: this.gate.waitingCount, max: this.gate.max };
  }

  /**
   * Stops taking new work, waits for running operations (up to timeoutMs),
   * then closes every connection.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.healthTimer);
    clearInterval(this.discoveryTimer);
    clearTimeout(this.followUp);
    this.gate.close(new NextDbError('08003', 'the client is closed'));
    if (this.gate.activeCount > 0) {
      await Promise.race([new Promise<void>((r) => this.idle.push(r)), sleep(timeoutMs)]);
    }
    if (this.probing !== undefined) await Promise.race([this.probing, sleep(timeoutMs)]);
    if (this.refreshing !== undefined) await Promise.race([this.refreshing, sleep(timeoutMs)]);
    await Promise.all([
      ...this.hosts.map((h) => h.sql.end({ timeout: Math.max(0, timeoutMs / 1000) })),
      ...this.retiring,
    ]);
  }

  private async withRetries<T>(maxAttempts: number, op: (host: HostState) => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, this.retry));
      await this.acquire();
      let host: HostState | undefined;
      try {
        await this.ready;
        host = this.pickHost();
        return await op(host);
      } catch (err) {
        const { cause, retryUnsafeFailures, retryAmbiguous } =
          err instanceof Attempt ? err : { cause: err, retryUnsafeFailures: false, retryAmbiguous: false };
        const kind = classifyFailure(cause);
        if (
          host !== undefined &&
          (kind === 'not-sent' || kind === 'not-leader' || kind === 'connection-lost' || kind === 'ambiguous')
        ) {
          this.markDown(host);
          this.refreshAfterFailure();
        }
        const retryable =
          kind === 'conflict' ||
          kind === 'not-sent' ||
          kind === 'not-leader' ||
          (kind === 'connection-lost' && retryUnsafeFailures) ||
          (kind === 'ambiguous' && retryAmbiguous) ||
          (kind === 'connection-lost' && retryAmbiguous);
        if (!retryable || this.closed) throw toClientError(cause);
        last = cause;
      } finally {
        this.releaseSlot();
      }
    }
    throw toClientError(last);
  }

  private acquire(): Promise<void> {
    return this.gate.acquire();
  }

  private releaseSlot(): void {
    this.gate.release();
    if (this.gate.activeCount === 0) for (const r of this.idle.splice(0)) r();
  }

  /** The preferred host if healthy, else the next healthy one, else the one that went down first. */
  private pickHost(): HostState {
    const now = Date.now();
    const start = Math.max(0, this.hosts.indexOf(this.preferred));
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[(start + i) % this.hosts.length] as HostState;
      if (h.downUntil <= now) {
        this.preferred = h;
        return h;
      }
    }
    let best = this.hosts[0] as HostState;
    for (const h of this.hosts) if (h.downUntil < best.downUntil) best = h;
    return best;
  }

  private newHost(hp: HostPort): HostState {
    return { host: hp.host, port: hp.port, sql: this.makePool(hp), downUntil: 0, nodeId: undefined, role: undefined };
  }

  /**
   * After a host failed: the leader may have changed, or a member left (or
   * the cluster was not up when the client started); ask again, at most
   * every 100 ms, or every second while no node has ever answered (a plain
   * PostgreSQL server never will).
   */
  private refreshAfterFailure(): void {
    if (this.refreshing !== undefined) return;
    const gapMs = this.discovered ? REFRESH_AFTER_FAILURE_GAP_MS : UNDISCOVERED_REFRESH_GAP_MS;
    if (Date.now() - this.lastRefreshAt < gapMs) return;
    void this.refreshMembers();
  }

  /**
   * Asks the hosts in turn (healthy ones first, the preferred one first of
   * all, then the seeds, then hosts marked down) until one answers.
   */
  private async askForMembers(timeoutMs: number): Promise<void> {
    this.lastRefreshAt = Date.now();
    const now = Date.now();
    const byHealth = [...this.hosts].sort(
      (a, b) =>
        Number(a.downUntil > now) - Number(b.downUntil > now) ||
        Number(b === this.preferred) - Number(a === this.preferred),
    );
    const healthy = byHealth.filter((h) => h.downUntil <= now);
    const down = byHealth.filter((h) => h.downUntil > now);
    const asked = new Set<string>();
    for (const hp of [...healthy, ...this.seeds, ...down]) {
      const key = `${hp.host}:${hp.port}`;
      if (asked.has(key)) continue;
      asked.add(key);
      if (this.closed) return;
      const view = await fetchClusterView(hp.host, hp.port, timeoutMs);
      if (view !== undefined && this.applyView(view)) return;
    }
  }

  /**
   * Routes to the members of `view` that have an address: keeps the pools
   * of hosts still listed, opens pools for new members, retires the rest;
   * prefers the leader unless this client saw it fail. Returns false (and
   * changes nothing) for a view without one usable address.
   */
  private applyView(view: ClusterView): boolean {
    const now = Date.now();
    const next: HostState[] = [];
    for (const m of view.members) {
      if (m.address === null) continue;
      let hp: HostPort;
      try {
        hp = parseHostPort(m.address);
      } catch {
        continue;
      }
      const h =
        next.find((x) => x.host === hp.host && x.port === hp.port) ??
        this.hosts.find((x) => x.host === hp.host && x.port === hp.port) ??
        this.newHost(hp);
      h.nodeId = m.id;
      h.role = m.id === view.leaderId ? 'leader' : m.role;
      // The answering node has not heard from it lately: try others first (unknown health: no judgement).
      if (m.healthy === false) h.downUntil = Math.max(h.downUntil, now + HOST_COOLDOWN_MS);
      if (!next.includes(h)) next.push(h);
    }
    if (next.length === 0) return false;
    for (const h of this.hosts) if (!next.includes(h)) this.retire(h);
    this.hosts = next;
    this.discovered = true;
    const leader = next.find((h) => h.nodeId === view.leaderId);
    if (leader !== undefined && leader.downUntil <= now) {
      this.preferred = leader;
      this.followUpDelayMs = FOLLOW_UP_FIRST_MS;
    } else {
      if (!next.includes(this.preferred)) this.preferred = next[0] as HostState;
      // No leader, or one this client saw fail: an election is likely under way; ask again soon.
      this.scheduleFollowUp();
    }
    return true;
  }

  private scheduleFollowUp(): void {
    if (this.followUp !== undefined || this.closed || this.discovery === undefined) return;
    const delayMs = this.followUpDelayMs;
    this.followUpDelayMs = Math.min(delayMs * 2, this.discovery.intervalMs);
    this.followUp = setTimeout(() => {
      this.followUp = undefined;
      void this.refreshMembers();
    }, delayMs);
    this.followUp.unref();
  }

  /** Stops routing to `h`; its connections close once their running statements finish. */
  private retire(h: HostState): void {
    const ending: Promise<void> = h.sql
      .end({ timeout: 5 })
      .catch(() => undefined)
      .finally(() => this.retiring.delete(ending));
    this.retiring.add(ending);
  }

  private markDown(host: HostState): void {
    host.downUntil = Date.now() + HOST_COOLDOWN_MS;
  }

  private checkDownHosts(): Promise<void> {
    // One probe round at a time; close() waits for the round in flight.
    this.probing ??= this.probeRound().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async probeRound(): Promise<void> {
    for (const h of [...this.hosts]) {
      if (h.downUntil === 0 || this.closed) continue;
      try {
        await h.sql.unsafe('SELECT 1');
        h.downUntil = 0;
      } catch {
        h.downUntil = Date.now() + HOST_COOLDOWN_MS;
      }
    }
  }
}

/** Carries whether a connection-lost failure of this attempt may be retried. */
class Attempt extends Error {
  constructor(
    override readonly cause: unknown,
    readonly retryUnsafeFailures: boolean,
    readonly retryAmbiguous = false,
  ) {
    super('attempt failed');
  }
}

/**
 * The connection state of one transaction attempt, shared by its handles.
 *
 * Why: postgres 3.4.9's `begin` keeps running the transaction function
 * after the connection closed, and every statement it then sends (the
 * function's next query, a savepoint, or the ROLLBACK/COMMIT `begin`
 * issues itself when the function settles) is written to the closed
 * connection from a setImmediate, where `socket.write` on a null socket
 * throws a TypeError no caller can catch and the process dies (upstream
 * porsager/postgres issues 1154 and 1208; the guard of PR 1209 is not in
 * a release). So once an attempt's connection is known to be gone, nothing
 * of the attempt reaches the driver again: handles fail at once with 08003,
 * and the function `begin` awaits never settles (see abandon()), so
 * `begin` sends neither ROLLBACK nor COMMIT; the attempt ends through
 * `lost` and the retry loop moves on. The connection is known to be gone
 * when a statement failed with a connection error or a FATAL/PANIC server
 * error, or when `begin` itself rejected (postgres.js rejects it when the
 * connection closes, also between statements). Both are seen before the
 * transaction function can run again: the first in the failed statement's
 * own continuation, the second in microtasks queued by the close event,
 * while the function only resumes on a later event.
 */
class TxSession {
  dead = false;
  /** Rejects with the error that ended the attempt once the connection is gone. */
  readonly lost: Promise<never>;
  private rejectLost: (err: unknown) => void = () => {};

  constructor() {
    this.lost = new Promise<never>((_, reject) => (this.rejectLost = reject));
    this.lost.catch(() => {});
  }

  kill(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.rejectLost(err);
  }

  /**
   * Runs a transaction or savepoint function for postgres.js's scope: its
   * outcome, or, once the connection is gone, a promise that never settles
   * (see abandon()), so that the scope sends nothing more.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      if (this.dead) return abandon();
      throw err;
    }
    return this.dead ? abandon() : value;
  }

  /** The error a handle throws once the attempt's connection is gone. */
  gone(): NextDbError {
    return new NextDbError('08003', 'the transaction attempt lost its connection; it is retried on a new one');
  }
}

/**
 * A promise that never settles, returned to postgres.js's `begin` in place
 * of the function's outcome so that it sends nothing more on a dead
 * connection. A fresh one each time: nothing keeps it (or the scope
 * awaiting it) alive, so the garbage collector takes both.
 */
function abandon(): Promise<never> {
  return new Promise<never>(() => {});
}

class TxHandle implements Transaction {
  constructor(
    private readonly txSql: TxSql,
    private readonly session: TxSession,
  ) {}

  async query<R extends Row = Row>(text: string, params: readonly Param[] = []): Promise<QueryResult<R>> {
    if (this.session.dead) throw this.session.gone();
    try {
      return toResult<R>(await this.txSql.unsafe(text, params as postgres.ParameterOrJSON<never>[]));
    } catch (err) {
      if (endsSession(err)) this.session.kill(err);
      // Keep the driver error (and its code) so the retry loop classifies it.
      throw toClientError(err);
    }
  }

  sql<R extends Row = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<QueryResult<R>> {
    return this.query<R>(templateText(strings), values);
  }

  async savepoint<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const session = this.session;
    if (session.dead) throw session.gone();
    // Once the connection is gone the savepoint scope gets no outcome, so it sends no ROLLBACK TO.
    const inner = this.txSql.savepoint(async (sp) => session.run(() => fn(new TxHandle(sp, session))));
    try {
      return (await Promise.race([inner, session.lost])) as T;
    } catch (err) {
      if (endsSession(err)) session.kill(err);
      throw toClientError(err);
    }
  }
}

export function createClient(options: ClientOptions = {}): NextDbClient {
  return new NextDbClient(options);
}

function withArrayTypes(sql: Sql): Sql {
  installArrayTypes(sql);
  return sql;
}

function parseHostPort(hp: string): HostPort {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hp.trim());
  if (m === null || m[1] === undefined) throw new RangeError(`bad host "${hp}", expected host:port`);
  return { host: m[1], port: m[2] === undefined ? 8080 : Number(m[2]) };
}

function templateText(strings: TemplateStringsArray): string {
  let text = strings[0] ?? '';
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i] ?? ''}`;
  return text;
}

function toResult<R>(res: postgres.RowList<postgres.Row[]>): QueryResult<R> {
  const columns = (res as { columns?: readonly { name: string; type: number }[] }).columns ?? [];
  return {
    rows: [...res] as unknown as R[],
    rowCount: res.count ?? res.length,
    command: res.command,
    fields: columns.map((c) => ({ name: c.name, typeOid: c.type })),
  };
}

/**
 * The embedded API: NextDB inside a Node process.
 *
 *   import { open } from 'nextdb';
 *   const db = await open({ path: './data' });      // or open() for memory only
 *   const { rows } = await db.query('SELECT $1::int + 1 AS two', [1]);
 *   const stmt = await db.prepare('SELECT * FROM t WHERE id = $1');
 *   await stmt.query([42]);
 *   await db.transaction(async (tx) => { await tx.query('INSERT ...'); });
 *   await db.close();
 *
 * Values come back as JavaScript values: int2/int4/float → number,
 * int8 → bigint, numeric → string (exact), bool, text → string,
 * bytea → Buffer, timestamp/timestamptz → Date, json/jsonb → parsed JSON,
 * arrays → arrays, other types → their PostgreSQL text form. Parameters
 * are converted to the type the statement needs (inferred like a driver's
 * untyped parameters).
 */

import { MemoryEngine } from '../storage/index.ts';
import type { Engine } from '../storage/engine.ts';
import { openLsmEngine } from '../storage/lsm/index.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { SqlEngine } from './sql-engine.ts';
import type { PreparedHandle, SqlSession } from './session.ts';
import type { OutputColumn } from './plan/plan.ts';
import { Decimal } from './types/decimal.ts';
import type { ArrayValue, JsonBox, SqlType, Value } from './types/sql-type.ts';
import { formatText, parseText, defaultIoSettings } from './types/text-io.ts';

export interface OpenOptions {
  /** Data directory (LSM storage); omitted = in memory. */
  readonly path?: string;
  readonly user?: string;
  readonly database?: string;
}

export interface FieldInfo {
  readonly name: string;
  readonly dataTypeID: number;
}

export interface QueryResult<R = Record<string, unknown>> {
  readonly rows: R[];
  readonly rowCount: number;
  readonly fields: readonly FieldInfo[];
  readonly command: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

function toJs(ty: SqlType, v: Value): unknown {
  if (v === null) return null;
  switch (ty.id) {
    case 'numeric':
      return (v as Decimal).toString();
    case 'timestamp':
    case 'timestamptz':
      return new Date(Number((v as bigint) / 1000n));
    case 'jsonb':
      return JSON.parse(formatText(ty, v as JsonBox, defaultIoSettings));
    case 'json':
      return JSON.parse(v as string);
    case 'array':
      return (v as ArrayValue).elems.map((e) => toJs(ty.elem!, e));
    case 'bool':
    case 'int2':
    case 'int4':
    case 'int8':
    case 'float4':
    case 'float8':
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'bytea':
    case 'uuid':
    case 'oid':
      return v;
    default:
      return formatText(ty, v, defaultIoSettings);
  }
}

function fromJs(ty: SqlType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (ty.id === 'float8' || ty.id === 'float4') return ty.id === 'float4' ? Math.fround(v) : v;
    // The common case, without a round trip through text: an integer in range of the column's integer type.
    if (
      Number.isInteger(v) &&
      ((ty.id === 'int4' && v >= -2147483648 && v <= 2147483647) || (ty.id === 'int2' && v >= -32768 && v <= 32767))
    )
      return v;
    return parseText(ty, String(v), defaultIoSettings);
  }
  if (Buffer.isBuffer(v)) return ty.id === 'bytea' ? v : parseText(ty, v.toString('utf8'), defaultIoSettings);
  if (v instanceof Date) return parseText(ty, v.toISOString(), defaultIoSettings);
  if (typeof v === 'bigint') return parseText(ty, v.toString(), defaultIoSettings);
  if (typeof v === 'boolean') return parseText(ty, v ? 'true' : 'false', defaultIoSettings);
  if (Array.isArray(v) && ty.id === 'array')
    return { kind: 'array', elems: v.map((e) => fromJs(ty.elem!, e)) } satisfies ArrayValue;
  if (typeof v === 'object' && (ty.id === 'json' || ty.id === 'jsonb'))
    return parseText(ty, JSON.stringify(v), defaultIoSettings);
  return parseText(ty, String(v), defaultIoSettings);
}

/** A command tag's parts: 'INSERT 0 5' -> command 'INSERT', count 5 (-1 when it has none). */
interface TagParts {
  readonly command: string;
  readonly count: number;
}

/** Parsed tags by text: statements repeat the same few tags ('SELECT 1', 'UPDATE 1'). */
const tagParts = new Map<string, TagParts>();
const TAG_PARTS_MAX = 256;

function partsOf(tag: string): TagParts {
  let p = tagParts.get(tag);
  if (p !== undefined) return p;
  let i = tag.length;
  while (i > 0 && tag.charCodeAt(i - 1) >= 48 && tag.charCodeAt(i - 1) <= 57) i--;
  const space = tag.indexOf(' ');
  p = { command: space < 0 ? tag : tag.slice(0, space), count: i === tag.length ? -1 : Number(tag.slice(i)) };
  if (tagParts.size >= TAG_PARTS_MAX) tagParts.clear();
  tagParts.set(tag, p);
  return p;
}

/** The (frozen) field list of a result's columns, made once per column list: cached plans reuse theirs. */
const fieldLists = new WeakMap<readonly OutputColumn[], readonly FieldInfo[]>();

const NO_FIELDS: readonly FieldInfo[] = Object.freeze([]);

function fieldsOf(cols: readonly OutputColumn[]): readonly FieldInfo[] {
  // A statement without result columns (INSERT/UPDATE/DELETE) gets a new empty list each run: no WeakMap entry for it.
  if (cols.length === 0) return NO_FIELDS;
  let f = fieldLists.get(cols);
  if (f === undefined) {
    f = Object.freeze(cols.map((c) => Object.freeze({ name: c.name, dataTypeID: c.type.oid })));
    fieldLists.set(cols, f);
  }
  return f;
}

function shape<R>(cols: readonly OutputColumn[], rows: Value[][], tag: string): QueryResult<R> {
  const parts = partsOf(tag);
  return shapeRows(cols, rows, parts.command, parts.count, fieldsOf(cols));
}

/** The result of `rows` (rowCount: `count`, or the number of rows when negative). */
function shapeRows<R>(
  cols: readonly OutputColumn[],
  rows: Value[][],
  command: string,
  count: number,
  fields: readonly FieldInfo[],
): QueryResult<R> {
  const n = cols.length;
  const out = new Array<R>(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j]!;
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const c = cols[i]!;
      o[c.name] = toJs(c.type, r[i] ?? null);
    }
    out[j] = o as R;
  }
  return { rows: out, rowCount: count >= 0 ? count : out.length, fields, command };
}

/** Idle sessions a Database keeps for later calls; more concurrent callers get sessions that are closed after use. */
const IDLE_SESSIONS_MAX = 16;

/** Where a query runs: a session for the duration of one call (see Database). */
interface SessionSource {
  acquire(): SqlSession;
  release(s: SqlSession): void;
  /**
   * The session a call that completes synchronously may use without
   * acquiring it (nothing else can run meanwhile): the one acquire() would
   * most likely return. Undefined when there is none at hand.
   */
  current(): SqlSession | undefined;
}

export class PreparedQuery {
  /** The field list of the last synchronous result's columns (a cached plan keeps its column list). */
  private lastCols: readonly OutputColumn[] | undefined;
  private lastFields: readonly FieldInfo[] = [];

  constructor(
    private readonly source: SessionSource,
    private readonly handle: PreparedHandle,
  ) {}

  /**
   * Runs the statement. A point SELECT by primary key usually completes
   * synchronously (SqlSession.runHandleNow: no transaction, no awaits) and
   * the promise is already resolved; anything else runs in a transaction.
   */
  query<R = Record<string, unknown>>(params: readonly unknown[] = []): Promise<QueryResult<R>> {
    try {
      const values = this.values(params);
      const s = this.source.current();
      const now = s === undefined ? undefined : s.runHandleNow(this.handle, values);
      if (now === undefined) return this.runAsync<R>(this.source.acquire(), values);
      // A synchronous answer is a point SELECT's (tag 'SELECT n', n the rows).
      if (now.cols !== this.lastCols) {
        this.lastFields = fieldsOf(now.cols);
        this.lastCols = now.cols;
      }
      return Promise.resolve(shapeRows<R>(now.cols, now.rows, 'SELECT', -1, this.lastFields));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private async runAsync<R>(s: SqlSession, values: Value[]): Promise<QueryResult<R>> {
    try {
      const r = await s.runHandle(this.handle, values);
      return shape<R>(r.cols, r.rows, r.tag);
    } finally {
      this.source.release(s);
    }
  }

  private values(params: readonly unknown[]): Value[] {
    const types = this.handle.paramTypes;
    const n = types.length;
    if (params.length !== n)
      throw new NextDbError(SqlState.protocolViolation, `statement needs ${n} parameters, got ${params.length}`);
    const values = new Array<Value>(n);
    for (let i = 0; i < n; i++) values[i] = fromJs(types[i]!, params[i]);
    return values;
  }
}

async function queryOn<R>(source: SessionSource, sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
  const s = source.acquire();
  let h: PreparedHandle;
  try {
    if (params.length === 0) {
      const r = await s.queryValues(sql, []);
      return shape<R>(r.cols, r.rows, r.tag);
    }
    h = await s.prepareHandle(sql);
  } finally {
    source.release(s);
  }
  return new PreparedQuery(source, h).query<R>(params);
}

/** One session, used by every call: a transaction's queries. */
class OneSession implements SessionSource, Queryable {
  constructor(readonly session: SqlSession) {}
  acquire(): SqlSession {
    return this.session;
  }
  release(): void {}
  current(): SqlSession {
    return this.session;
  }
  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return queryOn<R>(this, sql, params);
  }
}

/**
 * An open database. Each `query` (and each run of a prepared statement)
 * takes a session of its own for the call: an idle one from a small
 * free-list, else a new one. So concurrent callers each run as their own
 * implicit transaction, as clients of a server with a connection pool do,
 * instead of interleaving inside one session's transaction.
 *
 * Sequential calls reuse the most recently released session, so a `SET`
 * issued through `query` is seen by the calls after it unless they overlap
 * with others. A session left inside a transaction block (`query('BEGIN')`)
 * is pinned: every call uses it until COMMIT/ROLLBACK ends the block (as
 * before, when all calls shared one session). `transaction(fn)` is the way
 * to run a transaction next to concurrent callers.
 */
export class Database implements Queryable, SessionSource {
  private readonly idle: SqlSession[] = [];
  private readonly busy = new Set<SqlSession>();
  private pinned: SqlSession | undefined;
  private closed = false;

  constructor(
    private readonly sql: SqlEngine,
    session: SqlSession,
    private readonly engine: Engine,
    private readonly startup: { user: string; database: string },
  ) {
    this.idle.push(session);
  }

  /** @internal */
  acquire(): SqlSession {
    if (this.closed) throw new NextDbError('55000', 'the database is closed');
    if (this.pinned !== undefined) return this.pinned;
    const s = this.idle.pop() ?? this.sql.createSession(this.startup);
    this.busy.add(s);
    return s;
  }

  /** @internal */
  current(): SqlSession | undefined {
    if (this.closed) return undefined;
    return this.pinned ?? this.idle[this.idle.length - 1];
  }

  /** @internal */
  release(s: SqlSession): void {
    if (s === this.pinned) {
      if (s.txnStatus === 'I') this.pinned = undefined;
      else return;
    } else if (s.txnStatus !== 'I') {
      // BEGIN through query(): later calls continue that transaction.
      this.pinned = s;
      return;
    }
    if (!this.busy.delete(s)) return; // the pinned session released by a call that joined it
    if (this.closed || this.idle.length >= IDLE_SESSIONS_MAX) void s.close();
    else this.idle.push(s);
  }

  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return queryOn<R>(this, sql, params);
  }

  /** Prepares a statement once; its plan is cached and reused by each query() (on whichever session runs it). */
  async prepare(sql: string): Promise<PreparedQuery> {
    const s = this.acquire();
    try {
      return new PreparedQuery(this, await s.prepareHandle(sql));
    } finally {
      this.release(s);
    }
  }

  /** Runs `fn` in a transaction on its own session: COMMIT when it resolves, ROLLBACK when it throws. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const s = this.sql.createSession(this.startup);
    const tx = new OneSession(s);
    try {
      await s.simpleQuery('BEGIN');
      const r = await fn(tx);
      await s.simpleQuery('COMMIT');
      return r;
    } catch (e) {
      if (s.txnStatus !== 'I') await s.simpleQuery('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await s.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = new Set([...this.idle, ...this.busy]);
    if (this.pinned !== undefined) all.add(this.pinned);
    this.idle.length = 0;
    this.busy.clear();
    this.pinned = undefined;
    for (const s of all) await s.close();
    await this.sql.close();
    await this.engine.close();
  }
}

export async function open(options: OpenOptions = {}): Promise<Database> {
  const engine: Engine = options.path === undefined ? new MemoryEngine() : await openLsmEngine({ dir: options.path });
  const sql = await SqlEngine.open({ engine, ...(options.path === undefined ? {} : { dataDir: options.path }) });
  const startup = { user: options.user ?? 'postgres', database: options.database ?? 'postgres' };
  return new Database(sql, sql.createSession(startup), engine, startup);
}

/**
 * How the benchmark talks to a database: over the PostgreSQL wire protocol
 * to a URL (NextDB or PostgreSQL, so the two can be compared with the same
 * client code), or in-process to an embedded NextDB.
 *
 * Both drivers run statements as prepared statements with parameters and
 * retry serialization failures (40001/40P01) inside `transaction`, counting
 * retries, so conflicts show up as retries in the report rather than errors.
 */

import postgres from 'postgres';
import { NextDbError, SqlState } from '../../util/errors.ts';

export type Params = readonly (string | number | bigint | null)[];

export interface TxQuery {
  (text: string, params?: Params): Promise<readonly Record<string, unknown>[]>;
}

export interface BenchDriver {
  readonly target: string;
  /** Runs a statement (setup, load). */
  exec(text: string, params?: Params): Promise<void>;
  /** Runs a statement and returns its rows. */
  query(text: string, params?: Params): Promise<readonly Record<string, unknown>[]>;
  /** Runs `fn` in a transaction; returns how many times it had to be retried. */
  transaction(fn: (q: TxQuery) => Promise<void>): Promise<number>;
  close(): Promise<void>;
}

const MAX_TX_ATTEMPTS = 50;

/**
 * Full-jitter exponential backoff between attempts: without it, conflicting
 * transactions that retry at once keep meeting the same lock holder.
 */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 0.5 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

export function urlDriver(url: string, clients: number): BenchDriver {
  const sql = postgres(url, { max: clients, onnotice: () => {}, idle_timeout: 10 });
  return {
    target: url.replace(/:[^:@/]*@/, ':***@'),
    async exec(text, params = []) {
      await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
    },
    async query(text, params = []) {
      return sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
    },
    async transaction(fn) {
      for (let attempt = 0; ; attempt++) {
        try {
          await sql.begin((tx) =>
            fn((text, params = []) => tx.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })),
          );
          return attempt;
        } catch (err) {
          if (!isConflict(err) || attempt + 1 >= MAX_TX_ATTEMPTS) throw err;
          await backoff(attempt);
        }
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** The shape of the embedded API (`import { open } from 'nextdb'`) the benchmark relies on. */
interface EmbeddedDb {
  query(text: string, params?: readonly unknown[]): Promise<{ rows: readonly Record<string, unknown>[] }>;
  transaction<T>(
    fn: (tx: {
      query(text: string, params?: readonly unknown[]): Promise<{ rows: readonly Record<string, unknown>[] }>;
    }) => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

type OpenFn = (options: { path?: string }) => Promise<EmbeddedDb>;

/** An embedded NextDB in this process, with its data in `path` (or memory). */
export async function embeddedDriver(path: string | undefined): Promise<BenchDriver> {
  const api = (await import('../../index.ts')) as { open?: OpenFn };
  if (typeof api.open !== 'function') {
    throw new NextDbError(SqlState.featureNotSupported, 'the embedded SQL engine is not built yet', {
      hint: 'Run the benchmark against a server with --url postgres://...',
    });
  }
  const db = await api.open(path === undefined ? {} : { path });
  return {
    target: path === undefined ? 'embedded (memory)' : `embedded (${path})`,
    async exec(text, params = []) {
      await db.query(text, params);
    },
    async query(text, params = []) {
      return (await db.query(text, params)).rows;
    },
    async transaction(fn) {
      for (let attempt = 0; ; attempt++) {
        try {
          await db.transaction(async (tx) => fn(async (text, params = []) => (await tx.query(text, params)).rows));
          return attempt;
        } catch (err) {
          if (!isConflict(err) || attempt + 1 >= MAX_TX_ATTEMPTS) throw err;
          await backoff(attempt);
        }
      }
    },
    close: () => db.close(),
  };
}

// Two-session races run on a throw-away PostgreSQL 15 and on NextDB, with the
// outcomes compared: session A changes rows in an open transaction, session
// B runs a statement that must wait for A, A commits, and B's result (command
// tag or SQLSTATE) and the table afterwards must be PostgreSQL's. Skipped
// when no PostgreSQL binaries are installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { findPostgres, startPostgres, type PgServer } from '../support/pg-server.ts';

interface Race {
  readonly name: string;
  readonly level: 'read committed' | 'repeatable read' | 'serializable';
  readonly setup: readonly string[];
  readonly first: string;
  readonly second: string;
  readonly check: string;
}

const base = ['CREATE TABLE t (k int PRIMARY KEY, v int)', 'INSERT INTO t VALUES (1, 10), (2, 20)'];
const RACES: readonly Race[] = [
  {
    name: 'UPDATE by a non-key predicate after a concurrent primary-key change',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET k = 11 WHERE k = 1',
    second: 'UPDATE t SET v = v + 1 WHERE v = 10',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'UPDATE by the old key after a concurrent primary-key change',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET k = 11 WHERE k = 1',
    second: 'UPDATE t SET v = v + 1 WHERE k = 1',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'DELETE by a non-key predicate after a concurrent primary-key change',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET k = 11 WHERE k = 1',
    second: 'DELETE FROM t WHERE v = 10',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'UPDATE of every row after a concurrent primary-key change',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET k = k + 100',
    second: 'UPDATE t SET v = v * 2',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'a deleted row is not followed through an older primary-key change',
    level: 'read committed',
    setup: [...base, 'UPDATE t SET k = 11 WHERE k = 1', 'INSERT INTO t VALUES (1, 10)'],
    first: 'DELETE FROM t WHERE k = 1',
    second: 'UPDATE t SET v = v + 1 WHERE v = 10',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'primary-key change then value change, UPDATE by the new value',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET k = 11, v = 11 WHERE k = 1',
    second: 'UPDATE t SET v = v + 1 WHERE v = 10',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'concurrent INSERTs of one unique secondary value',
    level: 'read committed',
    setup: ['CREATE TABLE t (k int PRIMARY KEY, v int UNIQUE)', 'INSERT INTO t VALUES (1, 10)'],
    first: 'INSERT INTO t VALUES (2, 20)',
    second: 'INSERT INTO t VALUES (3, 20)',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'UPDATE into a unique secondary value freed concurrently',
    level: 'read committed',
    setup: ['CREATE TABLE t (k int PRIMARY KEY, v int UNIQUE)', 'INSERT INTO t VALUES (1, 10), (2, 20)'],
    first: 'UPDATE t SET v = 11 WHERE k = 1',
    second: 'UPDATE t SET v = 10 WHERE k = 2',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'MERGE updating a row changed concurrently',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET v = v + 5 WHERE k = 1',
    second:
      'MERGE INTO t USING (VALUES (1, 1), (3, 30)) s(k, d) ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = t.v + s.d WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.d)',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'MERGE whose matched row no longer matches its WHEN condition',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET v = 99 WHERE k = 2',
    second:
      'MERGE INTO t USING (VALUES (2)) s(k) ON t.k = s.k WHEN MATCHED AND t.v = 20 THEN DELETE WHEN MATCHED THEN UPDATE SET v = -1',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'data-modifying CTE after a concurrent update',
    level: 'read committed',
    setup: base,
    first: 'UPDATE t SET v = v + 1 WHERE k = 1',
    second: 'WITH u AS (UPDATE t SET v = v * 10 WHERE k = 1 RETURNING v) SELECT v FROM u',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
  {
    name: 'primary-key change under REPEATABLE READ',
    level: 'repeatable read',
    setup: base,
    first: 'UPDATE t SET k = 11 WHERE k = 1',
    second: 'UPDATE t SET v = v + 1 WHERE v = 10',
    check: 'SELECT k, v FROM t ORDER BY k',
  },
];

async function outcome(p: Promise<string>): Promise<string> {
  try {
    return await p;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === undefined) throw e;
    return code;
  }
}

async function runNextDb(r: Race): Promise<{ result: string; rows: string[] }> {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  try {
    const mk = () => engine.createSession({ user: 'postgres', database: 'postgres' });
    const admin = mk();
    for (const q of r.setup) await admin.simpleQuery(q);
    const a = mk();
    const b = mk();
    const q = async (s: ReturnType<typeof mk>, sql: string): Promise<string> => {
      const res = await s.simpleQuery(sql);
      return res[res.length - 1]!.commandTag;
    };
    await q(a, `BEGIN ISOLATION LEVEL ${r.level.toUpperCase()}`);
    await q(b, `BEGIN ISOLATION LEVEL ${r.level.toUpperCase()}`);
    await q(b, 'SELECT 1 FROM t LIMIT 1');
    await q(a, r.first);
    const pending = outcome(q(b, r.second));
    for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
    await q(a, 'COMMIT');
    const result = await pending;
    await q(b, result.length === 5 && !result.includes(' ') ? 'ROLLBACK' : 'COMMIT');
    const res = await admin.simpleQuery(r.check);
    const rows = (res[res.length - 1]!.rows ?? []).map((row) =>
      row.map((v) => (v === null ? 'null' : v.toString('utf8'))).join('|'),
    );
    return { result, rows };
  } catch (e) {
    if (e instanceof NextDbError) return { result: `setup ${e.code}`, rows: [] };
    throw e;
  } finally {
    await engine.close();
  }
}

async function runPg(server: PgServer, r: Race, db: string): Promise<{ result: string; rows: string[] }> {
  const pg = (await import('pg')).default;
  const connect = async () => {
    const c = new pg.Client({
      connectionString: server.url.replace(/\/postgres$/, `/${db}`),
      types: { getTypeParser: () => (v: string) => v },
    });
    await c.connect();
    return c;
  };
  const admin = await connect();
  const a = await connect();
  const b = await connect();
  const tag = async (c: InstanceType<typeof pg.Client>, sql: string): Promise<string> => {
    const res = await c.query(sql);
    const cmd = res.command;
    return cmd === 'INSERT'
      ? `INSERT 0 ${res.rowCount ?? 0}`
      : cmd === 'UPDATE' || cmd === 'DELETE' || cmd === 'SELECT' || cmd === 'MERGE'
        ? `${cmd} ${res.rowCount ?? 0}`
        : cmd;
  };
  try {
    for (const q of r.setup) await admin.query(q);
    await tag(a, `BEGIN ISOLATION LEVEL ${r.level.toUpperCase()}`);
    await tag(b, `BEGIN ISOLATION LEVEL ${r.level.toUpperCase()}`);
    await tag(b, 'SELECT 1 FROM t LIMIT 1');
    await tag(a, r.first);
    const pending = outcome(tag(b, r.second));
    await new Promise((res) => setTimeout(res, 300));
    await tag(a, 'COMMIT');
    const result = await pending;
    await tag(b, result.length === 5 && !result.includes(' ') ? 'ROLLBACK' : 'COMMIT');
    const res = await admin.query({ text: r.check, rowMode: 'array' });
    return { result, rows: (res.rows as (string | null)[][]).map((row) => row.map((v) => v ?? 'null').join('|')) };
  } finally {
    await Promise.all([admin.end(), a.end(), b.end()]);
  }
}

test(
  'concurrent write races give PostgreSQL 15 outcomes',
  { skip: findPostgres() === undefined ? 'no PostgreSQL binaries' : false },
  async () => {
    const server = await startPostgres(process.env.PG_PORT !== undefined ? Number(process.env.PG_PORT) : 16120);
    const failures: string[] = [];
    try {
      const pg = (await import('pg')).default;
      // The server accepts TCP before sessions: retry the first connection.
      for (let attempt = 0; ; attempt++) {
        const c = new pg.Client({ connectionString: server.url });
        try {
          await c.connect();
          await c.end();
          break;
        } catch (e) {
          if (attempt >= 40) throw e;
          await new Promise((res) => setTimeout(res, 250));
        }
      }
      let n = 0;
      for (const r of RACES) {
        const db = `race${n++}`;
        const admin = new pg.Client({ connectionString: server.url });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${db}`);
        await admin.end();
        const want = await runPg(server, r, db);
        const got = await runNextDb(r);
        if (JSON.stringify(want) !== JSON.stringify(got))
          failures.push(
            `${r.name} (${r.level}):\n  PostgreSQL: ${JSON.stringify(want)}\n  NextDB:     ${JSON.stringify(got)}`,
          );
      }
    } finally {
      await server.stop();
    }
    assert.equal(failures.join('\n'), '');
  },
);

// Runs every golden SQL script in test/sql/golden against a fresh in-memory
// NextDB (format and rewrite modes: see golden-file.ts). GOLDEN_FILE limits
// the run to one script; PG_PORT sets the port of the throw-away PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { formatGolden, parseGolden, renderOutcome, sameOutcome } from './golden-file.ts';

const dir = join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';
const fromPg = process.env.GOLDEN_SOURCE === 'pg';

async function runNextDb(sqls: readonly string[]): Promise<string[][]> {
  // A fixed clock: now() is 2024-01-02 03:04:05.678 UTC in every script.
  const engine = await SqlEngine.open({
    engine: new MemoryEngine(),
    clock: new ManualClock(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    seed: 1,
  });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const out: string[][] = [];
  try {
    for (const sql of sqls) {
      try {
        const r = await s.simpleQuery(sql);
        const last = r[r.length - 1]!;
        out.push(
          renderOutcome({
            tag: last.commandTag,
            ...(last.columns === undefined ? {} : { columns: last.columns.map((c) => c.name) }),
            ...(last.rows === undefined
              ? {}
              : { rows: last.rows.map((row) => row.map((v) => (v === null ? null : v.toString('utf8')))) }),
          }),
        );
      } catch (e) {
        if (!(e instanceof NextDbError)) throw e;
        out.push(renderOutcome({ code: e.code, message: e.message }));
      }
    }
  } finally {
    await engine.close();
  }
  return out;
}

/** node-postgres keeps only the first word of the command tag; rebuild PostgreSQL's full tag. */
function pgTag(command: string, rowCount: number | null, sql: string): string {
  if (command === 'INSERT') return `INSERT 0 ${rowCount ?? 0}`;
  if (command === 'SELECT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE')
    return `${command} ${rowCount ?? 0}`;
  if (command === 'TRUNCATE') return 'TRUNCATE TABLE';
  if (command === 'FETCH' || command === 'MOVE') return `${command} ${rowCount ?? 0}`;
  if (command === 'DECLARE') return 'DECLARE CURSOR';
  if (command === 'CLOSE') return /^\s*close\s+all\s*$/i.test(sql) ? 'CLOSE CURSOR ALL' : 'CLOSE CURSOR';
  if (command === 'DISCARD') return `DISCARD ${(/^\s*discard\s+(\w+)/i.exec(sql)?.[1] ?? '').toUpperCase()}`;
  if (command === 'CREATE' || command === 'DROP' || command === 'ALTER') {
    if (command === 'CREATE' && /^\s*create\b[^;]*\bas\b[^;]*\bwith\s+no\s+data\s*$/i.test(sql))
      return 'CREATE TABLE AS';
    const m = /^\s*(?:create|drop|alter)\s+(?:or\s+replace\s+)?(?:unique\s+|temp\s+|temporary\s+)?(\w+)/i.exec(sql);
    return `${command} ${(m?.[1] ?? '').toUpperCase()}`;
  }
  return command;
}

async function runPostgres(sqls: readonly string[]): Promise<string[][]> {
  const { startPostgres } = await import('../support/pg-server.ts');
  const pg = await import('pg');
  // PG_PORT picks the throw-away server's port (a helper's own range); random otherwise.
  const port =
    process.env.PG_PORT !== undefined ? Number(process.env.PG_PORT) : 20000 + Math.floor(Math.random() * 20000);
  const server = await startPostgres(port);
  // The server accepts TCP before it accepts sessions ("the database system is starting up"): retry.
  let client = new pg.default.Client({
    connectionString: server.url,
    types: { getTypeParser: () => (v: string) => v },
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (e) {
      if (attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
      client = new pg.default.Client({
        connectionString: server.url,
        types: { getTypeParser: () => (v: string) => v },
      });
    }
  }
  const out: string[][] = [];
  try {
    await client.query("SET TimeZone = 'UTC'");
    for (const sql of sqls) {
      try {
        const res = await client.query({ text: sql, rowMode: 'array' });
        const last = Array.isArray(res) ? res[res.length - 1] : res;
        const tag = pgTag(last.command, last.rowCount, sql);
        const hasRows = last.fields.length > 0;
        out.push(
          renderOutcome({
            tag,
            ...(hasRows
              ? { columns: last.fields.map((f: { name: string }) => f.name), rows: last.rows as (string | null)[][] }
              : {}),
          }),
        );
      } catch (e) {
        const err = e as { code?: string; message: string };
        out.push(renderOutcome({ code: err.code ?? 'XX000', message: err.message }));
      }
    }
  } finally {
    await client.end();
    await server.stop();
  }
  return out;
}

// GOLDEN_FILE=name.sql limits the run (and a rewrite) to one script.
const only = process.env.GOLDEN_FILE;
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.sql') && (only === undefined || f === only))
  .sort()) {
  test(`golden ${file}`, async () => {
    const path = join(dir, file);
    const blocks = parseGolden(readFileSync(path, 'utf8'));
    const sqls = blocks.map((b) => b.sql);
    if (update) {
      const results = fromPg ? await runPostgres(sqls) : await runNextDb(sqls);
      blocks.forEach((b, i) => (b.expected = results[i]!));
      writeFileSync(path, formatGolden(blocks));
      return;
    }
    const results = await runNextDb(sqls);
    const failures: string[] = [];
    blocks.forEach((b, i) => {
      if (!sameOutcome(b.expected, results[i]!))
        failures.push(`> ${b.sql}\nexpected:\n${b.expected.join('\n')}\nactual:\n${results[i]!.join('\n')}`);
    });
    assert.equal(failures.length, 0, failures.join('\n\n'));
  });
}

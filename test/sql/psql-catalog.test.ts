// Runs every catalog query psql 15 sends for its describe commands
// (corpus psql-describe-queries.sql) against NextDB after creating the
// corpus's demo schema: each must parse, bind and run, returning the same
// column names as PostgreSQL's (checked against the -E transcript headers
// is future work; here: no errors). Also postgres.js's array-type query.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { CORPUS_DIR } from '../support/corpus.ts';

const CORPUS = CORPUS_DIR;

test('psql describe queries run against the demo schema', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const setup = readFileSync(`${CORPUS}/psql/psql-describe-setup.sql`, 'utf8')
    .split(';')
    .map((x) => x.replace(/--.*$/gm, '').trim())
    .filter((x) => x !== '' && !x.startsWith('CREATE FUNCTION'));
  for (const stmt of setup) await s.simpleQuery(stmt);
  const users = await s.simpleQuery("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname = 'users'");
  const oid = users[0]!.rows![0]![0]!.toString();
  const text = readFileSync(`${CORPUS}/psql-describe-queries.sql`, 'utf8');
  const blocks = text.split(/^-- >>> /m).slice(1);
  const failures: string[] = [];
  for (const b of blocks) {
    const title = b.split('\n')[0]!;
    const sql = b
      .split('\n')
      .slice(1)
      .join('\n')
      .replace(/'16387'/g, `'${oid}'`)
      .trim();
    try {
      await s.simpleQuery(sql);
    } catch (e) {
      failures.push(`${title}: ${(e as Error).message}`);
    }
  }
  await engine.close();
  assert.deepEqual(failures, []);
});

test('postgres.js array type discovery query', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const r = await s.simpleQuery(
    "select b.oid, b.typarray from pg_catalog.pg_type a left join pg_catalog.pg_type b on b.oid = a.typelem where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid",
  );
  const rows = r[0]!.rows!.map((row) => row.map((v) => v?.toString()));
  assert.ok(
    rows.some((row) => row[0] === '23' && row[1] === '1007'),
    'int4 → _int4',
  );
  await engine.close();
});

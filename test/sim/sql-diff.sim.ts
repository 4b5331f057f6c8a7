/**
 * Differential SQL test: random schemas, data and queries (seeded, see
 * test/sql/diff/generator.ts) run on NextDB and on a throw-away PostgreSQL
 * 15; results (sorted rows as text) and error/no-error outcomes must agree.
 *
 *   npm run sim -- sql-diff --seeds 50      (seeds 1..50)
 *   npm run sim -- sql-diff --seed 17       (replay one seed)
 *
 * Prints each mismatching seed with the query and both answers.
 */

import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { generate } from '../sql/diff/generator.ts';
import { findPostgres, startPostgres } from '../support/pg-server.ts';
import { seedsFromArgs } from './sim-args.ts';

const seeds = seedsFromArgs(20);
const QUERIES = 40;

if (findPostgres() === undefined) {
  console.log('sql-diff: PostgreSQL binaries not found, skipping');
  process.exit(0);
}
const pg = (await import('pg')).default;
const port = 30000 + Math.floor(Math.random() * 20000);
const server = await startPostgres(port);
let failures = 0;
try {
  let client = new pg.Client({ connectionString: server.url, types: { getTypeParser: () => (v: string) => v } });
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (e) {
      // Accepting TCP comes before accepting sessions ("the database system is starting up").
      if (attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
      client = new pg.Client({ connectionString: server.url, types: { getTypeParser: () => (v: string) => v } });
    }
  }
  for (const seed of seeds) {
    const sc = generate(seed, QUERIES);
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed });
    const s = engine.createSession({ user: 'postgres', database: 'postgres' });
    for (const stmt of sc.setup) {
      await client.query(stmt);
      await s.simpleQuery(stmt);
    }
    for (const q of sc.queries) {
      let pgOut: string;
      let ndOut: string;
      try {
        const r = await client.query({ text: q, rowMode: 'array' });
        pgOut = (r.rows as (string | null)[][])
          .map((row) => row.map((v) => (v === null ? 'NULL' : v)).join('|'))
          .sort()
          .join('\n');
      } catch (e) {
        pgOut = `ERROR ${(e as { code?: string }).code ?? '?'}`;
      }
      try {
        const r = await s.simpleQuery(q);
        ndOut = (r[0]!.rows ?? [])
          .map((row) => row.map((v) => (v === null ? 'NULL' : v.toString('utf8'))).join('|'))
          .sort()
          .join('\n');
      } catch (e) {
        if (!(e instanceof NextDbError)) throw e;
        ndOut = `ERROR ${e.code}`;
      }
      // PostgreSQL's own limitations (e.g. FULL JOIN on a non-equality condition) are not mismatches.
      if (pgOut === 'ERROR 0A000') continue;
      if (pgOut !== ndOut) {
        failures++;
        console.log(
          `MISMATCH seed=${seed}\n  ${q}\n  postgres: ${pgOut.slice(0, 300).replace(/\n/g, ' ; ')}\n  nextdb:   ${ndOut.slice(0, 300).replace(/\n/g, ' ; ')}`,
        );
      }
    }
    await engine.close();
  }
  await client.end();
} finally {
  await server.stop();
}
console.log(`sql-diff: ${seeds.length} seeds x ${QUERIES} queries, ${failures} mismatches`);
process.exit(failures === 0 ? 0 : 1);

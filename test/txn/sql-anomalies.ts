/**
 * Runs the anomaly scenarios through NextDB's whole SQL stack (parser,
 * planner, executor, transaction layer) in process, and compares each run
 * with PostgreSQL 15's recorded behaviour (golden/anomalies-pg15.json).
 * A report, not part of `npm test`: the SQL engine belongs to another part
 * of the project, and this shows where the stack as a whole differs.
 *
 *   node --import tsx test/txn/sql-anomalies.ts
 *
 * Prints one line per scenario and level, then the transcripts that differ.
 * Exits 1 if any anomaly cell differs from PostgreSQL's.
 */

import { readFileSync } from 'node:fs';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { runScenario, type Backend, type Session } from './anomaly-runner.ts';
import { LEVELS, SCENARIOS } from './anomaly-scenarios.ts';
import { sqlOf } from './anomaly-sql.ts';

const pg = JSON.parse(readFileSync(new URL('./golden/anomalies-pg15.json', import.meta.url), 'utf8')) as Record<
  string,
  Record<string, { anomaly: boolean; transcript: string[] }>
>;

type SqlSession = ReturnType<SqlEngine['createSession']>;

function rowsText(rows: readonly (readonly (Buffer | null)[])[]): string {
  return rows.length === 0
    ? '-'
    : rows.map((r) => `${r[0]?.toString() ?? 'null'}=${r[1]?.toString() ?? 'null'}`).join(',');
}

let cellDiffs = 0;
const transcriptDiffs: string[] = [];
for (const s of SCENARIOS) {
  for (const level of LEVELS) {
    const db = await SqlEngine.open({ engine: new MemoryEngine() });
    const admin: SqlSession = db.createSession({ user: 'postgres', database: 'postgres' });
    await admin.simpleQuery('create table test (id int primary key, value int)');
    for (const [id, v] of s.rows ?? [
      [1, 10],
      [2, 20],
    ])
      await admin.simpleQuery(`insert into test values (${id}, ${v})`);
    const backend: Backend = {
      session: () => {
        const c = db.createSession({ user: 'postgres', database: 'postgres' });
        const session: Session = {
          run: async (stmt) => {
            const [r] = await c.simpleQuery(sqlOf(stmt, level));
            const tag = r?.commandTag ?? '';
            if (stmt.kind === 'commit') return tag === 'COMMIT' ? 'COMMIT' : 'ROLLBACK';
            if (stmt.kind === 'begin' || stmt.kind === 'rollback') return 'ok';
            if (r?.rows !== undefined) return rowsText(r.rows);
            return `${tag.split(' ').pop() ?? '?'} rows`;
          },
        };
        return Promise.resolve(session);
      },
      settle: async () => {
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      },
      finalRows: async () => {
        const [r] = await admin.simpleQuery('select id, value from test order by id');
        return rowsText(r?.rows ?? []);
      },
      close: () => db.close(),
    };
    const run = await runScenario(backend, s, level);
    await backend.close();
    const ours = s.anomaly(run.observed);
    const theirs = pg[s.name]?.[level]?.anomaly;
    const same = ours === theirs;
    if (!same) cellDiffs++;
    console.log(
      `${s.name} @ ${level}: nextdb-sql ${ours ? 'ANOMALY' : 'prevented'}, postgres ${theirs === true ? 'ANOMALY' : 'prevented'}${same ? '' : '   <-- differs'}`,
    );
    const want = pg[s.name]?.[level]?.transcript ?? [];
    if (JSON.stringify(run.transcript) !== JSON.stringify(want)) {
      transcriptDiffs.push(`## ${s.name} @ ${level}`);
      for (let i = 0; i < Math.max(run.transcript.length, want.length); i++) {
        if (run.transcript[i] !== want[i])
          transcriptDiffs.push(`  nextdb-sql: ${run.transcript[i] ?? ''}\n  postgres:   ${want[i] ?? ''}`);
      }
    }
  }
}
console.log(
  `\n${cellDiffs} anomaly cells differ from PostgreSQL 15; ${transcriptDiffs.filter((l) => l.startsWith('##')).length} transcripts differ`,
);
console.log(transcriptDiffs.join('\n'));
process.exit(cellDiffs > 0 ? 1 : 0);

// The anomaly matrix: every scenario of anomaly-scenarios.ts at every
// isolation level over NextDB's transaction layer. Checks (1) that whether
// the anomaly happens matches PostgreSQL 15 at the same level (recorded in
// golden/anomalies-pg15.json by record-pg-anomalies.ts against a real
// server), and (2) that NextDB's transcript equals golden/anomalies-nextdb.txt
// (UPDATE_GOLDEN=1 rewrites it; review the diff like code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { runScenario } from './anomaly-runner.ts';
import { nextDbBackend } from './anomaly-nextdb.ts';
import { LEVELS, SCENARIOS } from './anomaly-scenarios.ts';

const pgFile = new URL('./golden/anomalies-pg15.json', import.meta.url);
const goldenFile = new URL('./golden/anomalies-nextdb.txt', import.meta.url);
const pg = JSON.parse(readFileSync(pgFile, 'utf8')) as Record<
  string,
  Record<string, { anomaly: boolean; transcript: string[] }>
>;

test('anomaly matrix matches PostgreSQL 15 at every isolation level', async () => {
  const lines: string[] = [
    '# NextDB transcripts of the anomaly scenarios (test/txn/anomaly-scenarios.ts).',
    '# Regenerate with UPDATE_GOLDEN=1 npm test -- test/txn/anomalies',
  ];
  const mismatches: string[] = [];
  const transcriptDiffs: string[] = [];
  for (const s of SCENARIOS) {
    for (const level of LEVELS) {
      const backend = await nextDbBackend(
        s.rows ?? [
          [1, 10],
          [2, 20],
        ],
      );
      const run = await runScenario(backend, s, level);
      await backend.close();
      const ours = s.anomaly(run.observed);
      const theirs = pg[s.name]?.[level]?.anomaly;
      assert.notEqual(theirs, undefined, `no PostgreSQL result recorded for ${s.name} at ${level}`);
      if (ours !== theirs)
        mismatches.push(
          `${s.name} @ ${level}: nextdb ${ours ? 'ANOMALY' : 'prevented'}, postgres ${theirs ? 'ANOMALY' : 'prevented'}`,
        );
      if (JSON.stringify(run.transcript) !== JSON.stringify(pg[s.name]?.[level]?.transcript))
        transcriptDiffs.push(`${s.name} @ ${level}`);
      lines.push('', `## ${s.name} @ ${level}: ${ours ? 'ANOMALY' : 'prevented'}`, ...run.transcript);
    }
  }
  const text = lines.join('\n') + '\n';
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(goldenFile, text);
  assert.deepEqual(mismatches, []);
  // docs/reference/isolation.md lists the runs whose step-by-step transcript
  // differs from PostgreSQL's: same outcome (anomaly prevented), but a
  // different failing statement, or (write refresh) no failure at all: the
  // blind writer is serialized after the transaction it waited for.
  assert.deepEqual(transcriptDiffs, [
    'G0 @ serializable',
    'OTV @ serializable',
    'PMP-write @ serializable',
    'P4-increment @ serializable',
    'G2-readonly @ serializable',
  ]);
  assert.equal(
    text,
    readFileSync(goldenFile, 'utf8'),
    'transcripts differ from golden/anomalies-nextdb.txt (UPDATE_GOLDEN=1 to accept)',
  );
});

test('anomaly scenarios: PostgreSQL prevents the listed anomalies exactly where PostgreSQL documents', () => {
  // A sanity check on the recorded reference itself (so a broken recording cannot pass silently):
  // PostgreSQL's documented guarantees per level.
  const allowed: Record<string, string[]> = {
    'read committed': ['PMP', 'PMP-write', 'P4', 'G-single', 'G-single-write', 'G2-item', 'G2', 'G2-readonly'],
    'repeatable read': ['G2-item', 'G2', 'G2-readonly'],
    serializable: [],
  };
  for (const level of LEVELS) {
    const got = SCENARIOS.filter((s) => pg[s.name]?.[level]?.anomaly === true).map((s) => s.name);
    assert.deepEqual(got, allowed[level], level);
  }
});

// The sqllogictest subset that runs in `npm test`: select1, select5 and the
// evidence/ scripts, each compared with PostgreSQL 15's per-file baseline
// (NextDB must pass at least as many records and fail no more). The full
// corpus runs with `npm run slt -- FILES` (see docs/reference/conformance.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runSltFile } from './slt/runner.ts';
import { corpusPath } from '../support/corpus.ts';

const ROOT = corpusPath('sqllogictest');
const baseline = new Map<string, { ok: number; fail: number }>();
for (const line of readFileSync(`${ROOT}/baseline-summary.tsv`, 'utf8').split('\n').slice(1)) {
  const [file, ok, fail] = line.split('\t');
  if (file !== undefined && ok !== undefined && fail !== undefined)
    baseline.set(file, { ok: Number(ok), fail: Number(fail) });
}

const FILES = [
  'test/select1.test',
  'test/select5.test',
  'test/evidence/in1.test',
  'test/evidence/in2.test',
  'test/evidence/slt_lang_aggfunc.test',
  'test/evidence/slt_lang_createview.test',
  'test/evidence/slt_lang_dropindex.test',
  'test/evidence/slt_lang_droptable.test',
  'test/evidence/slt_lang_dropview.test',
  'test/evidence/slt_lang_update.test',
];

for (const f of FILES) {
  test(`sqllogictest ${f}`, async () => {
    const r = await runSltFile(`${ROOT}/${f}`);
    const b = baseline.get(f);
    assert.ok(b !== undefined, `no baseline for ${f}`);
    assert.ok(
      r.pass >= b.ok,
      `${f}: passed ${r.pass} < PostgreSQL's ${b.ok}; first failures:\n${r.failures
        .slice(0, 5)
        .map((x) => `line ${x.line}: ${x.message}`)
        .join('\n')}`,
    );
    assert.ok(r.fail <= b.fail, `${f}: failed ${r.fail} > PostgreSQL's ${b.fail}`);
  });
}

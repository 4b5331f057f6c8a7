// The bank test (bank.lib.ts) over a few hundred seeds per mode; thousands
// run in `npm run sim -- bank`. A failure names its seed; replay it with
// `npm run sim -- bank --seed <seed>`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBankSeed, type BankMode } from './bank.lib.ts';

const SEEDS = Number(process.env['BANK_SEEDS'] ?? 150);
const MODES: readonly BankMode[] = ['serializable', 'repeatable read', 'read committed', 'mixed'];

for (const mode of MODES) {
  test(`bank: totals never change and final balances match committed transfers (${mode}, ${SEEDS} seeds)`, async () => {
    let commits = 0;
    let retries = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const s = await runBankSeed(seed, mode);
      commits += s.commits;
      retries += s.retries;
    }
    assert.ok(commits > SEEDS * 5, `only ${commits} commits`);
    // Contention must actually happen, or the test proves little.
    assert.ok(retries > 0, 'no transaction ever conflicted');
  });
}

/**
 * `npm run slt -- FILES...` runs sqllogictest files and prints one line per
 * file (pass/fail/skip, time) plus the first failures of each.
 * Options: --verbose (all kept failures), --max-ms N (stop a file after N ms;
 * the rest counts as skipped).
 */

import { runSltFile } from './runner.ts';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const maxIdx = args.indexOf('--max-ms');
const maxMs = maxIdx >= 0 ? Number(args[maxIdx + 1]) : undefined;
const files = args.filter((a, i) => !a.startsWith('--') && (maxIdx < 0 || i !== maxIdx + 1));
if (files.length === 0) {
  console.error('usage: npm run slt -- [--verbose] [--max-ms N] FILE...');
  process.exit(2);
}
let totalPass = 0;
let totalFail = 0;
let totalSkip = 0;
for (const f of files) {
  const r = await runSltFile(f, maxMs === undefined ? {} : { timeLimitMs: maxMs });
  totalPass += r.pass;
  totalFail += r.fail;
  totalSkip += r.skip;
  console.log(
    `${r.fail === 0 ? 'PASS' : 'FAIL'} ${f} pass=${r.pass} fail=${r.fail} skip=${r.skip} (${(r.ms / 1000).toFixed(1)} s)`,
  );
  for (const x of r.failures.slice(0, verbose ? 1000 : 5))
    console.log(`  line ${x.line}: ${x.message}\n    ${x.sql.replace(/\n/g, '\n    ')}`);
}
console.log(`TOTAL pass=${totalPass} fail=${totalFail} skip=${totalSkip}`);
process.exit(totalFail === 0 ? 0 : 1);

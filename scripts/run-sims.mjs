#!/usr/bin/env node
// Runs every deterministic simulation (test/sim/*.sim.ts) with the given
// arguments, e.g. `npm run sim -- --seeds 1000` or `npm run sim -- --seed 42`.
// `npm run sim -- raft --seeds 100` runs only simulations whose name contains "raft".
// Each simulation prints the seed of any failure; the same seed replays it.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'test', 'sim');
const args = process.argv.slice(2);
const names = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]?.startsWith('--')));
const rest = args.filter((a) => !names.includes(a));
const sims = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.sim.ts'))
      .sort()
  : [];
const chosen = names.length ? sims.filter((f) => names.some((n) => f.includes(n))) : sims;
if (chosen.length === 0) {
  console.error('no simulations found');
  process.exit(1);
}
let failed = 0;
for (const f of chosen) {
  console.log(`== ${f} ${rest.join(' ')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f), ...rest], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

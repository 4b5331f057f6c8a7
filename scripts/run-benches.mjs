#!/usr/bin/env node
// Runs every bench/*.ts (each one a `npm run bench:<name>`), passing the
// arguments along, e.g. `npm run bench -- --quick`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'bench');
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.includes('.lib.') && !f.startsWith('_'))
  .sort();
let failed = 0;
for (const f of benches) {
  console.log(`== bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f), ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

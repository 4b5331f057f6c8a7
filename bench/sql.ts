/**
 * `npm run bench:sql [-- --quick]`: embedded NextDB vs SQLite (better-sqlite3)
 * in the same process and run.
 *
 * Workloads (one line each: `bench <workload> nextdb=<ops/s> sqlite=<ops/s> ratio=<nextdb/sqlite>`,
 * then `latency <workload> p50=<ms> p99=<ms>` for NextDB):
 *   point-select   prepared SELECT by primary key over ROWS rows (random keys)
 *   insert         single-row prepared INSERT, autocommit
 *   update         single-row prepared UPDATE by primary key, autocommit
 *
 * The three workloads above run both engines in memory (NextDB:
 * MemoryEngine; SQLite: ':memory:'), so the comparison is of the SQL and
 * transaction layers. Then
 *   point-select-disk   the same point SELECT on databases in files: NextDB's
 *                       LSM engine (open({ path })) vs a SQLite file (same rows)
 * measures the real storage engine's read path. --quick uses 20,000 rows and
 * short runs (about a minute); the full run loads 1,000,000 rows.
 */

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../src/index.ts';
import { Prng } from '../src/util/prng.ts';

const quick = process.argv.includes('--quick');
const ROWS = quick ? 20_000 : 1_000_000;
const RUN_MS = quick ? 3_000 : 10_000;
const LOAD_BATCH = 10_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function timeLoop(
  fn: (i: number) => Promise<void> | void,
  ms: number,
  collect: boolean,
): Promise<{ opsPerSec: number; lat: number[] }> {
  const lat: number[] = [];
  const start = performance.now();
  let i = 0;
  for (;;) {
    const t0 = collect ? performance.now() : 0;
    await fn(i++);
    if (collect) lat.push(performance.now() - t0);
    if ((i & 63) === 0 && performance.now() - start >= ms) break;
  }
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { opsPerSec: i / secs, lat };
}

function report(name: string, nextdb: { opsPerSec: number; lat: number[] }, sqlite: { opsPerSec: number }): void {
  console.log(
    `bench ${name} nextdb=${Math.round(nextdb.opsPerSec)} sqlite=${Math.round(sqlite.opsPerSec)} ratio=${(nextdb.opsPerSec / sqlite.opsPerSec).toFixed(3)}`,
  );
  console.log(
    `latency ${name} p50=${percentile(nextdb.lat, 0.5).toFixed(4)} p99=${percentile(nextdb.lat, 0.99).toFixed(4)}`,
  );
}

const db = await open();
await db.query('CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL, n int NOT NULL)');
for (let lo = 1; lo <= ROWS; lo += LOAD_BATCH) {
  const hi = Math.min(ROWS, lo + LOAD_BATCH - 1);
  await db.query(`INSERT INTO kv SELECT g, 'value-' || g, 0 FROM generate_series(${lo}, ${hi}) g`);
}
const lite = new Database(':memory:');
lite.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL)');
const liteIns = lite.prepare('INSERT INTO kv VALUES (?, ?, 0)');
lite.transaction(() => {
  for (let k = 1; k <= ROWS; k++) liteIns.run(k, `value-${k}`);
})();

const rnd = new Prng(42);
const sel = await db.prepare('SELECT v FROM kv WHERE k = $1');
const liteSel = lite.prepare('SELECT v FROM kv WHERE k = ?');
report(
  'point-select',
  await timeLoop(
    async () => {
      await sel.query([1 + rnd.int(ROWS)]);
    },
    RUN_MS,
    true,
  ),
  await timeLoop(
    () => {
      liteSel.get(1 + rnd.int(ROWS));
    },
    RUN_MS,
    false,
  ),
);

const ins = await db.prepare('INSERT INTO kv VALUES ($1, $2, 0)');
let next = ROWS + 1;
let liteNext = ROWS + 1;
report(
  'insert',
  await timeLoop(
    async () => {
      const k = next++;
      await ins.query([k, `new-${k}`]);
    },
    RUN_MS,
    true,
  ),
  await timeLoop(
    () => {
      const k = liteNext++;
      liteIns.run(k, `new-${k}`);
    },
    RUN_MS,
    false,
  ),
);

const upd = await db.prepare('UPDATE kv SET n = n + 1 WHERE k = $1');
const liteUpd = lite.prepare('UPDATE kv SET n = n + 1 WHERE k = ?');
report(
  'update',
  await timeLoop(
    async () => {
      await upd.query([1 + rnd.int(ROWS)]);
    },
    RUN_MS,
    true,
  ),
  await timeLoop(
    () => {
      liteUpd.run(1 + rnd.int(ROWS));
    },
    RUN_MS,
    false,
  ),
);

await db.close();
lite.close();

// The same point SELECT on the real storage engines (files in a temp dir removed at the end).
const dir = mkdtempSync(join(tmpdir(), 'nextdb-bench-sql-'));
try {
  const disk = await open({ path: join(dir, 'nextdb') });
  await disk.query('CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL, n int NOT NULL)');
  for (let lo = 1; lo <= ROWS; lo += LOAD_BATCH) {
    const hi = Math.min(ROWS, lo + LOAD_BATCH - 1);
    await disk.query(`INSERT INTO kv SELECT g, 'value-' || g, 0 FROM generate_series(${lo}, ${hi}) g`);
  }
  const liteDisk = new Database(join(dir, 'sqlite.db'));
  liteDisk.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL)');
  const liteDiskIns = liteDisk.prepare('INSERT INTO kv VALUES (?, ?, 0)');
  liteDisk.transaction(() => {
    for (let k = 1; k <= ROWS; k++) liteDiskIns.run(k, `value-${k}`);
  })();
  const diskSel = await disk.prepare('SELECT v FROM kv WHERE k = $1');
  const liteDiskSel = liteDisk.prepare('SELECT v FROM kv WHERE k = ?');
  report(
    'point-select-disk',
    await timeLoop(
      async () => {
        await diskSel.query([1 + rnd.int(ROWS)]);
      },
      RUN_MS,
      true,
    ),
    await timeLoop(
      () => {
        liteDiskSel.get(1 + rnd.int(ROWS));
      },
      RUN_MS,
      false,
    ),
  );
  await disk.close();
  liteDisk.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

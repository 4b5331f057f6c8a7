/**
 * `npm run bench:sql [-- --quick]`: embedded NextDB vs SQLite (better-sqlite3)
 * in the same process and run.
 *
 * Workloads (one line each: `bench <workload> nextdb=<ops/s> sqlite=<ops/s> ratio=<nextdb/sqlite>`,
 * then `latency <workload> p50=<ms> p99=<ms>` for NextDB and `latency-sqlite ...` for SQLite):
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
 *
 * Each workload alternates NextDB and SQLite in short slices (ROUNDS each),
 * so a change in machine load during the run hits both sides alike, and
 * both sides time every operation (so both pay the same clock reads).
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

interface Timed {
  ops: number;
  secs: number;
  lat: number[];
}

/** Runs `fn` for about `ms` milliseconds, adding its op count, time and latencies to `into`. */
async function timeLoop(fn: (i: number) => Promise<void> | void, ms: number, into: Timed): Promise<void> {
  const lat = into.lat;
  const start = performance.now();
  let i = 0;
  for (;;) {
    const t0 = performance.now();
    await fn(i++);
    lat.push(performance.now() - t0);
    if ((i & 63) === 0 && performance.now() - start >= ms) break;
  }
  into.ops += i;
  into.secs += (performance.now() - start) / 1000;
}

/** Rounds per workload: NextDB and SQLite alternate, so both see the same machine load (it varies on a shared machine). */
const ROUNDS = quick ? 6 : 10;

/**
 * NextDB and its peer side by side: ROUNDS alternating slices of RUN_MS / ROUNDS
 * each; throughput is each engine's total ops over its total time.
 */
async function compare(name: string, nextdb: (i: number) => Promise<void>, sqlite: (i: number) => void): Promise<void> {
  const a: Timed = { ops: 0, secs: 0, lat: [] };
  const b: Timed = { ops: 0, secs: 0, lat: [] };
  for (let r = 0; r < ROUNDS; r++) {
    await timeLoop(nextdb, RUN_MS / ROUNDS, a);
    await timeLoop(sqlite, RUN_MS / ROUNDS, b);
  }
  a.lat.sort((x, y) => x - y);
  b.lat.sort((x, y) => x - y);
  const nextdbOps = a.ops / a.secs;
  const sqliteOps = b.ops / b.secs;
  console.log(
    `bench ${name} nextdb=${Math.round(nextdbOps)} sqlite=${Math.round(sqliteOps)} ratio=${(nextdbOps / sqliteOps).toFixed(3)}`,
  );
  console.log(`latency ${name} ${latencies(a.lat)}`);
  console.log(`latency-sqlite ${name} ${latencies(b.lat)}`);
}

function latencies(sorted: number[]): string {
  return `p50=${percentile(sorted, 0.5).toFixed(4)} p99=${percentile(sorted, 0.99).toFixed(4)}`;
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
await compare(
  'point-select',
  async () => {
    await sel.query([1 + rnd.int(ROWS)]);
  },
  () => {
    liteSel.get(1 + rnd.int(ROWS));
  },
);

const ins = await db.prepare('INSERT INTO kv VALUES ($1, $2, 0)');
let next = ROWS + 1;
let liteNext = ROWS + 1;
await compare(
  'insert',
  async () => {
    const k = next++;
    await ins.query([k, `new-${k}`]);
  },
  () => {
    const k = liteNext++;
    liteIns.run(k, `new-${k}`);
  },
);

const upd = await db.prepare('UPDATE kv SET n = n + 1 WHERE k = $1');
const liteUpd = lite.prepare('UPDATE kv SET n = n + 1 WHERE k = ?');
await compare(
  'update',
  async () => {
    await upd.query([1 + rnd.int(ROWS)]);
  },
  () => {
    liteUpd.run(1 + rnd.int(ROWS));
  },
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
  await compare(
    'point-select-disk',
    async () => {
      await diskSel.query([1 + rnd.int(ROWS)]);
    },
    () => {
      liteDiskSel.get(1 + rnd.int(ROWS));
    },
  );
  await disk.close();
  liteDisk.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The benchmark's workloads: what one operation of each does, and the data
 * they run on. Every statement is plain PostgreSQL so the same workload runs
 * against NextDB and PostgreSQL.
 *
 *   bench_kv(k bigint PK, v text, s bigint)  + index on s      (point, scan, YCSB)
 *   pgbench_{branches,tellers,accounts,history}                (tpcb)
 */

import type { Prng } from '../../util/prng.ts';
import type { BenchDriver } from './driver.ts';
import type { KeyChooser } from './key-chooser.ts';

export interface OpContext {
  readonly driver: BenchDriver;
  readonly rng: Prng;
  readonly keys: KeyChooser;
  readonly rows: number;
  /** Next key for inserts (shared by all clients of a run). */
  nextInsertKey: { value: number };
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  readonly data: 'kv' | 'tpcb';
  /** Runs one operation; resolves to the number of retries it needed. */
  op(ctx: OpContext): Promise<number>;
}

const VALUE_LENGTH = 100;

export function valueFor(k: number, salt = 0): string {
  const base = `${k.toString(36)}-${salt.toString(36)}-`;
  return base.padEnd(VALUE_LENGTH, 'abcdefghijklmnopqrstuvwxyz0123456789'.charAt((k + salt) % 36));
}

const read = async (c: OpContext): Promise<number> => {
  await c.driver.query('SELECT v FROM bench_kv WHERE k = $1', [c.keys.next()]);
  return 0;
};
const update = async (c: OpContext): Promise<number> => {
  const k = c.keys.next();
  await c.driver.exec('UPDATE bench_kv SET v = $2 WHERE k = $1', [k, valueFor(k, c.rng.int(1000))]);
  return 0;
};
const scan = async (c: OpContext): Promise<number> => {
  const start = c.keys.next();
  const len = 1 + c.rng.int(100);
  await c.driver.query('SELECT k, v FROM bench_kv WHERE k >= $1 ORDER BY k LIMIT $2', [start, len]);
  return 0;
};
const insert = async (c: OpContext): Promise<number> => {
  const k = c.nextInsertKey.value++;
  await c.driver.exec('INSERT INTO bench_kv (k, v, s) VALUES ($1, $2, $3)', [k, valueFor(k), k * 7 + 3]);
  return 0;
};

export const WORKLOADS: readonly Workload[] = [
  { name: 'point-read', description: 'SELECT by primary key', data: 'kv', op: read },
  { name: 'point-write', description: 'UPDATE one row by primary key', data: 'kv', op: update },
  {
    name: 'range-scan',
    description: 'SELECT 100 consecutive rows by primary key range',
    data: 'kv',
    op: async (c) => {
      const start = c.keys.next();
      await c.driver.query('SELECT k, v FROM bench_kv WHERE k >= $1 AND k < $2 ORDER BY k', [start, start + 100]);
      return 0;
    },
  },
  {
    name: 'index-lookup',
    description: 'SELECT by a secondary index',
    data: 'kv',
    op: async (c) => {
      await c.driver.query('SELECT k, v FROM bench_kv WHERE s = $1', [c.keys.next() * 7 + 3]);
      return 0;
    },
  },
  {
    name: 'ycsb-a',
    description: 'YCSB A: 50% read, 50% update',
    data: 'kv',
    op: (c) => (c.rng.chance(0.5) ? read(c) : update(c)),
  },
  {
    name: 'ycsb-b',
    description: 'YCSB B: 95% read, 5% update',
    data: 'kv',
    op: (c) => (c.rng.chance(0.95) ? read(c) : update(c)),
  },
  { name: 'ycsb-c', description: 'YCSB C: read only', data: 'kv', op: read },
  {
    name: 'ycsb-e',
    description: 'YCSB E: 95% short scans, 5% inserts',
    data: 'kv',
    op: (c) => (c.rng.chance(0.95) ? scan(c) : insert(c)),
  },
  {
    name: 'ycsb-f',
    description: 'YCSB F: read-modify-write in a transaction',
    data: 'kv',
    op: (c) => {
      const k = c.keys.next();
      return c.driver.transaction(async (q) => {
        const rows = await q('SELECT v FROM bench_kv WHERE k = $1', [k]);
        const v = String(rows[0]?.['v'] ?? '');
        await q('UPDATE bench_kv SET v = $2 WHERE k = $1', [k, valueFor(k, v.length + c.rng.int(1000))]);
      });
    },
  },
  {
    name: 'tpcb',
    description: "pgbench's TPC-B-like transaction",
    data: 'tpcb',
    op: (c) => {
      const branches = Math.max(1, Math.floor(c.rows / 100_000));
      const aid = 1 + c.keys.next();
      const bid = 1 + c.rng.int(branches);
      const tid = 1 + c.rng.int(branches * 10);
      const delta = c.rng.range(-5000, 5000);
      return c.driver.transaction(async (q) => {
        await q('UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2', [delta, aid]);
        await q('SELECT abalance FROM pgbench_accounts WHERE aid = $1', [aid]);
        await q('UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2', [delta, tid]);
        await q('UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2', [delta, bid]);
        await q(
          'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)',
          [tid, bid, aid, delta],
        );
      });
    },
  },
];

const LOAD_BATCH = 250;

/** Creates and fills the tables a set of workloads needs. */
export async function loadData(
  driver: BenchDriver,
  data: ReadonlySet<'kv' | 'tpcb'>,
  rows: number,
  onProgress: (done: number) => void,
): Promise<void> {
  if (data.has('kv')) {
    await driver.exec('DROP TABLE IF EXISTS bench_kv');
    await driver.exec('CREATE TABLE bench_kv (k bigint PRIMARY KEY, v text NOT NULL, s bigint NOT NULL)');
    await driver.exec('CREATE INDEX bench_kv_s ON bench_kv (s)');
    for (let lo = 0; lo < rows; lo += LOAD_BATCH) {
      const values: string[] = [];
      for (let k = lo; k < Math.min(rows, lo + LOAD_BATCH); k++) values.push(`(${k}, '${valueFor(k)}', ${k * 7 + 3})`);
      await driver.exec(`INSERT INTO bench_kv (k, v, s) VALUES ${values.join(', ')}`);
      onProgress(Math.min(rows, lo + LOAD_BATCH));
    }
  }
  if (data.has('tpcb')) {
    const branches = Math.max(1, Math.floor(rows / 100_000));
    for (const t of ['pgbench_history', 'pgbench_accounts', 'pgbench_tellers', 'pgbench_branches'])
      await driver.exec(`DROP TABLE IF EXISTS ${t}`);
    await driver.exec('CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int NOT NULL, filler char(88))');
    await driver.exec(
      'CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL, filler char(84))',
    );
    await driver.exec(
      'CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))',
    );
    await driver.exec(
      'CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))',
    );
    for (let b = 1; b <= branches; b++) await driver.exec(`INSERT INTO pgbench_branches VALUES (${b}, 0, '')`);
    const tellers: string[] = [];
    for (let t = 1; t <= branches * 10; t++) tellers.push(`(${t}, ${1 + Math.floor((t - 1) / 10)}, 0, '')`);
    await driver.exec(`INSERT INTO pgbench_tellers VALUES ${tellers.join(', ')}`);
    for (let lo = 1; lo <= rows; lo += LOAD_BATCH) {
      const values: string[] = [];
      for (let a = lo; a < Math.min(rows + 1, lo + LOAD_BATCH); a++)
        values.push(`(${a}, ${1 + Math.floor((a - 1) / 100_000)}, 0, '')`);
      await driver.exec(`INSERT INTO pgbench_accounts VALUES ${values.join(', ')}`);
      onProgress(Math.min(rows, lo + LOAD_BATCH - 1));
    }
  }
}

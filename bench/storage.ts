// Storage benchmark: NextDB's LSM engine against LevelDB (classic-level), in
// one process and one run, on the same keys and values.
//
//   fill     N random 16-byte keys with 100-byte values, in batches of 1000
//   get      N random point reads of written keys (LevelDB: synchronous getSync)
//   scan     S scans of 100 keys from random starting keys
//   syncput  P durable single puts from 16 concurrent writers
//            (LevelDB: put with sync: true; NextDB: put, then await sync())
//
// Prints `bench <workload> nextdb=<ops/s> leveldb=<ops/s> ratio=<x>`, then
// bytes on disk and peak RSS per engine, then notes: ops per CPU-second of
// the whole process (all threads), which stays meaningful on a shared
// machine, and the load average. `--quick` uses smaller counts.
// Both engines get the same 64 MiB block cache; the keys come from a seeded
// PRNG, so every run writes and reads the same data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openLsmEngine, type LsmEngine } from '../src/storage/lsm/index.ts';
import { WriteBatch } from '../src/storage/write-batch.ts';
import { Prng } from '../src/util/prng.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 100_000 : 1_000_000;
const GETS = quick ? 100_000 : 1_000_000;
const SCANS = quick ? 2_000 : 10_000;
const SYNC_PUTS = quick ? 2_000 : 10_000;
const WRITERS = 16;
const BATCH = 1000;
const CACHE_BYTES = 64 << 20;
const KEY = 16;
const VALUE = 100;

const prng = new Prng(20261126);
const keys = prng.fill(Buffer.allocUnsafe(N * KEY)) as Buffer;
const values = prng.fill(Buffer.allocUnsafe(VALUE * 1024)) as Buffer;
const key = (i: number): Buffer => keys.subarray(i * KEY, i * KEY + KEY);
const value = (i: number): Buffer => values.subarray((i % 1000) * 100, (i % 1000) * 100 + VALUE);
const getOrder = Uint32Array.from({ length: GETS }, () => prng.int(N));
const scanStarts = Uint32Array.from({ length: SCANS }, () => prng.int(N));
const syncKeys = Array.from({ length: SYNC_PUTS }, () => prng.fill(Buffer.allocUnsafe(KEY)) as Buffer);

let rssPeak = 0;
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function dirBytes(dir: string): number {
  let sum = 0;
  for (const f of fs.readdirSync(dir)) sum += fs.statSync(path.join(dir, f)).size;
  return sum;
}

interface Result {
  fill: number;
  get: number;
  scan: number;
  syncput: number;
  /** Operations per CPU-second of the whole process (all threads): robust when the machine is shared. */
  cpu: Record<'fill' | 'get' | 'scan' | 'syncput', number>;
  bytes: number;
  rssPeakBytes: number;
  notes: string[];
}

let lastCpuRate = 0;

/** Runs `fn`; returns ops per wall-clock second and leaves ops per CPU-second in lastCpuRate. */
async function timed(ops: number, fn: () => Promise<void> | void): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lastCpuRate = ops / ((cpu.user + cpu.system) / 1e6);
  return ops / wall;
}

async function benchNextDb(dir: string): Promise<Result> {
  rssPeak = 0;
  const e: LsmEngine = await openLsmEngine({ dir, blockCacheBytes: CACHE_BYTES });
  const notes: string[] = [];
  const fill = await timed(N, async () => {
    const b = new WriteBatch();
    for (let i = 0; i < N; i += BATCH) {
      b.clear();
      for (let j = i; j < i + BATCH && j < N; j++) b.put(key(j), value(j));
      e.write(b);
      // One turn of the event loop per batch, as LevelDB's awaited batch gives (background flush slices run
      // here), and the engine's flow control, as LevelDB's write stall: wait while flushes or L0 lag behind.
      await yieldTurn();
      await e.whenWritable();
    }
  });
  const cpu: Result['cpu'] = { fill: lastCpuRate, get: 0, scan: 0, syncput: 0 };
  const t0 = performance.now();
  await e.compact();
  notes.push(`nextdb settle (flushes+compactions left after fill) ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  let found = 0;
  const get = await timed(GETS, () => {
    for (let i = 0; i < GETS; i++) if (e.get(key(getOrder[i]!)) !== undefined) found++;
  });
  cpu.get = lastCpuRate;
  if (found !== GETS) throw new Error(`nextdb found ${found} of ${GETS}`);
  let scanned = 0;
  const scan = await timed(SCANS, () => {
    for (let i = 0; i < SCANS; i++) {
      const it = e.iterator({ gte: key(scanStarts[i]!), limit: 100 });
      for (; it.valid(); it.next()) {
        it.key();
        it.value();
        scanned++;
      }
      it.close();
    }
  });
  cpu.scan = lastCpuRate;
  notes.push(`nextdb scanned ${scanned} entries`);
  const syncput = await timed(SYNC_PUTS, async () => {
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < SYNC_PUTS) {
        const i = next++;
        e.put(syncKeys[i]!, value(i));
        await e.sync();
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
  });
  cpu.syncput = lastCpuRate;
  const s = e.stats();
  notes.push(`nextdb tables=${s.tables} L0=${s.level0Tables} L1=${s.level1Tables} L2=${s.level2Tables} L3=${s.level3Tables} cache hits=${s.blockCacheHits} misses=${s.blockCacheMisses} fsync rounds=${s.walSyncRounds}`);
  await e.close();
  return { fill, get, scan, syncput, cpu, bytes: dirBytes(dir), rssPeakBytes: rssPeak, notes };
}

async function benchLevelDb(dir: string): Promise<Result> {
  rssPeak = 0;
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', cacheSize: CACHE_BYTES });
  await db.open();
  const fill = await timed(N, async () => {
    for (let i = 0; i < N; i += BATCH) {
      const ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
      for (let j = i; j < i + BATCH && j < N; j++) ops.push({ type: 'put', key: key(j), value: value(j) });
      await db.batch(ops);
    }
  });
  const cpu: Result['cpu'] = { fill: lastCpuRate, get: 0, scan: 0, syncput: 0 };
  let found = 0;
  const get = await timed(GETS, () => {
    for (let i = 0; i < GETS; i++) if (db.getSync(key(getOrder[i]!)) !== undefined) found++;
  });
  cpu.get = lastCpuRate;
  if (found !== GETS) throw new Error(`leveldb found ${found} of ${GETS}`);
  const scan = await timed(SCANS, async () => {
    for (let i = 0; i < SCANS; i++) await db.iterator({ gte: key(scanStarts[i]!), limit: 100 }).all();
  });
  cpu.scan = lastCpuRate;
  const syncput = await timed(SYNC_PUTS, async () => {
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < SYNC_PUTS) {
        const i = next++;
        await db.put(syncKeys[i]!, value(i), { sync: true });
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
  });
  cpu.syncput = lastCpuRate;
  await db.close();
  return { fill, get, scan, syncput, cpu, bytes: dirBytes(dir), rssPeakBytes: rssPeak, notes: [] };
}

const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nextdb-bench-storage-'));
try {
  const ndb = await benchNextDb(path.join(root, 'nextdb'));
  const ldb = await benchLevelDb(path.join(root, 'leveldb'));
  const fmt = (x: number): string => String(Math.round(x));
  for (const w of ['fill', 'get', 'scan', 'syncput'] as const) {
    console.log(`bench ${w} nextdb=${fmt(ndb[w])} leveldb=${fmt(ldb[w])} ratio=${(ndb[w] / ldb[w]).toFixed(2)}`);
  }
  console.log(`disk nextdb=${ndb.bytes} leveldb=${ldb.bytes} bytes`);
  console.log(`rss peak nextdb=${(ndb.rssPeakBytes / 2 ** 20).toFixed(0)} MiB leveldb=${(ldb.rssPeakBytes / 2 ** 20).toFixed(0)} MiB (one process: each engine's phase sampled separately)`);
  for (const w of ['fill', 'get', 'scan', 'syncput'] as const) {
    console.log(`note cpu ${w} nextdb=${fmt(ndb.cpu[w])} leveldb=${fmt(ldb.cpu[w])} ratio=${(ndb.cpu[w] / ldb.cpu[w]).toFixed(2)} (ops per CPU-second, all threads)`);
  }
  console.log(`note load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  for (const n of ndb.notes) console.log(`note ${n}`);
} finally {
  clearInterval(sampler);
  await fs.promises.rm(root, { recursive: true, force: true });
}

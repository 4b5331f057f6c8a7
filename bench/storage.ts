// Storage benchmark: NextDB's LSM engine against LevelDB (classic-level), in
// one process and one run, on the same keys and values.
//
//   fill     N random 16-byte keys with 100-byte values, in batches of 1000
//   get      N random point reads of written keys (LevelDB: synchronous getSync)
//   scan     S scans of 100 keys from random starting keys
//   syncput  P durable single puts from 16 concurrent writers
//            (LevelDB: put with sync: true; NextDB: put, then await sync())
//
// Both engines are open at once and each workload runs on both back to back
// (point reads and durable puts alternate in chunks), so both see the same machine.
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
import { KEY_BYTES, makeKvData } from './kv-data.lib.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 100_000 : 1_000_000;
const GETS = quick ? 100_000 : 1_000_000;
const SCANS = quick ? 2_000 : 10_000;
const SYNC_PUTS = quick ? 2_000 : 10_000;
const WRITERS = 16;
const BATCH = 1000;
const CACHE_BYTES = 64 << 20;
const KEY = KEY_BYTES;

const { prng, key, value } = makeKvData(N);
const getOrder = Uint32Array.from({ length: GETS }, () => prng.int(N));
const scanStarts = Uint32Array.from({ length: SCANS }, () => prng.int(N));
const syncKeys = Array.from({ length: SYNC_PUTS }, () => prng.fill(Buffer.allocUnsafe(KEY)) as Buffer);

type Engine = 'nextdb' | 'leveldb';
const WORKLOADS = ['fill', 'get', 'scan', 'syncput'] as const;
type Workload = (typeof WORKLOADS)[number];

// Peak RSS while each engine runs a workload (one process, so this is what the process held then).
const rssPeak: Record<Engine, number> = { nextdb: 0, leveldb: 0 };
let running: Engine | undefined;
const sampler = setInterval(() => {
  if (running !== undefined) rssPeak[running] = Math.max(rssPeak[running], process.memoryUsage().rss);
}, 50);
const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function dirBytes(dir: string): number {
  let sum = 0;
  for (const f of fs.readdirSync(dir)) sum += fs.statSync(path.join(dir, f)).size;
  return sum;
}

/** The four workloads on one engine; syncput in chunks [from, to) so the engines can alternate. */
interface Subject {
  fill(): Promise<void>;
  /** Background work left after the fill, run to completion outside the timings (NextDB: compact()). */
  settle(): Promise<void>;
  /** Point reads of the keys getOrder[from, to); returns how many were found. */
  get(from: number, to: number): number;
  scan(): Promise<number>;
  syncput(from: number, to: number): Promise<void>;
  close(): Promise<void>;
}

async function nextDbSubject(dir: string, notes: string[]): Promise<Subject> {
  const e: LsmEngine = await openLsmEngine({ dir, blockCacheBytes: CACHE_BYTES });
  return {
    async fill() {
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
    },
    settle: () => e.compact(),
    get(from, to) {
      let found = 0;
      for (let i = from; i < to; i++) if (e.get(key(getOrder[i]!)) !== undefined) found++;
      return found;
    },
    scan() {
      let scanned = 0;
      for (let i = 0; i < SCANS; i++) {
        const it = e.iterator({ gte: key(scanStarts[i]!), limit: 100 });
        for (; it.valid(); it.next()) {
          it.key();
          it.value();
          scanned++;
        }
        it.close();
      }
      return Promise.resolve(scanned);
    },
    async syncput(from, to) {
      let next = from;
      const writer = async (): Promise<void> => {
        while (next < to) {
          const i = next++;
          e.put(syncKeys[i]!, value(i));
          await e.sync();
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, writer));
    },
    async close() {
      const s = e.stats();
      notes.push(
        `nextdb tables=${s.tables} L0=${s.level0Tables} L1=${s.level1Tables} L2=${s.level2Tables} L3=${s.level3Tables} cache hits=${s.blockCacheHits} misses=${s.blockCacheMisses} fsync rounds=${s.walSyncRounds} compactions=${s.compactions} (worker ${s.workerCompactions})`,
      );
      await e.close();
    },
  };
}

/**
 * Resolves when LevelDB's background compaction has caught up: its compaction
 * picker's rule holds (L0 below its trigger of 4 files, each level Ln below
 * 10^n MiB) on the figures of `leveldb.stats` (sizes printed in whole MiB, so a
 * level just under its limit may print as equal: then 1.5 s without any change
 * of the stats, i.e. no compaction finishing, also counts as settled).
 */
async function levelDbSettled(db: ClassicLevel<Buffer, Buffer>): Promise<void> {
  let last = '';
  let since = performance.now();
  for (;;) {
    const stats = db.getProperty('leveldb.stats');
    let ok = true;
    for (const line of stats.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s/.exec(line);
      if (m === null) continue;
      const level = Number(m[1]);
      if (level === 0 ? Number(m[2]) >= 4 : Number(m[3]) >= 10 ** level) ok = false;
    }
    if (stats !== last) {
      last = stats;
      since = performance.now();
    } else if (performance.now() - since >= 1500 && Number(db.getProperty('leveldb.num-files-at-level0')) < 4) return;
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function levelDbSubject(dir: string): Promise<Subject> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    cacheSize: CACHE_BYTES,
  });
  await db.open();
  return {
    async fill() {
      for (let i = 0; i < N; i += BATCH) {
        const ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
        for (let j = i; j < i + BATCH && j < N; j++) ops.push({ type: 'put', key: key(j), value: value(j) });
        await db.batch(ops);
      }
    },
    // LevelDB compacts on its own background thread: wait until it has nothing left to do by LevelDB's own
    // rule (fewer than 4 L0 files, every level Ln under 10^n MiB), as NextDB's compact() runs its picker dry.
    settle: () => levelDbSettled(db),
    get(from, to) {
      let found = 0;
      for (let i = from; i < to; i++) if (db.getSync(key(getOrder[i]!)) !== undefined) found++;
      return found;
    },
    async scan() {
      let scanned = 0;
      for (let i = 0; i < SCANS; i++)
        scanned += (await db.iterator({ gte: key(scanStarts[i]!), limit: 100 }).all()).length;
      return scanned;
    },
    async syncput(from, to) {
      let next = from;
      const writer = async (): Promise<void> => {
        while (next < to) {
          const i = next++;
          await db.put(syncKeys[i]!, value(i), { sync: true });
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, writer));
    },
    close: () => db.close(),
  };
}

interface Measure {
  wallS: number;
  cpuS: number;
}

/** Wall-clock and whole-process CPU seconds (all threads, so background work counts) of `fn`. */
async function measure(engine: Engine, fn: () => Promise<unknown> | unknown): Promise<Measure> {
  running = engine;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  running = undefined;
  return { wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}

/** `ratio per <what> (<n> chunks): median m, quartiles a-b` of per-chunk ratios. */
function quartiles(ratios: number[], what: string): string {
  const sorted = [...ratios].sort((a, b) => a - b);
  const q = (x: number): string => sorted[Math.floor((sorted.length - 1) * x)]!.toFixed(2);
  return `ratio per ${what} (${sorted.length} chunks): median ${q(0.5)}, quartiles ${q(0.25)}-${q(0.75)}`;
}

const counts: Record<Workload, number> = { fill: N, get: GETS, scan: SCANS, syncput: SYNC_PUTS };
const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nextdb-bench-storage-'));
try {
  const notes: string[] = [];
  const dirs: Record<Engine, string> = { nextdb: path.join(root, 'nextdb'), leveldb: path.join(root, 'leveldb') };
  const subjects: Record<Engine, Subject> = {
    nextdb: await nextDbSubject(dirs.nextdb, notes),
    leveldb: await levelDbSubject(dirs.leveldb),
  };
  const zero = (): Measure => ({ wallS: 0, cpuS: 0 });
  const results: Record<Engine, Record<Workload, Measure>> = {
    nextdb: { fill: zero(), get: zero(), scan: zero(), syncput: zero() },
    leveldb: { fill: zero(), get: zero(), scan: zero(), syncput: zero() },
  };
  const engines: Engine[] = ['nextdb', 'leveldb'];
  // Each workload runs on both engines back to back, so both see the same machine (load, disk latency).
  // Each engine's compaction debt from its fill is paid right after it, outside the timings (NextDB's so that
  // it does not run during LevelDB's fill, LevelDB's so that its background thread does not run during the
  // reads), by the same rule for both: until the engine's own picker has nothing to do. Both are printed
  // (wall and CPU), and a note gives fill plus settle CPU per put.
  results.nextdb.fill = await measure('nextdb', () => subjects.nextdb.fill());
  const ndSettle = await measure('nextdb', () => subjects.nextdb.settle());
  notes.push(
    `nextdb settle (compactions left after the fill) ${ndSettle.wallS.toFixed(2)} s, CPU ${ndSettle.cpuS.toFixed(2)} s`,
  );
  results.leveldb.fill = await measure('leveldb', () => subjects.leveldb.fill());
  const ldSettle = await measure('leveldb', () => subjects.leveldb.settle());
  notes.push(
    `leveldb settle (compactions left after the fill) ${ldSettle.wallS.toFixed(2)} s, CPU ${ldSettle.cpuS.toFixed(2)} s`,
  );
  notes.push(
    `fill+settle CPU per put nextdb=${((1e6 * (results.nextdb.fill.cpuS + ndSettle.cpuS)) / N).toFixed(2)} us leveldb=${((1e6 * (results.leveldb.fill.cpuS + ldSettle.cpuS)) / N).toFixed(2)} us`,
  );
  engines.reverse();
  // Point reads alternate in chunks of GETS/10, each engine first in every other chunk, as durable puts do
  // below: run back to back, the two halves of ~5-20 s each saw different load on a shared machine, which
  // moved the wall-clock ratio by more than the engines differed. The bench line sums the chunks; a note
  // adds the quartiles of the per-chunk ratios.
  const getChunks = 10;
  const getRatios: number[] = [];
  const found: Record<Engine, number> = { nextdb: 0, leveldb: 0 };
  for (let c = 0; c < getChunks; c++) {
    const from = Math.floor((GETS * c) / getChunks);
    const to = Math.floor((GETS * (c + 1)) / getChunks);
    const wallS: Record<Engine, number> = { nextdb: 0, leveldb: 0 };
    for (const e of c % 2 === 0 ? engines : [...engines].reverse()) {
      const m = await measure(e, () => (found[e] += subjects[e].get(from, to)));
      results[e].get.wallS += m.wallS;
      results[e].get.cpuS += m.cpuS;
      wallS[e] = m.wallS;
    }
    getRatios.push(wallS.leveldb / wallS.nextdb);
  }
  for (const e of engines) if (found[e] !== GETS) throw new Error(`${e} found ${found[e]} of ${GETS} keys`);
  notes.push(`get ${quartiles(getRatios, `chunk of ${GETS / getChunks} gets`)}`);
  for (const e of engines) {
    let scanned = 0;
    results[e].scan = await measure(e, async () => (scanned = await subjects[e].scan()));
    notes.push(`${e} scanned ${scanned} entries`);
  }
  // Durable puts depend on the disk's fsync latency, which drifts within seconds on a shared machine (0.1 to
  // 25 ms here): alternate in chunks of 200 puts (12 waves of the 16 writers), each engine first in every
  // other chunk, so both see the same stretches of disk weather.
  // The bench line sums the chunks, so a stall of the disk in one chunk (up to ~0.4 s for 200 puts here)
  // weighs on whichever engine ran then; a note adds the quartiles of the per-chunk ratios.
  const chunks = SYNC_PUTS / 200;
  const chunkRatios: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const from = Math.floor((SYNC_PUTS * c) / chunks);
    const to = Math.floor((SYNC_PUTS * (c + 1)) / chunks);
    const wallS: Record<Engine, number> = { nextdb: 0, leveldb: 0 };
    for (const e of c % 2 === 0 ? engines : [...engines].reverse()) {
      const m = await measure(e, () => subjects[e].syncput(from, to));
      results[e].syncput.wallS += m.wallS;
      results[e].syncput.cpuS += m.cpuS;
      wallS[e] = m.wallS;
    }
    chunkRatios.push(wallS.leveldb / wallS.nextdb);
  }
  notes.push(`syncput ${quartiles(chunkRatios, 'chunk of 200 puts')}`);
  for (const e of engines) await subjects[e].close();
  const fmt = (x: number): string => String(Math.round(x));
  for (const w of WORKLOADS) {
    const nd = counts[w] / results.nextdb[w].wallS;
    const ld = counts[w] / results.leveldb[w].wallS;
    console.log(`bench ${w} nextdb=${fmt(nd)} leveldb=${fmt(ld)} ratio=${(nd / ld).toFixed(2)}`);
  }
  console.log(`disk nextdb=${dirBytes(dirs.nextdb)} leveldb=${dirBytes(dirs.leveldb)} bytes`);
  console.log(
    `rss peak nextdb=${(rssPeak.nextdb / 2 ** 20).toFixed(0)} MiB leveldb=${(rssPeak.leveldb / 2 ** 20).toFixed(0)} MiB (one process, both engines open: RSS while each ran)`,
  );
  for (const w of WORKLOADS) {
    const nd = counts[w] / results.nextdb[w].cpuS;
    const ld = counts[w] / results.leveldb[w].cpuS;
    console.log(
      `note cpu ${w} nextdb=${fmt(nd)} leveldb=${fmt(ld)} ratio=${(nd / ld).toFixed(2)} (ops per CPU-second, all threads)`,
    );
  }
  console.log(
    `note load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs`,
  );
  for (const n of notes) console.log(`note ${n}`);
} finally {
  clearInterval(sampler);
  await fs.promises.rm(root, { recursive: true, force: true });
}

// Transaction benchmark: the cost of MVCC over the raw storage engine, on
// the LSM engine (real files in a temp dir) and on the MemoryEngine.
//
//   txn-read    single-key read-only transactions: begin, get, commit
//               vs raw engine.get of the same key (best of 3 alternating
//               passes each)
//   txn-get     point reads inside one long transaction (no begin/commit)
//               vs raw engine.get
//   txn-scan    scans of 100 keys in a read-only transaction vs a raw scan
//   txn-write   single-key write transactions (durable: commit awaits sync)
//               from 16 concurrent clients vs raw put + await sync()
//
// Both sides read the same keys in the same (seeded) order; the raw side
// runs on a second engine holding the same keys un-versioned. Prints
// `bench <workload> nextdb=<ops/s> raw-engine=<ops/s> ratio=<nextdb/raw>`
// and write latencies. `--quick` uses smaller counts (under a minute).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../src/storage/engine.ts';
import { openLsmEngine } from '../src/storage/lsm/index.ts';
import { MemoryEngine } from '../src/storage/memory-engine.ts';
import { WriteBatch } from '../src/storage/write-batch.ts';
import { KEY_BYTES, makeKvData } from './kv-data.lib.ts';
import { openTxnManager, type MvccTxnManager } from '../src/txn/index.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 50_000 : 200_000;
const READS = quick ? 100_000 : 500_000;
const ROUNDS = 3;
const SCANS = quick ? 5_000 : 20_000;
const WRITES = quick ? 4_000 : 20_000;
const WRITERS = 16;
const KEY = KEY_BYTES;

const { prng, key, value } = makeKvData(N);
const readOrder = Uint32Array.from({ length: READS }, () => prng.int(N));
const scanStarts = Uint32Array.from({ length: SCANS }, () => prng.int(N));
const writeOrder = Uint32Array.from({ length: WRITES }, () => prng.int(N));

const fmt = (n: number): string => String(Math.round(n));
const rate = (ops: number, ms: number): number => (ops * 1000) / ms;

async function loadMvcc(mgr: MvccTxnManager): Promise<void> {
  for (let i = 0; i < N; i += 1000) {
    const t = mgr.begin();
    for (let j = i; j < Math.min(N, i + 1000); j++) await t.put(key(j), value(j));
    await t.commit();
  }
}

function loadRaw(e: Engine): void {
  for (let i = 0; i < N; i += 1000) {
    const b = new WriteBatch();
    for (let j = i; j < Math.min(N, i + 1000); j++) b.put(key(j), value(j));
    e.write(b);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function run(label: string, mvccEngine: Engine, rawEngine: Engine): Promise<void> {
  const mgr = await openTxnManager(mvccEngine);
  await loadMvcc(mgr);
  loadRaw(rawEngine);
  await Promise.all([mvccEngine.sync(), rawEngine.sync()]);
  await Promise.all([mvccEngine.flush(), rawEngine.flush()]);
  await Promise.all([mvccEngine.compact(), rawEngine.compact()]);

  // Warm both (block cache, JIT) with one pass over a slice.
  for (let i = 0; i < 20_000; i++) rawEngine.get(key(readOrder[i]!));
  {
    const t = mgr.begin({ readOnly: true });
    for (let i = 0; i < 20_000; i++) await t.get(key(readOrder[i]!));
    await t.commit();
  }

  // txn-read and txn-get: raw and MVCC passes alternate (best of ROUNDS each),
  // so machine noise and JIT warm-up hit both sides alike.
  const rawPass = (): number => {
    let found = 0;
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) if (rawEngine.get(key(readOrder[i]!)) !== undefined) found++;
    if (found !== READS) throw new Error(`raw engine lost keys: ${found}/${READS}`);
    return rate(READS, performance.now() - t0);
  };
  const txnReadPass = async (): Promise<number> => {
    let found = 0;
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) {
      const t = mgr.begin({ readOnly: true });
      if ((await t.get(key(readOrder[i]!))) !== undefined) found++;
      await t.commit();
    }
    if (found !== READS) throw new Error(`mvcc lost keys: ${found}/${READS}`);
    return rate(READS, performance.now() - t0);
  };
  const txnGetPass = async (): Promise<number> => {
    const t0 = performance.now();
    const t = mgr.begin({ readOnly: true });
    for (let i = 0; i < READS; i++) await t.get(key(readOrder[i]!));
    await t.commit();
    return rate(READS, performance.now() - t0);
  };
  let rawGet = 0;
  let txnRead = 0;
  let txnGet = 0;
  for (let r = 0; r < ROUNDS; r++) {
    rawGet = Math.max(rawGet, rawPass());
    txnRead = Math.max(txnRead, await txnReadPass());
    txnGet = Math.max(txnGet, await txnGetPass());
  }
  console.log(
    `bench txn-read-${label} nextdb=${fmt(txnRead)} raw-engine=${fmt(rawGet)} ratio=${(txnRead / rawGet).toFixed(2)}`,
  );
  console.log(
    `bench txn-get-${label} nextdb=${fmt(txnGet)} raw-engine=${fmt(rawGet)} ratio=${(txnGet / rawGet).toFixed(2)}`,
  );

  // txn-scan
  const end = Buffer.alloc(KEY, 0xff);
  let t0 = performance.now();
  let rows = 0;
  for (let i = 0; i < SCANS; i++) {
    const it = rawEngine.iterator({ gte: key(scanStarts[i]!), lt: end, limit: 100 });
    for (; it.valid(); it.next()) rows++;
    it.close();
  }
  const rawScan = rate(SCANS, performance.now() - t0);
  t0 = performance.now();
  let rows2 = 0;
  for (let i = 0; i < SCANS; i++) {
    const t = mgr.begin({ readOnly: true });
    rows2 += (await t.scan({ start: key(scanStarts[i]!), end, limit: 100 })).length;
    await t.commit();
  }
  const txnScan = rate(SCANS, performance.now() - t0);
  if (rows !== rows2) throw new Error(`scan row counts differ: raw ${rows}, mvcc ${rows2}`);
  console.log(
    `bench txn-scan-${label} nextdb=${fmt(txnScan)} raw-engine=${fmt(rawScan)} ratio=${(txnScan / rawScan).toFixed(2)}`,
  );

  // txn-write: WRITERS concurrent clients, each op durable before the next.
  const lat = new Float64Array(WRITES);
  const rawLat = new Float64Array(WRITES);
  let next = 0;
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let i = next++; i < WRITES; i = next++) {
        const s = performance.now();
        rawEngine.put(key(writeOrder[i]!), value(i + 1));
        await rawEngine.sync();
        rawLat[i] = performance.now() - s;
      }
    }),
  );
  const rawWrite = rate(WRITES, performance.now() - t0);
  next = 0;
  let retries = 0;
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let i = next++; i < WRITES; i = next++) {
        const s = performance.now();
        for (;;) {
          const t = mgr.begin();
          try {
            await t.put(key(writeOrder[i]!), value(i + 1));
            await t.commit();
            break;
          } catch (e) {
            // Two clients may pick the same key: the loser retries, as an application would.
            if (t.state === 'active') await t.rollback();
            if ((e as { code?: string }).code !== '40001' && (e as { code?: string }).code !== '40P01') throw e;
            retries++;
          }
        }
        lat[i] = performance.now() - s;
      }
    }),
  );
  const txnWrite = rate(WRITES, performance.now() - t0);
  console.log(
    `bench txn-write-${label} nextdb=${fmt(txnWrite)} raw-engine=${fmt(rawWrite)} ratio=${(txnWrite / rawWrite).toFixed(2)}`,
  );
  lat.sort();
  rawLat.sort();
  console.log(
    `latency txn-write-${label} p50=${percentile(lat, 0.5).toFixed(3)} p99=${percentile(lat, 0.99).toFixed(3)}`,
  );
  console.log(
    `latency raw-put-sync-${label} p50=${percentile(rawLat, 0.5).toFixed(3)} p99=${percentile(rawLat, 0.99).toFixed(3)}`,
  );
  if (retries > 0) console.log(`note txn-write-${label}: ${retries} retries after conflicts on randomly shared keys`);
  const gc = await mgr.gc();
  console.log(`note gc-${label}: removed ${gc.versionsRemoved} old versions after the write phase`);
  await mgr.close();
}

const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nextdb-bench-txn-'));
try {
  const mvccLsm = await openLsmEngine({ dir: path.join(root, 'mvcc') });
  const rawLsm = await openLsmEngine({ dir: path.join(root, 'raw') });
  await run('lsm', mvccLsm, rawLsm);
  await mvccLsm.close();
  await rawLsm.close();
  await run('memory', new MemoryEngine(), new MemoryEngine());
} finally {
  await fs.promises.rm(root, { recursive: true, force: true });
}

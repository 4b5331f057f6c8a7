// The SimVfs crash scenario, shared by crash-sim.test.ts (a few dozen seeds
// in npm test) and test/sim/storage-crash.sim.ts (long sweeps). One seed
// decides everything: operations, sync points, crash moments, torn writes.
import { openLsmEngine, type LsmEngine } from '../../src/storage/lsm/index.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { Prng } from '../../src/util/prng.ts';
import { applyOp, findPrefix, OpStream, readAll, type CrashOp } from './crash.lib.ts';
import { tinyLsm } from './engines.lib.ts';

export async function runSimCrashSeed(seed: number, rounds = 4): Promise<{ ops: number; crashes: number }> {
  const prng = new Prng(seed);
  const vfs = new SimVfs({ seed, tornWrites: true });
  const options = {
    ...tinyLsm,
    memtableBytes: 4096,
    tableBytes: 4096,
    blockBytes: 256,
    l1MaxBytes: 16 * 1024,
    manifestRotateBytes: 300,
    dir: '/db',
    vfs,
  };
  // Slow fsyncs: some syncs take a few more turns, so WAL rounds (and manifest, table syncs) finish out of
  // order, as concurrent fdatasyncs do on a real disk. Own PRNG, so the operation stream of a seed is unchanged.
  const latency = new Prng(seed ^ 0x51ee9);
  vfs.syncGate = () => {
    if (!latency.chance(0.3)) return undefined;
    let turns = 1 + latency.int(6);
    return new Promise<void>((resolve) => {
      const tick = (): void => {
        if (--turns <= 0) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
  };
  let engine: LsmEngine = await openLsmEngine(options);
  let baseline = new Map<string, string>();
  let total = 0;
  for (let round = 0; round < rounds; round++) {
    const stream = new OpStream(prng.nextU32(), `s${seed}r${round}`);
    const ops: CrashOp[] = [];
    let acked = 0;
    const n = prng.range(20, 400);
    const e = engine;
    for (let i = 0; i < n; i++) {
      const op = stream.next();
      ops.push(op);
      applyOp(e, op);
      if (prng.chance(0.1)) {
        const upTo = ops.length;
        e.sync().then(
          () => (acked = Math.max(acked, upTo)),
          () => undefined,
        );
      }
      // Let fsyncs, flushes and compaction slices run between writes, so the crash lands in the middle of them.
      if (prng.chance(0.2)) await new Promise((r) => setImmediate(r));
      if (prng.chance(0.01)) await e.flush();
    }
    for (let i = prng.int(4); i > 0; i--) await new Promise((r) => setImmediate(r));
    vfs.crash();
    e.abandon();
    total += ops.length;
    engine = await openLsmEngine(options);
    const recovered = readAll(engine);
    try {
      findPrefix(baseline, ops, acked, recovered);
    } catch (err) {
      throw new Error(`seed ${seed} round ${round}: ${(err as Error).message}`);
    }
    baseline = recovered;
  }
  await engine.close();
  return { ops: total, crashes: rounds };
}

/**
 * SimDisk: a crashable disk for whole-node simulations, holding one node's
 * local Engine across crashes and restarts.
 *
 * The engine it opens (SimDiskEngine) is a MemoryEngine that also logs every
 * write batch made since the last completed fsync. `sync()` asks the
 * simulator for an fsync (`requestFsync`), which completes later in
 * simulated time; then everything written so far is durable. A crash keeps
 * the durable image plus a random *prefix* of the batches written after it
 * (engines make writes durable in order, and a batch is atomic) and kills
 * the engine object, so code of the crashed incarnation that is still
 * running fails instead of touching the next one.
 *
 * LsmSimDisk (below) runs the real LSM engine over SimVfs instead.
 */

import { openLsmEngine, type LsmEngine } from '../../src/storage/lsm/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import type { Engine, EngineIterator, EngineStats, ScanOptions, Snapshot } from '../../src/storage/engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import type { Prng } from '../../src/util/prng.ts';

export class SimDisk {
  /** Durable image: a copy-on-write snapshot of the engine at the last completed fsync. */
  private durable: Snapshot | undefined;
  current: SimDiskEngine | undefined;
  bytesLostAtCrash = 0;

  constructor(private readonly requestFsync: (complete: () => void) => void) {}

  open(): SimDiskEngine {
    const inner = this.image();
    this.current = new SimDiskEngine(inner, this.requestFsync, (snap) => {
      this.durable?.release();
      this.durable = snap;
    });
    return this.current;
  }

  private image(): MemoryEngine {
    const inner = new MemoryEngine();
    if (this.durable !== undefined) {
      const b = new WriteBatch();
      for (const [k, v] of this.durable.scan()) b.put(k, v);
      inner.write(b);
    }
    return inner;
  }

  /** Loses unsynced writes except a random prefix of them; the open engine dies. */
  crash(prng: Prng): void {
    const e = this.current;
    if (e === undefined) return;
    this.current = undefined;
    const inner = this.image();
    const keep = prng.int(e.unsynced.length + 1);
    for (let i = 0; i < keep; i++) inner.write(e.unsynced[i]!);
    for (let i = keep; i < e.unsynced.length; i++) this.bytesLostAtCrash += e.unsynced[i]!.byteSize;
    this.durable?.release();
    this.durable = inner.snapshot();
    e.die();
  }
}

export class SimDiskEngine implements Engine {
  unsynced: WriteBatch[] = [];
  private dead = false;
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private fsyncRequested = false;

  constructor(
    private readonly inner: MemoryEngine,
    private readonly requestFsync: (complete: () => void) => void,
    private readonly persist: (image: Snapshot) => void,
  ) {}

  die(): void {
    this.dead = true;
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.reject(new Error('simulated disk crashed'));
  }

  private check(): void {
    if (this.dead) throw new Error('simulated disk crashed');
  }

  get(key: Uint8Array): Buffer | undefined {
    this.check();
    return this.inner.get(key);
  }
  iterator(options?: ScanOptions): EngineIterator {
    this.check();
    return this.inner.iterator(options);
  }
  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    this.check();
    return this.inner.scan(options);
  }
  put(key: Uint8Array, value: Uint8Array): void {
    this.write(new WriteBatch().put(key, value));
  }
  delete(key: Uint8Array): void {
    this.write(new WriteBatch().delete(key));
  }
  write(batch: WriteBatch): void {
    this.check();
    this.inner.write(batch);
    const copy = new WriteBatch();
    for (const op of batch.ops) {
      if (op.kind === 1) copy.put(op.key, op.value);
      else copy.delete(op.key);
    }
    this.unsynced.push(copy);
  }
  sync(): Promise<void> {
    this.check();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (this.fsyncRequested) return;
      this.fsyncRequested = true;
      this.requestFsync(() => this.completeFsync());
    });
  }
  private completeFsync(): void {
    this.fsyncRequested = false;
    if (this.dead) return;
    // Everything written up to now becomes durable (a superset of what the waiters asked for).
    this.persist(this.inner.snapshot());
    this.unsynced = [];
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.resolve();
  }
  snapshot(): Snapshot {
    this.check();
    return this.inner.snapshot();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  compact(): Promise<void> {
    return Promise.resolve();
  }
  stats(): EngineStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * LsmSimDisk: the real LSM engine over a crash-simulating SimVfs (torn
 * unsynced writes), for seeds that exercise the production storage path.
 * Background work is off (determinism: no time-sliced jobs); the simulator
 * flushes memtables to SSTables now and then through `flush()`.
 */
export class LsmSimDisk {
  readonly vfs: SimVfs;
  current: LsmEngine | undefined;

  constructor(seed: number) {
    this.vfs = new SimVfs({ seed, tornWrites: true });
  }

  async open(): Promise<Engine> {
    const e = await openLsmEngine({
      dir: '/node',
      vfs: this.vfs,
      backgroundWork: false,
      compactionWorker: false,
      memtableBytes: 64 << 10,
    });
    this.current = e;
    return e;
  }

  crash(): void {
    this.current = undefined;
    this.vfs.crash();
  }
}

// Engine factories shared by the storage tests: every test that runs "on
// both engines" takes its engines from here, so a new configuration is
// tested everywhere at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from '../../src/storage/engine.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { openLsmEngine, type LsmOptions } from '../../src/storage/lsm/index.ts';
import { SimVfs, type SimVfsOptions } from '../../src/storage/sim-vfs.ts';

/** An engine under test plus how to close and reopen it (durable engines keep their data). */
export interface EngineHarness {
  readonly name: string;
  engine: Engine;
  reopen(): Promise<void>;
  dispose(): Promise<void>;
}

export function memoryHarness(): EngineHarness {
  const h: EngineHarness = {
    name: 'memory',
    engine: new MemoryEngine(),
    // The memory engine is not durable: "reopen" keeps the same instance.
    reopen: () => Promise.resolve(),
    dispose: () => h.engine.close(),
  };
  return h;
}

/** Small sizes so a few thousand keys already mean many tables, levels and compactions. */
export const tinyLsm: Omit<LsmOptions, 'dir'> = {
  memtableBytes: 16 * 1024,
  tableBytes: 8 * 1024,
  blockBytes: 512,
  l0CompactionTrigger: 3,
  l1MaxBytes: 32 * 1024,
  levelMultiplier: 4,
  blockCacheBytes: 64 * 1024,
};

export async function simLsmHarness(
  options: Omit<LsmOptions, 'dir'> = tinyLsm,
  seed = 1,
  vfsOptions: Omit<SimVfsOptions, 'seed'> = {},
): Promise<EngineHarness & { vfs: SimVfs }> {
  const vfs = new SimVfs({ ...vfsOptions, seed });
  const open = (): Promise<Engine> => openLsmEngine({ ...options, dir: '/db', vfs });
  const h = {
    name: 'lsm-sim',
    vfs,
    engine: await open(),
    async reopen(): Promise<void> {
      await h.engine.close();
      h.engine = await open();
    },
    dispose: (): Promise<void> => h.engine.close(),
  };
  return h;
}

export async function tmpDir(prefix = 'nextdb-storage-'): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function nodeLsmHarness(
  options: Omit<LsmOptions, 'dir'> = tinyLsm,
): Promise<EngineHarness & { dir: string }> {
  const dir = await tmpDir();
  const open = (): Promise<Engine> => openLsmEngine({ ...options, dir });
  const h = {
    name: 'lsm-fs',
    dir,
    engine: await open(),
    async reopen(): Promise<void> {
      await h.engine.close();
      h.engine = await open();
    },
    async dispose(): Promise<void> {
      await h.engine.close();
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

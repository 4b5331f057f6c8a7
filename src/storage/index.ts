export type { Engine, EngineIterator, EngineStats, Reader, ScanBounds, ScanOptions, Snapshot } from './engine.ts';
export { scanIterator } from './engine.ts';
export { MemoryEngine } from './memory-engine.ts';
export { WriteBatch, OpKind, type BatchOp } from './write-batch.ts';
export type { Vfs, VfsFile, VfsLock } from './vfs.ts';
export { vfsJoin } from './vfs.ts';
export { NodeVfs } from './node-vfs.ts';
export { SimVfs, type SimVfsOptions, type SimOp } from './sim-vfs.ts';
export { openLsmEngine, LsmEngine, type LsmOptions } from './lsm/index.ts';

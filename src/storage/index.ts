export type { Engine, EngineIterator, EngineStats, Reader, ScanBounds, ScanOptions, Snapshot } from './engine.ts';
export { scanIterator } from './engine.ts';
export { MemoryEngine } from './memory-engine.ts';
export { WriteBatch, OpKind, type BatchOp } from './write-batch.ts';

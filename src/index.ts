/**
 * NextDB's public, embedded API. A curated export list: only what users of
 * the package are meant to rely on.
 */
export type { Engine, EngineIterator, ScanOptions, Snapshot } from './storage/index.ts';
export { MemoryEngine, WriteBatch } from './storage/index.ts';
export { NextDbError, SqlState } from './util/errors.ts';

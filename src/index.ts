/**
 * NextDB's public, embedded API. A curated export list: only what users of
 * the package are meant to rely on.
 */
export type { Engine, EngineIterator, ScanOptions, Snapshot } from './storage/index.ts';
export { MemoryEngine, WriteBatch } from './storage/index.ts';
export { NextDbError, SqlState } from './util/errors.ts';
export {
  open,
  Database,
  PreparedQuery,
  type OpenOptions,
  type QueryResult,
  type Queryable,
  type FieldInfo,
} from './sql/embedded.ts';
export { SqlEngine } from './sql/index.ts';

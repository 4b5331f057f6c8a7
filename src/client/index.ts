/**
 * `nextdb/client`: the client library. A curated export list.
 */
export { createClient, NextDbClient } from './client.ts';
export type {
  ClientOptions,
  PoolOptions,
  QueryOptions,
  QueryResult,
  Field,
  Row,
  Param,
  Transaction,
  TransactionOptions,
  IsolationLevel,
  HostStatus,
} from './client.ts';
export type { RetryOptions } from './retry.ts';
export { POOL_EXHAUSTED } from './pool-gate.ts';
export { NextDbError } from '../util/errors.ts';

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
  DiscoveryOptions,
} from './client.ts';
export type { RetryOptions } from './retry.ts';
export type { ClusterView, ClusterMember } from './discovery.ts';
export { POOL_EXHAUSTED } from './pool-gate.ts';
export { NextDbError } from '../util/errors.ts';

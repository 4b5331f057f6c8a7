/**
 * The replicated KV layer: one Raft group replicating the whole keyspace,
 * the Engine contract on top of it, and the node that ties Raft, storage and
 * MVCC together. Design: docs/internals/cluster.md.
 */

export { ClusterNode, COMPACT_AFTER_ENTRIES, type ClusterNodeOptions, type ClusterNodeStatus } from './cluster-node.ts';
export { ClusterTxn } from './cluster-txn.ts';
export { ClusterTxnManager } from './cluster-txn-manager.ts';
export { LeaderTermEngine } from './leader-term-engine.ts';
export { EngineLogStore, SNAPSHOT_CHUNK_BYTES } from './engine-log-store.ts';
export { REPLICATED_END, isReplicatedKey } from './replica-keys.ts';
export {
  ReplicatedEngine,
  PROPOSAL_BYTES_MAX,
  STATEMENT_COMPLETION_UNKNOWN,
  commitOutcomeUnknown,
  leadershipChanged,
  type Proposer,
  type ReplicatedEngineOptions,
} from './replicated-engine.ts';

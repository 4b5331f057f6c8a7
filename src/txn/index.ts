/**
 * MVCC transactions over any storage Engine. Curated export list; the
 * contract is in api.ts, the design in docs/internals/transactions.md.
 */

import type { Engine } from '../storage/engine.ts';
import { MvccTxnManager, type TxnManagerOptions } from './txn-manager.ts';

export type { IsolationLevel, KeyValue, Txn, TxnManager, TxnOptions, TxnScanOptions, TxnState } from './api.ts';
export { MvccTxnManager, type GcStats, type TxnManagerOptions } from './txn-manager.ts';
export { MvccTxn } from './transaction.ts';
export { Hlc, formatTimestamp, type Timestamp } from './hlc.ts';
export { isStatementRetry, StatementRetryError } from './conflict-errors.ts';
export { txnCounters, type TxnCounters } from './txn-metrics.ts';

/**
 * Opens a transaction manager over `engine` (which it then owns: the MVCC
 * layer uses the whole keyspace). Recovers transactions a crash left
 * committed-but-unresolved before resolving.
 */
export function openTxnManager(engine: Engine, options?: TxnManagerOptions): Promise<MvccTxnManager> {
  return MvccTxnManager.open(engine, options);
}

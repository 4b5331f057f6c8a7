/**
 * The transaction record: the single place whose flip commits a transaction.
 *
 *   u8  status     1 = committed (no other status is ever written)
 *   u64 commit ts
 *   u32 intent count, then per intent: u32 length, user key
 *
 * Only committed records are written. A transaction that never wrote its
 * record is, after its process is gone, aborted by definition: an intent
 * whose owner is neither live in memory nor has a committed record is
 * garbage. The record lists the keys of its intents so that recovery (and,
 * later, another Raft group's resolver) can resolve them without scanning;
 * it is deleted in the same atomic batch that resolves the last intent.
 *
 * Extending to several Raft groups: the record lives in the group of the
 * transaction's first key, intents in their own groups; "committed" is still
 * this one flip, and a pending record with a heartbeat would be added so
 * other nodes can tell a slow coordinator from a dead one.
 */

import { CorruptionError } from '../util/errors.ts';
import type { Timestamp } from './hlc.ts';
import { readU64, writeU64 } from './keys.ts';

export const TxnStatusByte = { committed: 1 } as const;

export interface TxnRecord {
  readonly commitTs: Timestamp;
  readonly keys: readonly Buffer[];
}

/**
 * Encodes a committed record of `keys`, each without its first `skip` bytes
 * (1 for head keys: the record lists user keys; no view per key is made).
 */
export function encodeTxnRecord(commitTs: Timestamp, keys: readonly Uint8Array[], skip = 0): Buffer {
  let size = 1 + 8 + 4;
  for (const k of keys) size += 4 + k.length - skip;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = TxnStatusByte.committed;
  writeU64(buf, 1, commitTs);
  buf.writeUInt32BE(keys.length, 9);
  let o = 13;
  for (const k of keys) {
    const len = k.length - skip;
    buf.writeUInt32BE(len, o);
    o += 4;
    if (skip === 0) buf.set(k, o);
    else for (let i = 0; i < len; i++) buf[o + i] = k[skip + i]!;
    o += len;
  }
  return buf;
}

export function decodeTxnRecord(buf: Buffer): TxnRecord {
  if (buf.length < 13 || buf[0] !== TxnStatusByte.committed)
    throw new CorruptionError('mvcc txn record', 'bad record header');
  const commitTs = readU64(buf, 1);
  const n = buf.readUInt32BE(9);
  const keys: Buffer[] = [];
  let o = 13;
  for (let i = 0; i < n; i++) {
    if (o + 4 > buf.length) throw new CorruptionError('mvcc txn record', 'record truncated');
    const len = buf.readUInt32BE(o);
    if (o + 4 + len > buf.length) throw new CorruptionError('mvcc txn record', 'record truncated');
    keys.push(Buffer.from(buf.subarray(o + 4, o + 4 + len)));
    o += 4 + len;
  }
  return { commitTs, keys };
}

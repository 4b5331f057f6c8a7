/**
 * The head record of a user key: its newest committed version and, when a
 * transaction holds the key, that transaction's provisional intent.
 *
 *   u8   flags          1 = has committed version, 2 = committed is a value
 *                       (not a tombstone), 4 = has intent
 *   [committed]  u64 commit ts, u64 writer txn id
 *   [intent]     u64 txn id, u8 kind (0 delete, 1 put, 2 lock),
 *                [put: u32 length, value]
 *   [committed value]   to the end of the record (no length needed)
 *
 * An intent is both the write lock on the key and the transaction's
 * provisional value. It names its transaction by id; whether it counts is
 * decided by that transaction's state (in memory while the owner is live,
 * else the transaction record, else "aborted"). Intents never carry a
 * timestamp: a single-node transaction's commit timestamp is chosen at
 * commit, and resolution rewrites the head with it.
 *
 * Value buffers returned by `decodeHead` are views into the engine's buffer:
 * callers must not mutate them.
 */

import { assert } from '../util/assert.ts';
import { CorruptionError } from '../util/errors.ts';
import type { Timestamp } from './hlc.ts';
import { readU64, writeU64 } from './keys.ts';

export const IntentKind = { delete: 0, put: 1, lock: 2 } as const;
export type IntentKind = (typeof IntentKind)[keyof typeof IntentKind];

const F_COMMITTED = 1;
const F_VALUE = 2;
const F_INTENT = 4;

export interface Head {
  /** 0 when the key has no committed version. */
  readonly committedTs: Timestamp;
  readonly committedTxn: number;
  /** undefined: no committed version, or a tombstone. */
  readonly committedValue: Buffer | undefined;
  /** 0 when no intent. */
  readonly intentTxn: number;
  readonly intentKind: IntentKind;
  readonly intentValue: Buffer | undefined;
}

export function decodeHead(buf: Buffer): Head {
  const flags = buf[0];
  if (flags === undefined || flags > 7) throw new CorruptionError('mvcc head', `bad head flags ${String(flags)}`);
  let o = 1;
  let committedTs = 0;
  let committedTxn = 0;
  if (flags & F_COMMITTED) {
    committedTs = readU64(buf, o);
    committedTxn = readU64(buf, o + 8);
    o += 16;
  }
  let intentTxn = 0;
  let intentKind: IntentKind = IntentKind.lock;
  let intentValue: Buffer | undefined;
  if (flags & F_INTENT) {
    intentTxn = readU64(buf, o);
    const kind = buf[o + 8];
    o += 9;
    if (kind === IntentKind.put) {
      const len = buf.readUInt32BE(o);
      o += 4;
      intentValue = buf.subarray(o, o + len);
      o += len;
      intentKind = IntentKind.put;
    } else if (kind === IntentKind.delete || kind === IntentKind.lock) {
      intentKind = kind;
    } else {
      throw new CorruptionError('mvcc head', `bad intent kind ${String(kind)}`);
    }
  }
  if (o > buf.length) throw new CorruptionError('mvcc head', 'head record truncated');
  const committedValue = flags & F_VALUE ? buf.subarray(o) : undefined;
  return { committedTs, committedTxn, committedValue, intentTxn, intentKind, intentValue };
}

export interface HeadParts {
  readonly committedTs: Timestamp;
  readonly committedTxn: number;
  readonly committedValue: Uint8Array | undefined;
  readonly intentTxn: number;
  readonly intentKind: IntentKind;
  readonly intentValue: Uint8Array | undefined;
}

/** Encodes a head; returns undefined when there is nothing to keep (no version, no intent). */
export function encodeHead(h: HeadParts): Buffer | undefined {
  const hasCommitted = h.committedTs !== 0;
  const hasIntent = h.intentTxn !== 0;
  if (!hasCommitted && !hasIntent) return undefined;
  assert(hasCommitted || h.committedValue === undefined, 'committed value without a commit timestamp');
  const value = hasCommitted ? h.committedValue : undefined;
  const intentValueLen = hasIntent && h.intentKind === IntentKind.put ? 4 + (h.intentValue?.length ?? 0) : 0;
  const size = 1 + (hasCommitted ? 16 : 0) + (hasIntent ? 9 + intentValueLen : 0) + (value?.length ?? 0);
  const buf = Buffer.allocUnsafe(size);
  buf[0] = (hasCommitted ? F_COMMITTED : 0) | (value !== undefined ? F_VALUE : 0) | (hasIntent ? F_INTENT : 0);
  let o = 1;
  if (hasCommitted) {
    writeU64(buf, o, h.committedTs);
    writeU64(buf, o + 8, h.committedTxn);
    o += 16;
  }
  if (hasIntent) {
    writeU64(buf, o, h.intentTxn);
    buf[o + 8] = h.intentKind;
    o += 9;
    if (h.intentKind === IntentKind.put) {
      const v = h.intentValue ?? Buffer.alloc(0);
      buf.writeUInt32BE(v.length, o);
      o += 4;
      buf.set(v, o);
      o += v.length;
    }
  }
  if (value !== undefined) buf.set(value, o);
  return buf;
}

/** History value: u8 (1 value, 0 tombstone), u64 writer txn id, value bytes. */
export function encodeHistoryValue(writerTxn: number, value: Uint8Array | undefined): Buffer {
  const buf = Buffer.allocUnsafe(9 + (value?.length ?? 0));
  buf[0] = value === undefined ? 0 : 1;
  writeU64(buf, 1, writerTxn);
  if (value !== undefined) buf.set(value, 9);
  return buf;
}

export function decodeHistoryValue(buf: Buffer): { writerTxn: number; value: Buffer | undefined } {
  const tag = buf[0];
  if ((tag !== 0 && tag !== 1) || buf.length < 9) throw new CorruptionError('mvcc history', 'bad history value');
  return { writerTxn: readU64(buf, 1), value: tag === 1 ? buf.subarray(9) : undefined };
}

/** Returned by `visibleWithoutIntent` when the head needs the full decode. */
export const NEEDS_DECODE: unique symbol = Symbol('needs decode');

/**
 * The read fast path: when the head carries no intent and its committed
 * version is at or below `ts` (and below `undurableFrom`: a newer version
 * may still await its commit's sync, see MvccTxnManager.undurableFrom),
 * returns that version's value (undefined for a tombstone) without decoding
 * the whole head; otherwise NEEDS_DECODE.
 */
export function visibleWithoutIntent(
  buf: Buffer,
  ts: Timestamp,
  undurableFrom: Timestamp,
): Buffer | undefined | typeof NEEDS_DECODE {
  const flags = buf[0]!;
  if (flags & F_INTENT || !(flags & F_COMMITTED)) return NEEDS_DECODE;
  const committedTs = readU64(buf, 1);
  if (committedTs > ts || committedTs >= undurableFrom) return NEEDS_DECODE;
  return flags & F_VALUE ? buf.subarray(17) : undefined;
}

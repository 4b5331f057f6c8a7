/**
 * The MVCC layer's keyspace inside one Engine.
 *
 *   0x00 'boot'                         boot epoch (u32), bumped at every open
 *   0x00 'hlc'                          persisted HLC ceiling (timestamp)
 *   0x01 <txnId u64>                    transaction record (see txn-record.ts)
 *   0x02 <user key>                     head: latest committed version + intent
 *   0x03 <bytes(user key)> <ts desc>   history: an older committed version
 *
 * Why heads and history are separate spaces: the head holds the newest
 * committed version of a key (and the provisional intent, if any), so a read
 * at a recent snapshot is one engine `get` and a scan of user keys walks only
 * heads, never skipping over old versions. History holds every superseded
 * version, keyed with the order-preserving key codec (src/encoding): the
 * user key as a byte string (escaped, 00 -> 00 ff, and terminated by 00 01,
 * so history sorts by user key first) and then the commit timestamp as a
 * descending integer, so versions of one user key are contiguous and newest
 * first, and a seek to `0x03 <bytes(key)> <snapshotTs desc>` lands on the
 * newest version at or below the snapshot.
 *
 * The transaction manager owns the whole engine keyspace; other subsystems
 * use their own engine (or, later, a prefix given to the manager).
 */

import { KeyReader, KeyWriter, prefixSuccessor } from '../encoding/key-codec.ts';
import { assert } from '../util/assert.ts';
import { CorruptionError } from '../util/errors.ts';
import type { Timestamp } from './hlc.ts';

export const SPACE_META = 0x00;
export const SPACE_RECORD = 0x01;
export const SPACE_HEAD = 0x02;
export const SPACE_HISTORY = 0x03;

const TWO_32 = 0x1_0000_0000;

export const BOOT_KEY = Buffer.from([SPACE_META, ...Buffer.from('boot')]);
export const HLC_CEILING_KEY = Buffer.from([SPACE_META, ...Buffer.from('hlc')]);

/** Writes a non-negative safe integer as 8 bytes big-endian. */
export function writeU64(buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n % TWO_32, offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

export function u64Bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, 0, n);
  return b;
}

export function headKey(userKey: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(userKey.length + 1);
  k[0] = SPACE_HEAD;
  k.set(userKey, 1);
  return k;
}

/** The user key of a head key (a view, not a copy). */
export function userKeyOfHead(head: Buffer): Buffer {
  return head.subarray(1);
}

export function recordKey(txnId: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = SPACE_RECORD;
  writeU64(k, 1, txnId);
  return k;
}

export const RECORD_SPACE_START = Buffer.from([SPACE_RECORD]);
export const RECORD_SPACE_END = Buffer.from([SPACE_RECORD + 1]);
export const HEAD_SPACE_START = Buffer.from([SPACE_HEAD]);
export const HEAD_SPACE_END = Buffer.from([SPACE_HEAD + 1]);
export const HISTORY_SPACE_START = Buffer.from([SPACE_HISTORY]);
export const HISTORY_SPACE_END = Buffer.from([SPACE_HISTORY + 1]);

// One writer reused for every history key: building a key allocates only
// the result (all callers are synchronous, so it is never shared).
const writer = new KeyWriter();

/** `0x03 <bytes(userKey)>`: the prefix shared by all history versions of the key. */
function historyPrefix(userKey: Uint8Array): KeyWriter {
  return writer.reset().raw(HISTORY_SPACE_START).bytes(userKey);
}

export function historyKey(userKey: Uint8Array, ts: Timestamp): Buffer {
  return historyPrefix(userKey).int(ts, true).finish();
}

/** Bounds [gte, lt) of every history version of `userKey`. */
export function historyRange(userKey: Uint8Array): { gte: Buffer; lt: Buffer } {
  const gte = historyPrefix(userKey).finish();
  const lt = prefixSuccessor(gte);
  assert(lt !== undefined, 'history prefix has no successor');
  return { gte, lt };
}

/** Splits a history key into its user key and timestamp. */
export function decodeHistoryKey(key: Buffer): { userKey: Buffer; ts: Timestamp } {
  const r = new KeyReader(key, 1);
  const userKey = r.bytes();
  const ts = Number(r.int(true));
  if (!r.done() || !Number.isSafeInteger(ts) || ts < 0)
    throw new CorruptionError('mvcc history', `bad history key ${key.toString('hex')}`);
  return { userKey, ts };
}

/** Printable form of a user key for error messages: text when printable, else hex. */
export function formatKey(key: Uint8Array): string {
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  for (const c of b) if (c < 0x20 || c > 0x7e) return `x'${b.toString('hex')}'`;
  return JSON.stringify(b.toString('latin1'));
}

/** Transaction id as people see it: `<boot epoch>.<sequence>`. */
export function formatTxnId(id: number): string {
  return `${Math.floor(id / TWO_32)}.${id % TWO_32}`;
}

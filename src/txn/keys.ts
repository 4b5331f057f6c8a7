/**
 * The MVCC layer's keyspace inside one Engine.
 *
 *   0x00 'boot'                         boot epoch (u32), bumped at every open
 *   0x00 'hlc'                          persisted HLC ceiling (timestamp)
 *   0x01 <txnId u64>                    transaction record (see txn-record.ts)
 *   0x02 <user key>                     head: latest committed version + intent
 *   0x03 <esc(user key)> 00 01 <~ts>    history: an older committed version
 *
 * Why heads and history are separate spaces: the head holds the newest
 * committed version of a key (and the provisional intent, if any), so a read
 * at a recent snapshot is one engine `get` and a scan of user keys walks only
 * heads, never skipping over old versions. History holds every superseded
 * version, keyed so that versions of one user key are contiguous and newest
 * first: the user key is escaped (00 -> 00 ff) and ended by 00 01, which sorts
 * below any continuation byte of a longer key, so history order is user key
 * order; the timestamp is stored inverted (MAX - ts, big-endian) so that a
 * seek to `<esc(key)> 00 01 <~snapshotTs>` lands on the newest version at or
 * below the snapshot.
 *
 * The transaction manager owns the whole engine keyspace; other subsystems
 * use their own engine (or, later, a prefix given to the manager).
 */

import { MAX_TIMESTAMP, type Timestamp } from './hlc.ts';

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

/**
 * `0x03 <esc(userKey)> 00 01` followed by `extra` spare bytes: the prefix
 * shared by all history versions of the key.
 */
function historyPrefix(userKey: Uint8Array, extra: number): { buf: Buffer; len: number } {
  let zeros = 0;
  for (let i = 0; i < userKey.length; i++) if (userKey[i] === 0) zeros++;
  const len = 1 + userKey.length + zeros + 2;
  const buf = Buffer.allocUnsafe(len + extra);
  buf[0] = SPACE_HISTORY;
  let o = 1;
  if (zeros === 0) {
    buf.set(userKey, 1);
    o += userKey.length;
  } else {
    for (let i = 0; i < userKey.length; i++) {
      const c = userKey[i]!;
      buf[o++] = c;
      if (c === 0) buf[o++] = 0xff;
    }
  }
  buf[o++] = 0x00;
  buf[o++] = 0x01;
  return { buf, len };
}

export function historyKey(userKey: Uint8Array, ts: Timestamp): Buffer {
  const { buf, len } = historyPrefix(userKey, 8);
  writeU64(buf, len, MAX_TIMESTAMP - ts);
  return buf;
}

/** Bounds [gte, lt) of every history version of `userKey`. */
export function historyRange(userKey: Uint8Array): { gte: Buffer; lt: Buffer } {
  const { buf, len } = historyPrefix(userKey, 0);
  const lt = Buffer.from(buf);
  lt[len - 1] = 0x02;
  return { gte: buf, lt };
}

/** Splits a history key into its user key and timestamp. */
export function decodeHistoryKey(key: Buffer): { userKey: Buffer; ts: Timestamp } {
  const end = key.length - 8;
  const out = Buffer.allocUnsafe(end);
  let o = 0;
  let i = 1;
  for (; i < end - 2; i++) {
    const c = key[i]!;
    out[o++] = c;
    if (c === 0) i++; // skip the 0xff escape
  }
  return { userKey: out.subarray(0, o), ts: MAX_TIMESTAMP - readU64(key, end) };
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

/**
 * The replica-local keyspace inside a node's local Engine.
 *
 * One local Engine per node holds both the replicated state (the applied
 * state machine: every key whose first byte is below 0xff) and the state that
 * belongs to this replica alone, under the 0xff prefix:
 *
 *   ff 'r' <group u32> 'h'                 Raft hard state (term, vote, commit)
 *   ff 'r' <group u32> 'e' <index u64>     Raft log entry
 *   ff 'r' <group u32> 's'                 snapshot metadata (index, term, conf)
 *   ff 'r' <group u32> 'd' <chunk u32>     snapshot data, in chunks
 *   ff 'r' <group u32> 'a'                 applied index of the state machine
 *
 * Why one engine: the applied index must change atomically with the applied
 * writes (one WriteBatch), and a single WAL orders the log writes before the
 * applies that depend on them, so one `sync()` covers both.
 *
 * The replicated keyspace is everything below REPLICATED_END; the replicated
 * engine refuses writes at or above it and hides those keys from reads, so
 * a full scan of the replicated keyspace is the same on every replica.
 */

import { assert } from '../util/assert.ts';
import type { GroupId } from '../raft/types.ts';

export const LOCAL_PREFIX_BYTE = 0xff;
/** Exclusive upper bound of the replicated keyspace. */
export const REPLICATED_END = Buffer.from([LOCAL_PREFIX_BYTE]);

const TWO_32 = 0x1_0000_0000;

function groupPrefix(group: GroupId, tag: string, extra: number): Buffer {
  assert(Number.isInteger(group) && group >= 0 && group < TWO_32, `bad raft group id ${group}`);
  const b = Buffer.alloc(7 + extra);
  b[0] = LOCAL_PREFIX_BYTE;
  b[1] = 0x72; // 'r'
  b.writeUInt32BE(group, 2);
  b[6] = tag.charCodeAt(0);
  return b;
}

export function hardStateKey(group: GroupId): Buffer {
  return groupPrefix(group, 'h', 0);
}

export function entryKey(group: GroupId, index: number): Buffer {
  const b = groupPrefix(group, 'e', 8);
  b.writeUInt32BE(Math.floor(index / TWO_32), 7);
  b.writeUInt32BE(index % TWO_32, 11);
  return b;
}

/** [start, end) of all entry keys of a group. */
export function entryKeyRange(group: GroupId): { gte: Buffer; lt: Buffer } {
  return { gte: groupPrefix(group, 'e', 0), lt: groupPrefix(group, 'f', 0) };
}

export function entryIndexOf(key: Uint8Array): number {
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return b.readUInt32BE(7) * TWO_32 + b.readUInt32BE(11);
}

export function snapshotMetaKey(group: GroupId): Buffer {
  return groupPrefix(group, 's', 0);
}

export function snapshotChunkKey(group: GroupId, chunk: number): Buffer {
  const b = groupPrefix(group, 'd', 4);
  b.writeUInt32BE(chunk, 7);
  return b;
}

export function snapshotChunkRange(group: GroupId): { gte: Buffer; lt: Buffer } {
  return { gte: groupPrefix(group, 'd', 0), lt: groupPrefix(group, 'e', 0) };
}

export function appliedIndexKey(group: GroupId): Buffer {
  return groupPrefix(group, 'a', 0);
}

export function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / TWO_32), 0);
  b.writeUInt32BE(n % TWO_32, 4);
  return b;
}

export function readU64(b: Uint8Array): number {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return buf.readUInt32BE(0) * TWO_32 + buf.readUInt32BE(4);
}

/** True for keys of the replicated keyspace (first byte below 0xff; the empty key included). */
export function isReplicatedKey(key: Uint8Array): boolean {
  return key.length === 0 || key[0]! < LOCAL_PREFIX_BYTE;
}

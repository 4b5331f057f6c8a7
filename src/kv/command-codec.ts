/**
 * The bytes of a replicated command (the data of a normal Raft entry) and of
 * a state-machine snapshot.
 *
 *   command   u8 tag=1 (writes) · uint count · count × (u8 kind · bytes key · bytes value)
 *   snapshot  u8 tag=2 · uint count · count × (bytes key · bytes value)
 *
 * Integers and byte strings use the Raft codec's varints (src/raft/codec.ts).
 * An empty entry is the leader's no-op and carries no command. A command is
 * the concatenation of several write batches of the leader, in write order;
 * applying it as one engine batch keeps each original batch atomic.
 *
 * Decoding is strict (CorruptionError naming the entry), because a replica
 * that misreads a command would silently diverge from the others.
 */

import { ByteReader, ByteWriter } from '../raft/codec.ts';
import { CorruptionError } from '../util/errors.ts';
import { OpKind, type BatchOp } from '../storage/write-batch.ts';

const TAG_WRITES = 1;
const TAG_SNAPSHOT = 2;

export function encodeWrites(ops: readonly BatchOp[]): Buffer {
  let bytes = 8;
  for (const op of ops) bytes += op.key.length + op.value.length + 12;
  const w = new ByteWriter(bytes);
  w.u8(TAG_WRITES);
  w.uint(ops.length);
  for (const op of ops) {
    w.u8(op.kind);
    w.bytes(op.key);
    w.bytes(op.value);
  }
  return w.take();
}

/** Calls `each` for every op of a command; keys and values are views of `data`. */
export function decodeWrites(
  data: Uint8Array,
  source: string,
  each: (kind: OpKind, key: Uint8Array, value: Uint8Array) => void,
): void {
  const r = new ByteReader(data, source);
  const tag = r.u8();
  if (tag !== TAG_WRITES) throw new CorruptionError(source, `unknown command tag ${tag}`);
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind !== OpKind.put && kind !== OpKind.delete)
      throw new CorruptionError(source, `unknown write kind ${kind}`, r.pos - 1);
    const key = r.bytes();
    const value = r.bytes();
    each(kind, key, value);
  }
  r.done();
}

export function encodeSnapshotData(pairs: Iterable<[Uint8Array, Uint8Array]>): Buffer {
  const w = new ByteWriter(1 << 12);
  const body = new ByteWriter(1 << 12);
  let n = 0;
  for (const [k, v] of pairs) {
    body.bytes(k);
    body.bytes(v);
    n++;
  }
  w.u8(TAG_SNAPSHOT);
  w.uint(n);
  const head = w.take();
  return Buffer.concat([head, body.view()]);
}

export function decodeSnapshotData(
  data: Uint8Array,
  source: string,
  each: (key: Uint8Array, value: Uint8Array) => void,
): void {
  const r = new ByteReader(data, source);
  const tag = r.u8();
  if (tag !== TAG_SNAPSHOT) throw new CorruptionError(source, `unknown snapshot tag ${tag}`);
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const key = r.bytes();
    const value = r.bytes();
    each(key, value);
  }
  r.done();
}

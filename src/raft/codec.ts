/**
 * Binary codec for Raft messages, log entries, hard state, membership and
 * snapshot metadata — the bytes the TCP transport and the log store carry.
 *
 * Layout: a one-byte kind tag, then fields in a fixed order. Integers are
 * unsigned LEB128 varints of JavaScript safe integers (up to 2^53 - 1: log
 * indexes and terms outlive 32 bits in theory, and the bigint variants of
 * src/encoding/varint.ts cost an allocation per field on the hot path).
 * Byte strings are a varint length followed by the bytes. Booleans are one
 * byte. Decoding is strict: a truncated buffer, an unknown tag, or trailing
 * bytes throw a CorruptionError naming the source.
 *
 * Decoded byte strings are subarrays of the input buffer (no copy); callers
 * that keep them past the buffer's lifetime copy them.
 */

import { assertNever } from '../util/assert.ts';
import { CorruptionError } from '../util/errors.ts';
import type { ConfChange, ConfState, Entry, EntryType, HardState, Message, SnapshotMeta } from './types.ts';

const KIND_TAG = {
  vote: 1,
  voteResp: 2,
  append: 3,
  appendResp: 4,
  heartbeat: 5,
  heartbeatResp: 6,
  snapshot: 7,
  snapshotResp: 8,
  timeoutNow: 9,
} as const satisfies Record<Message['kind'], number>;

/** A growable output buffer. Reused across encodes by the transport to avoid per-message allocation. */
export class ByteWriter {
  private buf: Buffer;
  length = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  /** Unsigned varint of a safe integer. */
  uint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`codec: ${v} is not a non-negative safe integer`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.length++] = v;
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u32be(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }

  /** Overwrites 4 bytes at `at` (for length prefixes written after the body). */
  patchU32be(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of the bytes written so far. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }

  reset(): void {
    this.length = 0;
  }
}

export class ByteReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly source: string,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  private fail(what: string): never {
    throw new CorruptionError(this.source, what, this.pos);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('truncated byte');
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) this.fail('varint exceeds 2^53');
        return v;
      }
      scale *= 128;
    }
    return this.fail('varint longer than 8 bytes');
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) this.fail(`bad boolean ${b}`);
    return b === 1;
  }

  bytes(): Uint8Array {
    const n = this.uint();
    if (this.pos + n > this.end) this.fail(`byte string of ${n} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  done(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`);
  }
}

export function writeEntry(w: ByteWriter, e: Entry): void {
  w.uint(e.index);
  w.uint(e.term);
  w.u8(e.type);
  w.bytes(e.data);
}

export function readEntry(r: ByteReader): Entry {
  const index = r.uint();
  const term = r.uint();
  const type = r.u8();
  if (type !== 0 && type !== 1) throw new CorruptionError(r.source, `bad entry type ${type}`, r.pos);
  return { index, term, type: type as EntryType, data: r.bytes() };
}

export function writeConfState(w: ByteWriter, c: ConfState): void {
  w.uint(c.voters.length);
  for (const v of c.voters) w.uint(v);
  w.uint(c.learners.length);
  for (const l of c.learners) w.uint(l);
}

export function readConfState(r: ByteReader): ConfState {
  const voters: number[] = [];
  for (let n = r.uint(); n > 0; n--) voters.push(r.uint());
  const learners: number[] = [];
  for (let n = r.uint(); n > 0; n--) learners.push(r.uint());
  return { voters, learners };
}

export function writeSnapshotMeta(w: ByteWriter, m: SnapshotMeta): void {
  w.uint(m.index);
  w.uint(m.term);
  writeConfState(w, m.conf);
}

export function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = r.uint();
  const term = r.uint();
  return { index, term, conf: readConfState(r) };
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  w.uint(hs.term);
  w.uint(hs.vote);
  w.uint(hs.commit);
}

export function readHardState(r: ByteReader): HardState {
  const term = r.uint();
  const vote = r.uint();
  return { term, vote, commit: r.uint() };
}

/** Appends one message to `w` (no length prefix; the transport frames it). */
export function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(KIND_TAG[m.kind]);
  w.uint(m.group);
  w.uint(m.from);
  w.uint(m.to);
  w.uint(m.term);
  switch (m.kind) {
    case 'vote':
      w.u8(m.preVote ? 1 : 0);
      w.uint(m.lastIndex);
      w.uint(m.lastTerm);
      w.u8(m.force ? 1 : 0);
      return;
    case 'voteResp':
      w.u8(m.preVote ? 1 : 0);
      w.u8(m.reject ? 1 : 0);
      return;
    case 'append':
      w.uint(m.prevIndex);
      w.uint(m.prevTerm);
      w.uint(m.commit);
      w.uint(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      return;
    case 'appendResp':
      w.uint(m.index);
      w.u8(m.reject ? 1 : 0);
      w.uint(m.hintIndex);
      w.uint(m.hintTerm);
      return;
    case 'heartbeat':
      w.uint(m.commit);
      w.uint(m.seq);
      return;
    case 'heartbeatResp':
      w.uint(m.seq);
      return;
    case 'snapshot':
      writeSnapshotMeta(w, m.meta);
      w.uint(m.offset);
      w.bytes(m.chunk);
      w.u8(m.done ? 1 : 0);
      return;
    case 'snapshotResp':
      w.uint(m.snapIndex);
      w.uint(m.snapTerm);
      w.uint(m.offset);
      return;
    case 'timeoutNow':
      return;
    default:
      assertNever(m, 'message');
  }
}

/** Reads one message spanning exactly [r.pos, r.end). */
export function readMessage(r: ByteReader): Message {
  const tag = r.u8();
  const group = r.uint();
  const from = r.uint();
  const to = r.uint();
  const term = r.uint();
  // Each message is built as one object literal (no spread of a shared header: a spread costs
  // microseconds per message, more than the rest of the decode), kind first like the senders'.
  let m: Message;
  switch (tag) {
    case KIND_TAG.vote: {
      const preVote = r.bool();
      const lastIndex = r.uint();
      const lastTerm = r.uint();
      m = { kind: 'vote', group, from, to, term, preVote, lastIndex, lastTerm, force: r.bool() };
      break;
    }
    case KIND_TAG.voteResp: {
      const preVote = r.bool();
      m = { kind: 'voteResp', group, from, to, term, preVote, reject: r.bool() };
      break;
    }
    case KIND_TAG.append: {
      const prevIndex = r.uint();
      const prevTerm = r.uint();
      const commit = r.uint();
      const entries: Entry[] = [];
      for (let n = r.uint(); n > 0; n--) entries.push(readEntry(r));
      m = { kind: 'append', group, from, to, term, prevIndex, prevTerm, commit, entries };
      break;
    }
    case KIND_TAG.appendResp: {
      const index = r.uint();
      const reject = r.bool();
      const hintIndex = r.uint();
      m = { kind: 'appendResp', group, from, to, term, index, reject, hintIndex, hintTerm: r.uint() };
      break;
    }
    case KIND_TAG.heartbeat: {
      const commit = r.uint();
      m = { kind: 'heartbeat', group, from, to, term, commit, seq: r.uint() };
      break;
    }
    case KIND_TAG.heartbeatResp:
      m = { kind: 'heartbeatResp', group, from, to, term, seq: r.uint() };
      break;
    case KIND_TAG.snapshot: {
      const meta = readSnapshotMeta(r);
      const offset = r.uint();
      const chunk = r.bytes();
      m = { kind: 'snapshot', group, from, to, term, meta, offset, chunk, done: r.bool() };
      break;
    }
    case KIND_TAG.snapshotResp: {
      const snapIndex = r.uint();
      const snapTerm = r.uint();
      m = { kind: 'snapshotResp', group, from, to, term, snapIndex, snapTerm, offset: r.uint() };
      break;
    }
    case KIND_TAG.timeoutNow:
      m = { kind: 'timeoutNow', group, from, to, term };
      break;
    default:
      throw new CorruptionError(r.source, `unknown message tag ${tag}`, r.pos - 1);
  }
  r.done();
  return m;
}

export function encodeMessage(m: Message): Buffer {
  const w = new ByteWriter();
  writeMessage(w, m);
  return w.take();
}

export function decodeMessage(buf: Uint8Array, source = 'raft message'): Message {
  return readMessage(new ByteReader(buf, source));
}

const CC_TAG = { addLearner: 1, addVoter: 2, removeNode: 3, set: 4 } as const satisfies Record<
  ConfChange['type'],
  number
>;

/** The data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Buffer {
  const w = new ByteWriter(16);
  w.u8(CC_TAG[cc.type]);
  if (cc.type === 'set') writeConfState(w, cc.conf);
  else w.uint(cc.node);
  return w.take();
}

export function decodeConfChange(data: Uint8Array, source = 'conf change entry'): ConfChange {
  const r = new ByteReader(data, source);
  const tag = r.u8();
  let cc: ConfChange;
  switch (tag) {
    case CC_TAG.addLearner:
      cc = { type: 'addLearner', node: r.uint() };
      break;
    case CC_TAG.addVoter:
      cc = { type: 'addVoter', node: r.uint() };
      break;
    case CC_TAG.removeNode:
      cc = { type: 'removeNode', node: r.uint() };
      break;
    case CC_TAG.set:
      cc = { type: 'set', conf: readConfState(r) };
      break;
    default:
      throw new CorruptionError(source, `unknown conf change tag ${tag}`, 0);
  }
  r.done();
  return cc;
}

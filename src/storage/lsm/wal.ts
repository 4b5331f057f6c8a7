/**
 * The write-ahead log: every write is appended here before it is applied to
 * the memtable, so that a crash loses nothing that was acknowledged.
 *
 *   segments   <dir>/000007.log, 000012.log, ...  (one per memtable; the number
 *              comes from the engine's file-number counter)
 *   records    framed by record-log.ts (length, CRC32, header CRC32)
 *   payload    u48 LE first sequence number | u32 LE op count | ops...
 *              op = u8 kind (1 put, 0 delete) | varint key length | key
 *                   | (puts only) varint value length | value
 *
 * One record per `write(batch)` (or put/delete), so a batch is atomic: after
 * a crash its record is either whole (all ops replayed) or torn (none).
 *
 * Group commit: appends go to a user-space buffer (no system call per put);
 * `sync()` registers a waiter for "everything logged so far". When no sync
 * round (fdatasync of the segment) is in flight, a round starts at once;
 * otherwise the next one is scheduled for the next turn of the event loop,
 * and every writer that calls `sync()` before it starts shares it. Rounds
 * are pipelined: up to SYNC_ROUNDS_IN_FLIGHT_MAX run at once. A round that
 * finishes acknowledges every byte logged before it started, also the bytes
 * of earlier rounds still in flight (see settleRounds), unless an earlier
 * round that syncs an older segment is still running. One fdatasync
 * acknowledges many writers.
 *
 * Why the first round starts at once: writers that wait on their sync come
 * back together when it completes, so with every round deferred to the next
 * turn they all join one round, the next round can only start after it, and
 * the disk idles while the event loop acknowledges them and takes their next
 * writes. Starting the first round at once splits such a crowd into two
 * groups whose rounds overlap (while one group is acknowledged and writes
 * again, the other's fdatasync runs), which keeps the disk busy. Measured
 * with 16 writers on this machine class: see docs/internals/storage.md.
 *
 * Rotation: when the memtable is frozen the log moves to a new segment. The
 * old segment stays in the set of files the next sync round fsyncs, so an
 * acknowledgement always covers every earlier segment too; that is what lets
 * recovery stop at the first torn record and ignore later segments.
 */

import { CorruptionError, NextDbError, SqlState } from '../../util/errors.ts';
import type { Vfs, VfsFile } from '../vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { OpKind, type BatchOp } from '../write-batch.ts';
import { ByteWriter, getVarint, putVarint, type Cursor } from './coding.ts';
import { frameRecordInPlace, readRecords, RECORD_HEADER_BYTES } from './record-log.ts';

/** Buffered bytes beyond which appends go to the OS without waiting for a sync. */
const BUFFER_BYTES_MAX = 256 * 1024;

export function walFileName(n: number): string {
  return `${String(n).padStart(6, '0')}.log`;
}

/**
 * Sync rounds that may be in flight at once. Concurrent fdatasync calls on one
 * file overlap in the kernel and the device queue: on a busy or networked disk
 * a pipeline of rounds gives several times the throughput of one at a time,
 * while each round still covers every writer waiting when it starts.
 */
const SYNC_ROUNDS_IN_FLIGHT_MAX = 4;

interface SyncRound {
  readonly target: number;
  /** The round also syncs older segments or the directory (a rotation happened since the last round). */
  readonly barrier: boolean;
  done: boolean;
}

interface Waiter {
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class Wal {
  private file: VfsFile;
  private readonly out = new ByteWriter(BUFFER_BYTES_MAX + 64 * 1024);
  /** Segments rotated away from whose bytes are not yet known durable. */
  private older: { readonly number: number; readonly file: VfsFile }[] = [];
  private needDirSync = true;
  /** Bytes logged (buffered or appended), over all segments of this Wal's life. */
  private loggedBytes = 0;
  private durableBytes = 0;
  private waiters: Waiter[] = [];
  /** Sync rounds in flight, in the order they started. */
  private rounds: SyncRound[] = [];
  /** The system calls of every round not yet returned (close waits for them before closing files). */
  private readonly syncing = new Set<Promise<unknown>>();
  /** Bytes covered by the latest started round. */
  private startedBytes = 0;
  private scheduled = false;
  private failed: unknown = undefined;
  private closed = false;
  /** fsync rounds completed (stats: writes per fsync). */
  syncRounds = 0;
  number: number;

  constructor(
    private readonly vfs: Vfs,
    private readonly dir: string,
    number: number,
  ) {
    this.number = number;
    this.file = vfs.create(vfsJoin(dir, walFileName(number)));
  }

  /** Logs one put or delete. */
  addOne(seq: number, kind: OpKind, key: Uint8Array, value: Uint8Array): void {
    const out = this.begin();
    const headerPos = out.len;
    out.ensure(RECORD_HEADER_BYTES + 6 + 4 + 1 + 10 + key.length + value.length);
    out.len += RECORD_HEADER_BYTES;
    out.u48(seq);
    out.u32(1);
    out.u8(kind);
    out.lenBytes(key);
    if (kind === OpKind.put) out.lenBytes(value);
    this.end(headerPos);
  }

  /** Logs a batch as one record (atomic on replay). */
  addBatch(firstSeq: number, ops: readonly BatchOp[]): void {
    const out = this.begin();
    const headerPos = out.len;
    out.len += RECORD_HEADER_BYTES;
    out.u48(firstSeq);
    out.u32(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const key = op.key;
      const klen = key.length;
      const value = op.kind === OpKind.put ? op.value : undefined;
      // One bounds check per operation, then direct stores: a short key by a loop (a native copy's call costs
      // more than copying 16 bytes), a value by a native copy unless it is short too.
      out.ensure(11 + klen + (value === undefined ? 0 : value.length));
      const buf = out.buf;
      buf[out.len] = op.kind;
      let pos = putVarint(buf, out.len + 1, klen);
      if (klen <= 32) for (let j = 0; j < klen; j++) buf[pos + j] = key[j]!;
      else buf.set(key, pos);
      pos += klen;
      if (value !== undefined) {
        const vlen = value.length;
        pos = putVarint(buf, pos, vlen);
        if (vlen <= 32) for (let j = 0; j < vlen; j++) buf[pos + j] = value[j]!;
        else buf.set(value, pos);
        pos += vlen;
      }
      out.len = pos;
    }
    this.end(headerPos);
  }

  private begin(): ByteWriter {
    if (this.failed !== undefined) throw walFailed(this.failed);
    if (this.closed) throw new NextDbError(SqlState.adminShutdown, 'write-ahead log is closed');
    this.out.ensure(RECORD_HEADER_BYTES);
    return this.out;
  }

  private end(headerPos: number): void {
    frameRecordInPlace(this.out.buf, headerPos, this.out.len);
    this.loggedBytes += this.out.len - headerPos;
    if (this.out.len >= BUFFER_BYTES_MAX) this.drain();
  }

  /** Hands buffered records to the OS (no durability yet). */
  private drain(): void {
    if (this.out.len === 0) return;
    try {
      this.file.append(this.out.view());
    } catch (err) {
      this.failed = err;
      throw walFailed(err);
    }
    this.out.reset();
  }

  /** Starts a new segment; the old one is fsynced by the next sync round. */
  rotate(number: number): void {
    this.drain();
    this.older.push({ number: this.number, file: this.file });
    this.file = this.vfs.create(vfsJoin(this.dir, walFileName(number)));
    this.number = number;
    this.needDirSync = true;
  }

  /**
   * Segment `number` is no longer needed: its memtable is in a table and the manifest edit that moved the
   * log number past it is durable, so recovery ignores it. If no sync round has taken it yet, it is closed
   * without a sync: an acknowledgement need not cover it, syncing it would write dead bytes (after a bulk
   * load without syncs, megabytes per segment in the next writer's round), and holding it open would keep
   * a deleted file's blocks allocated. A segment a round is syncing is closed when that round ends.
   */
  forget(number: number): void {
    const i = this.older.findIndex((s) => s.number === number);
    if (i < 0) return;
    this.older[i]!.file.close();
    this.older.splice(i, 1);
  }

  /** Resolves once everything logged before the call is durable. */
  sync(): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(walFailed(this.failed));
    if (this.loggedBytes <= this.durableBytes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target: this.loggedBytes, resolve, reject });
      if (this.rounds.length === 0 && !this.scheduled) this.round();
      else this.schedule();
    });
  }

  /** Schedules a sync round if a waiter needs bytes no started round covers and the pipeline has room. */
  private schedule(): void {
    if (this.scheduled || this.rounds.length >= SYNC_ROUNDS_IN_FLIGHT_MAX) return;
    let needed = false;
    for (const w of this.waiters) {
      if (w.target > this.startedBytes) {
        needed = true;
        break;
      }
    }
    if (!needed) return;
    this.scheduled = true;
    // Start on the next turn so every writer of this turn joins the same fsync.
    setImmediate(() => this.round());
  }

  private round(): void {
    this.scheduled = false;
    if (this.failed !== undefined || this.rounds.length >= SYNC_ROUNDS_IN_FLIGHT_MAX) return;
    try {
      this.drain();
    } catch (err) {
      this.fail(err);
      return;
    }
    const target = this.loggedBytes;
    if (target <= this.startedBytes) return;
    const older = this.older;
    this.older = [];
    const work: Promise<void>[] = older.map((s) => s.file.sync());
    work.push(this.file.sync());
    if (this.needDirSync) {
      this.needDirSync = false;
      work.push(this.vfs.syncDir(this.dir));
    }
    const round: SyncRound = { target, barrier: work.length > 1, done: false };
    this.rounds.push(round);
    this.startedBytes = target;
    const calls = Promise.allSettled(work);
    this.syncing.add(calls);
    void calls.then(() => this.syncing.delete(calls));
    Promise.all(work).then(
      () => {
        round.done = true;
        for (const s of older) s.file.close();
        this.settleRounds();
        this.syncRounds++;
        const still: Waiter[] = [];
        for (const w of this.waiters) {
          if (w.target <= this.durableBytes) w.resolve();
          else still.push(w);
        }
        this.waiters = still;
        this.schedule();
      },
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * Moves durableBytes past every done round that no unfinished barrier round precedes. Rounds of one
   * segment may finish out of order: an fdatasync that returns makes durable every byte written to the
   * file before it was called, including the bytes of earlier rounds whose own fdatasync is still running
   * (the kernel waits for their writeback), so the writers of a slow fdatasync (fdatasync latency here has
   * a tail of 5-25 ms against a median of 0.2-0.4 ms) are acknowledged by the first later round to finish
   * instead of waiting for their own. A round
   * that also syncs older segments (or the directory) is a barrier: no later round is acknowledged before
   * it is done, because recovery stops at a torn record in an older segment and ignores what follows.
   */
  private settleRounds(): void {
    let barrierPending = false;
    let kept = 0;
    for (const r of this.rounds) {
      if (r.done && !barrierPending) {
        if (r.target > this.durableBytes) this.durableBytes = r.target;
        continue;
      }
      if (!r.done && r.barrier) barrierPending = true;
      this.rounds[kept++] = r;
    }
    this.rounds.length = kept;
  }

  private fail(err: unknown): void {
    this.failed = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(walFailed(err));
  }

  /** Syncs everything and closes the segments. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failed === undefined) await this.sync();
    // A round acknowledged by a later one may still have its fdatasync running: never close a descriptor under it.
    await Promise.all([...this.syncing]);
    this.closed = true;
    for (const s of this.older) s.file.close();
    this.file.close();
  }

  /** Abandons the log without syncing (tests of crash behaviour). */
  abandon(): void {
    this.closed = true;
  }
}

function walFailed(cause: unknown): NextDbError {
  if (cause instanceof NextDbError) return cause;
  return new NextDbError(SqlState.ioError, `write-ahead log failed: ${(cause as Error).message}`, { cause });
}

/** One decoded operation, handed to the replay callback (buffers are views into the segment). */
export type WalOpSink = (seq: number, kind: OpKind, key: Buffer, value: Buffer) => void;

/**
 * Replays one segment. Returns whether it ended in a torn record (the caller
 * then ignores every later segment). Checksum mismatches and malformed
 * payloads throw CorruptionError naming the segment.
 */
export function replayWalSegment(
  bytes: Buffer,
  file: string,
  sink: WalOpSink,
): { torn: boolean; firstSeq: number; lastSeq: number } {
  const { records, torn } = readRecords(bytes, file);
  const c: Cursor = { pos: 0 };
  let lastSeq = 0;
  let firstSeq = 0;
  for (const rec of records) {
    if (rec.length < 10) throw new CorruptionError(file, 'WAL record too short');
    let seq = rec.readUIntLE(0, 6);
    if (firstSeq === 0) firstSeq = seq;
    const count = rec.readUInt32LE(6);
    c.pos = 10;
    for (let i = 0; i < count; i++) {
      const kind = rec[c.pos++];
      if (kind !== OpKind.put && kind !== OpKind.delete)
        throw new CorruptionError(file, `WAL op kind ${String(kind)} is invalid`);
      const klen = getVarint(rec, c, rec.length);
      if (klen < 0 || c.pos + klen > rec.length) throw new CorruptionError(file, 'WAL key runs past its record');
      const key = rec.subarray(c.pos, c.pos + klen);
      c.pos += klen;
      let value: Buffer = EMPTY;
      if (kind === OpKind.put) {
        const vlen = getVarint(rec, c, rec.length);
        if (vlen < 0 || c.pos + vlen > rec.length) throw new CorruptionError(file, 'WAL value runs past its record');
        value = rec.subarray(c.pos, c.pos + vlen);
        c.pos += vlen;
      }
      sink(seq, kind, key, value);
      lastSeq = seq;
      seq++;
    }
    if (c.pos !== rec.length) throw new CorruptionError(file, 'WAL record has trailing bytes');
  }
  return { torn, firstSeq, lastSeq };
}

/**
 * Replays the segments numbered `numbers` (ascending, all >= the manifest's log number) in order and
 * returns the last sequence number replayed (0 if none). Replay stops after a segment that ends in a
 * torn record, and also where the sequence numbers jump from one non-empty segment to the next: every
 * write takes the next sequence number and is logged in the current segment, so consecutive segments
 * continue each other, and a gap means the earlier segment lost its tail in a crash at a record
 * boundary (it looks whole). The later segment was synced on its own (its fdatasync finished while the
 * round that also syncs the earlier segment had not), and replaying it would recover writes without
 * the ones before them. Nothing after a gap was acknowledged: an acknowledgement covers every earlier
 * segment in full, and then there is no gap.
 */
export function replayWal(vfs: Vfs, dir: string, numbers: readonly number[], sink: WalOpSink): number {
  let lastSeq = 0;
  for (const n of numbers) {
    const path = vfsJoin(dir, walFileName(n));
    const bytes = vfs.readAll(path);
    // Check the continuity before replaying anything of this segment (its first record's sequence number).
    const first = readRecords(bytes, path).records[0];
    if (first !== undefined && first.length >= 6 && lastSeq !== 0 && first.readUIntLE(0, 6) !== lastSeq + 1) break;
    const seg = replayWalSegment(bytes, path, sink);
    if (seg.lastSeq !== 0) lastSeq = seg.lastSeq;
    if (seg.torn) break;
  }
  return lastSeq;
}

const EMPTY: Buffer = Buffer.alloc(0);

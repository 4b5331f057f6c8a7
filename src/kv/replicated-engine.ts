/**
 * ReplicatedEngine: the storage Engine contract on top of one Raft group.
 *
 *                     put / delete / write(batch)           (leader only)
 *                                 │
 *            ┌────────────────────▼─────────────────────┐
 *            │ pending overlay   key → {seq, value}      │◄── reads merge
 *            │ buffered batches ──► proposal (≤ limit) ──┼──► raft.propose
 *            └────────────────────┬─────────────────────┘
 *                                 │ committed entries, in log order
 *            ┌────────────────────▼─────────────────────┐
 *            │ applied engine (local LSM or memory)      │◄── reads (all nodes)
 *            └──────────────────────────────────────────┘
 *
 * Invariants:
 * - The applied engine only ever receives committed entries, applied in log
 *   order, each as one atomic engine batch that also records the applied
 *   index; so every replica that applied index i holds the same replicated
 *   keyspace, byte for byte.
 * - On the leader, writes are visible at once (the Engine contract) through
 *   the overlay. Each write gets a sequence number; a write batch is never
 *   split across proposals. `sync()` resolves once every write made before
 *   it is committed by a quorum and applied here. An overlay entry goes away
 *   when the write that produced it is applied, unless a later write to the
 *   same key is still pending.
 * - On leadership loss the overlay, the buffer and the proposals in flight
 *   are dropped, and every pending sync is rejected: with 40001 when none of
 *   the writes it covers had reached the Raft log (they are certainly lost),
 *   with 40003 when some had (a later leader may still commit them — the
 *   outcome is unknown, and retrying blindly could apply a transaction
 *   twice). Listeners hear about the loss so that in-memory transaction
 *   state above can be discarded.
 * - A follower refuses writes with NotLeaderError (naming the leader) and
 *   serves reads from the applied state (stale reads).
 *
 * The driver (ClusterNode) owns the RaftNode: it calls `proposePending()`
 * before each Ready, `applyEntry()` for committed entries and
 * `installSnapshot()` for snapshots, and flips leadership with
 * `startLeading()` / `stopLeading()`. Everything is synchronous and
 * deterministic given the call order.
 *
 * Limits: a snapshot is built and installed in one piece in memory; one
 * Raft group covers the whole replicated keyspace.
 */

import { NotLeaderError, RaftBusyError } from '../raft/errors.ts';
import type { Entry, GroupId, NodeId, Snapshot as RaftSnapshot } from '../raft/types.ts';
import { EntryType, NONE } from '../raft/types.ts';
import type { Engine, EngineIterator, EngineStats, Reader, ScanOptions, Snapshot } from '../storage/engine.ts';
import { scanIterator } from '../storage/engine.ts';
import { OpKind, WriteBatch, type BatchOp } from '../storage/write-batch.ts';
import { assert } from '../util/assert.ts';
import { toLatin1 } from '../util/bytes.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { decodeSnapshotData, decodeWrites, encodeSnapshotData, encodeWrites } from './command-codec.ts';
import { MergedIterator, Overlay, overlayGet, type OverlayTree } from './overlay.ts';
import { appliedIndexKey, isReplicatedKey, readU64, REPLICATED_END, u64 } from './replica-keys.ts';

/** PostgreSQL's statement_completion_unknown: the commit may or may not have happened. */
export const STATEMENT_COMPLETION_UNKNOWN = '40003';

/** Default bound on the bytes of one proposal (several write batches are packed into one). */
export const PROPOSAL_BYTES_MAX = 64 << 10;

/**
 * Default bound on the bytes of writes the leader holds not yet applied
 * (buffered + proposed). A leader that cannot commit (cut off from its
 * quorum, until check-quorum deposes it) refuses further writes beyond it
 * instead of growing without bound.
 */
export const PENDING_BYTES_MAX = 64 << 20;

/** PostgreSQL's configuration_limit_exceeded. */
const CONFIGURATION_LIMIT_EXCEEDED = '53400';

export interface ReplicatedEngineOptions {
  readonly group: GroupId;
  readonly node: NodeId;
  /** The node's local engine: the applied state machine plus replica-local keys. */
  readonly local: Engine;
  readonly proposalBytesMax?: number;
  readonly pendingBytesMax?: number;
}

/** Proposes a command; throws NotLeaderError / RaftBusyError like RaftNode.propose. */
export type Proposer = (data: Uint8Array) => { index: number; term: number };

interface PendingWrite {
  readonly op: BatchOp;
  readonly seq: number;
}

interface Proposal {
  readonly index: number;
  readonly term: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly writes: readonly PendingWrite[];
}

interface SyncWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export function leadershipChanged(group: GroupId, node: NodeId, leader: NodeId, cause?: unknown): NextDbError {
  return new NextDbError(
    SqlState.serializationFailure,
    `leadership of raft group ${group} moved away from node ${node} while the transaction was committing; retry the transaction`,
    {
      hint: leader === NONE ? 'retry after an election' : `retry on node ${leader}`,
      detail: 'None of its writes had reached the Raft log, so nothing of it was committed.',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export function commitOutcomeUnknown(group: GroupId, node: NodeId, cause?: unknown): NextDbError {
  return new NextDbError(
    STATEMENT_COMPLETION_UNKNOWN,
    `leadership of raft group ${group} moved away from node ${node} while the transaction was committing; whether it committed is unknown`,
    {
      detail: 'Its writes had been proposed to the Raft log; a later leader may still commit them.',
      hint: 'Check whether the transaction took effect before retrying it.',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export class ReplicatedEngine implements Engine {
  readonly group: GroupId;
  readonly node: NodeId;
  readonly local: Engine;
  private readonly proposalBytesMax: number;
  private readonly pendingBytesMax: number;
  /** Bytes of writes buffered or proposed and not yet applied. */
  private pendingBytes = 0;

  /** The term this node leads and accepts writes in, or undefined. */
  private leadingTerm: number | undefined;
  private proposer: Proposer | undefined;
  private leaderHint: NodeId = NONE;
  private readonly overlay = new Overlay();
  private buffered: PendingWrite[] = [];
  private bufferedBytes = 0;
  /** Batches in `buffered` end at these positions (a batch is never split). */
  private batchEnds: number[] = [];
  private inflight: Proposal[] = [];
  private nextSeq = 1;
  /** Every write with seq <= appliedSeq is applied (or was made before this term). */
  private appliedSeq = 0;
  private syncs: SyncWaiter[] = [];
  private appliedIndexValue: number;
  private closed = false;
  private readonly lossListeners: ((term: number) => void)[] = [];
  /** Called when there are buffered writes or syncs to push (the driver schedules a Ready loop). */
  onWork: (() => void) | undefined;

  constructor(options: ReplicatedEngineOptions) {
    this.group = options.group;
    this.node = options.node;
    this.local = options.local;
    this.proposalBytesMax = options.proposalBytesMax ?? PROPOSAL_BYTES_MAX;
    this.pendingBytesMax = options.pendingBytesMax ?? PENDING_BYTES_MAX;
    const raw = this.local.get(appliedIndexKey(this.group));
    this.appliedIndexValue = raw === undefined ? 0 : readU64(raw);
  }

  // ───────────────────────── driver side ─────────────────────────

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  get isLeading(): boolean {
    return this.leadingTerm !== undefined;
  }

  get term(): number | undefined {
    return this.leadingTerm;
  }

  /** Writes not yet applied (overlay keys), for stats and tests. */
  get overlaySize(): number {
    return this.overlay.size;
  }

  get pendingProposals(): number {
    return this.inflight.length + (this.buffered.length > 0 ? 1 : 0);
  }

  setLeaderHint(leader: NodeId): void {
    this.leaderHint = leader;
  }

  onLeadershipLost(listener: (term: number) => void): void {
    this.lossListeners.push(listener);
  }

  /**
   * This node leads `term` and has applied every entry committed before the
   * term began: writes are accepted from now on.
   */
  startLeading(term: number, proposer: Proposer): void {
    assert(this.leadingTerm === undefined, `replicated engine: already leading term ${this.leadingTerm}`);
    assert(
      this.overlay.size === 0 && this.buffered.length === 0 && this.inflight.length === 0,
      'replicated engine: leftovers of an earlier term',
    );
    this.leadingTerm = term;
    this.proposer = proposer;
    this.leaderHint = this.node;
  }

  /** Leadership is gone (step-down, higher term, removal, crash of the driver). */
  stopLeading(newLeader: NodeId): void {
    this.leaderHint = newLeader;
    const term = this.leadingTerm;
    if (term === undefined) return;
    const firstInflightSeq = this.inflight[0]?.firstSeq;
    this.leadingTerm = undefined;
    this.proposer = undefined;
    this.overlay.clear();
    this.buffered = [];
    this.bufferedBytes = 0;
    this.batchEnds = [];
    this.inflight = [];
    this.pendingBytes = 0;
    const syncs = this.syncs;
    this.syncs = [];
    for (const w of syncs) {
      const maybeCommitted = firstInflightSeq !== undefined && firstInflightSeq <= w.seq;
      w.reject(
        maybeCommitted
          ? commitOutcomeUnknown(this.group, this.node)
          : leadershipChanged(this.group, this.node, newLeader),
      );
    }
    // Writes made in the old term can never be applied as ours any more.
    this.appliedSeq = this.nextSeq - 1;
    for (const l of this.lossListeners) l(term);
  }

  /**
   * Packs buffered write batches into proposals of at most the byte limit.
   * Returns the number of proposals made. A RaftBusyError (leadership
   * transfer) leaves the writes buffered for a later call.
   */
  proposePending(): number {
    if (this.leadingTerm === undefined || this.buffered.length === 0) return 0;
    let made = 0;
    while (this.buffered.length > 0) {
      // Take whole batches up to the limit (at least one batch).
      let end = this.batchEnds[0]!;
      let bytes = sizeOf(this.buffered, 0, end);
      let nb = 1;
      while (nb < this.batchEnds.length) {
        const nextEnd = this.batchEnds[nb]!;
        const more = sizeOf(this.buffered, end, nextEnd);
        if (bytes + more > this.proposalBytesMax) break;
        bytes += more;
        end = nextEnd;
        nb++;
      }
      const writes = this.buffered.slice(0, end);
      const data = encodeWrites(writes.map((w) => w.op));
      let pos: { index: number; term: number };
      try {
        pos = this.proposer!(data);
      } catch (e) {
        if (e instanceof RaftBusyError || e instanceof NotLeaderError) return made; // the driver notices a lost leadership itself
        throw e;
      }
      assert(
        pos.term === this.leadingTerm,
        `replicated engine: proposal landed in term ${pos.term}, leading ${this.leadingTerm}`,
      );
      this.inflight.push({
        index: pos.index,
        term: pos.term,
        firstSeq: writes[0]!.seq,
        lastSeq: writes[writes.length - 1]!.seq,
        writes,
      });
      this.buffered = this.buffered.slice(end);
      this.batchEnds = this.batchEnds.slice(nb).map((x) => x - end);
      this.bufferedBytes -= bytes;
      made++;
    }
    return made;
  }

  /** Applies one committed entry (normal or conf change) in log order. */
  applyEntry(e: Entry): void {
    assert(
      e.index === this.appliedIndexValue + 1,
      `replicated engine: applying ${e.index} after ${this.appliedIndexValue}`,
    );
    const batch = new WriteBatch();
    if (e.type === EntryType.normal && e.data.length > 0) {
      decodeWrites(e.data, `raft group ${this.group} entry ${e.index}`, (kind, key, value) => {
        assert(isReplicatedKey(key), 'replicated engine: command writes a replica-local key');
        if (kind === OpKind.put) batch.put(key, value);
        else batch.delete(key);
      });
    }
    batch.put(appliedIndexKey(this.group), u64(e.index));
    this.local.write(batch);
    this.appliedIndexValue = e.index;
    this.retireApplied(e);
  }

  /** Replaces the whole replicated keyspace with a snapshot's content (followers only). */
  installSnapshot(s: RaftSnapshot): void {
    assert(this.leadingTerm === undefined, 'replicated engine: a leader never installs a snapshot');
    if (s.meta.index <= this.appliedIndexValue) return;
    const batch = new WriteBatch();
    for (const [k] of this.local.scan({ lt: REPLICATED_END })) batch.delete(k);
    decodeSnapshotData(s.data, `raft group ${this.group} snapshot at ${s.meta.index}`, (k, v) => {
      assert(isReplicatedKey(k), 'replicated engine: snapshot holds a replica-local key');
      batch.put(k, v);
    });
    batch.put(appliedIndexKey(this.group), u64(s.meta.index));
    this.local.write(batch);
    this.appliedIndexValue = s.meta.index;
  }

  /** The replicated keyspace as of the applied index, as snapshot data. */
  snapshotData(): Buffer {
    return encodeSnapshotData(this.local.scan({ lt: REPLICATED_END }));
  }

  private retireApplied(e: Entry): void {
    const p = this.inflight[0];
    if (p === undefined) return;
    if (p.index !== e.index) {
      assert(p.index > e.index, `replicated engine: proposal at ${p.index} was skipped while leading`);
      return;
    }
    assert(
      p.term === e.term,
      `replicated engine: our proposal at ${e.index} (term ${p.term}) was replaced by term ${e.term} while leading`,
    );
    this.inflight.shift();
    this.pendingBytes -= sizeOf(p.writes, 0, p.writes.length);
    for (const w of p.writes) this.overlay.deleteIfSeq(toLatin1(w.op.key), w.seq);
    this.appliedSeq = p.lastSeq;
    this.resolveSyncs();
  }

  private resolveSyncs(): void {
    let n = 0;
    while (n < this.syncs.length && this.syncs[n]!.seq <= this.appliedSeq) n++;
    if (n === 0) return;
    const done = this.syncs.splice(0, n);
    for (const w of done) w.resolve();
  }

  // ───────────────────────── Engine: writes ─────────────────────────

  put(key: Uint8Array, value: Uint8Array): void {
    this.write(new WriteBatch().put(key, value));
  }

  delete(key: Uint8Array): void {
    this.write(new WriteBatch().delete(key));
  }

  write(batch: WriteBatch): void {
    this.checkOpen();
    if (this.leadingTerm === undefined) throw new NotLeaderError(this.group, this.node, this.leaderHint);
    if (batch.length === 0) return;
    for (const op of batch.ops) {
      if (!isReplicatedKey(op.key)) {
        throw new NextDbError(
          SqlState.invalidParameterValue,
          'keys starting with byte 0xff are reserved for replica-local state',
        );
      }
    }
    if (this.pendingBytes + batch.byteSize > this.pendingBytesMax && this.pendingBytes > 0) {
      throw new NextDbError(
        CONFIGURATION_LIMIT_EXCEEDED,
        `raft group ${this.group}: ${this.pendingBytes} bytes of writes are waiting for the quorum (limit ${this.pendingBytesMax}); retry shortly`,
        { hint: 'The leader cannot commit as fast as it is written to, or has lost its quorum.' },
      );
    }
    this.pendingBytes += batch.byteSize;
    for (const op of batch.ops) {
      const seq = this.nextSeq++;
      this.overlay.set(toLatin1(op.key), { seq, value: op.kind === OpKind.put ? op.value : undefined });
      this.buffered.push({ op, seq });
      this.bufferedBytes += op.key.length + op.value.length;
    }
    this.batchEnds.push(this.buffered.length);
    if (this.bufferedBytes >= this.proposalBytesMax) this.proposePending();
    this.onWork?.();
  }

  sync(): Promise<void> {
    this.checkOpen();
    const seq = this.nextSeq - 1;
    if (this.leadingTerm === undefined || seq <= this.appliedSeq) return this.local.sync();
    return new Promise<void>((resolve, reject) => {
      this.syncs.push({ seq, resolve, reject });
      this.onWork?.();
    });
  }

  // ───────────────────────── Engine: reads ─────────────────────────

  get(key: Uint8Array): Buffer | undefined {
    this.checkOpen();
    if (!isReplicatedKey(key)) return undefined;
    return overlayGet(this.overlay.tree, this.local, key);
  }

  iterator(options: ScanOptions = {}): EngineIterator {
    this.checkOpen();
    return new MergedIterator(this.overlay.tree, this.local, clampToReplicated(options));
  }

  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this, options);
  }

  snapshot(): Snapshot {
    this.checkOpen();
    return new MergedSnapshot(this.overlay.clone(), this.local.snapshot());
  }

  flush(): Promise<void> {
    return this.local.flush();
  }

  compact(): Promise<void> {
    return this.local.compact();
  }

  stats(): EngineStats {
    return {
      ...this.local.stats(),
      overlayKeys: this.overlay.size,
      proposalsInflight: this.inflight.length,
      appliedIndex: this.appliedIndexValue,
    };
  }

  /** Rejects pending syncs and refuses further use; the local engine belongs to the caller. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.stopLeading(NONE);
    this.closed = true;
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.closed)
      throw new NextDbError(
        SqlState.adminShutdown,
        `replicated engine of raft group ${this.group} on node ${this.node} is closed`,
      );
  }
}

function sizeOf(ws: readonly PendingWrite[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += ws[i]!.op.key.length + ws[i]!.op.value.length;
  return n;
}

/** Restricts scan options to the replicated keyspace (below 0xff). */
export function clampToReplicated(options: ScanOptions): ScanOptions {
  const hi = options.lt ?? options.lte;
  if (hi !== undefined && (hi.length === 0 || hi[0]! < REPLICATED_END[0]!)) return options;
  const { lte: _lte, lt: _lt, ...rest } = options;
  return { ...rest, lt: REPLICATED_END };
}

/** A point-in-time view: a frozen overlay over a snapshot of the applied engine. */
export class MergedSnapshot implements Snapshot {
  private released = false;
  constructor(
    private readonly tree: OverlayTree,
    private readonly base: Snapshot,
  ) {}
  get(key: Uint8Array): Buffer | undefined {
    this.check();
    if (!isReplicatedKey(key)) return undefined;
    return overlayGet(this.tree, this.base, key);
  }
  iterator(options: ScanOptions = {}): EngineIterator {
    this.check();
    return new MergedIterator(this.tree, this.base, clampToReplicated(options));
  }
  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this as Reader, options);
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.base.release();
  }
  private check(): void {
    if (this.released) throw new Error('snapshot used after release');
  }
}

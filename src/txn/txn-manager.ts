/**
 * MvccTxnManager: hands out transactions over one Engine and owns what they
 * share: the HLC, the table of live transactions (for intent ownership and
 * lock waits), recovery at open, intent resolution and garbage collection.
 *
 * Life of a write (see docs/internals/transactions.md for the whole story):
 *
 *   put ──► head gets an intent {txn id, value}      (visible to nobody else;
 *                                                      it is the key's lock)
 *   commit ──► record {committed, commitTs, keys} ──► await engine.sync()
 *          ──► one batch: every head := committed version @commitTs, the
 *              superseded version moved to history, record deleted
 *
 * Crash safety: before the record is durable the transaction is aborted
 * (its intents are orphans: no live owner, no record); after, recovery at
 * open finishes the resolution from the record.
 *
 * Small transactions (at most `resolveSliceKeys` intents, nearly all of
 * them) commit without a record: one batch resolves every intent at
 * commitTs (the batch is the atomic, durable flip: before it is durable a
 * crash leaves orphan intents, after it the committed versions), then
 * `engine.sync()`. Until the sync resolves those versions are visible in
 * the engine but not durable, so the transaction stays live and
 * 'committing' and its commitTs is in `undurableFrom`: whoever meets a
 * version at or above that timestamp whose writer is still committing
 * waits for it, as readers wait for a committing transaction's intents.
 *
 * Resolution (at commit, and recovery at open) goes in slices of
 * `resolveSliceKeys` keys, one batch each, with a yield to other work
 * between slices, so a very large transaction does not hold the event loop
 * (a cluster leader keeps sending heartbeats). The record is deleted with
 * the last slice: until then it decides every intent not yet resolved, and
 * resolving again is a no-op. Meanwhile the transaction stays live and
 * 'committing', so readers and writers meeting its intents wait for it as
 * for any commit in flight. Either way all or
 * none of the transaction is visible. Intents of the previous boot can never
 * be mistaken for a live transaction's because transaction ids carry a boot
 * epoch that is persisted and bumped at every open.
 *
 * Waiting is in memory only (a txn's `waiters`), never in the on-disk
 * format: an intent just names its owner, and whoever meets it asks the
 * owner's state here.
 */

import type { Engine } from '../storage/engine.ts';
import { WriteBatch } from '../storage/write-batch.ts';
import { assert } from '../util/assert.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import type { IsolationLevel, Txn, TxnManager, TxnOptions } from './api.ts';
import { managerClosed } from './conflict-errors.ts';
import {
  decodeHead,
  encodeHead,
  encodeHistoryValue,
  IntentKind,
  NEEDS_DECODE,
  visibleWithoutIntent,
  type Head,
} from './head.ts';
import { Hlc, LOGICAL_PER_MS, type Timestamp } from './hlc.ts';
import {
  BOOT_KEY,
  decodeHistoryKey,
  HEAD_SPACE_END,
  HEAD_SPACE_START,
  headKey,
  HISTORY_SPACE_END,
  HISTORY_SPACE_START,
  historyKey,
  historyRange,
  HLC_CEILING_KEY,
  readU64,
  RECORD_SPACE_END,
  RECORD_SPACE_START,
  recordKey,
  u64Bytes,
  userKeyOfHead,
} from './keys.ts';
import { MvccTxn } from './transaction.ts';
import { decodeTxnRecord } from './txn-record.ts';

export interface TxnManagerOptions {
  /** Time source for the HLC (default: the system clock). */
  readonly clock?: Clock;
  /** Versions younger than this stay readable even when no transaction needs them (default 0). */
  readonly gcRetentionMs?: number;
  /**
   * Run GC in the background after this many write commits (default 4096;
   * 0: only when `gc()` is called).
   */
  readonly gcEveryCommits?: number;
  /** Intents resolved per batch (at commit and at recovery) before yielding (default RESOLVE_SLICE_KEYS). */
  readonly resolveSliceKeys?: number;
  /** How resolution yields between slices (default: setImmediate; a cluster node passes its scheduler). */
  readonly yieldToOthers?: () => Promise<void>;
}

/** A committed transaction's intents are resolved this many per batch, with a yield between batches. */
export const RESOLVE_SLICE_KEYS = 1024;

const yieldImmediate = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export interface GcStats {
  readonly horizon: Timestamp;
  readonly versionsRemoved: number;
  readonly headsRemoved: number;
}

/** How far ahead of handed-out timestamps the persisted HLC ceiling runs. */
const HLC_CEILING_WINDOW = 10_000 * LOGICAL_PER_MS;
/** GC writes its deletions in batches of at most this many keys. */
const GC_BATCH_KEYS_MAX = 1024;
/** Incremental GC lets other work run after this many candidate keys. */
const GC_KEYS_PER_YIELD = 256;
/** More GC candidates than this: forget them and sweep everything once instead. */
const GC_CANDIDATES_MAX = 1 << 20;
const TWO_32 = 0x1_0000_0000;
const BOOT_MAX = 0x1f_ffff; // ids are boot * 2^32 + seq and must stay safe integers

export class MvccTxnManager implements TxnManager {
  readonly hlc: Hlc;
  /**
   * Live (active or committing) transactions of this boot, by sequence
   * number: a small integer, which V8's Map hashes much faster than the
   * full id (boot * 2^32 + seq), a heap number.
   */
  private readonly live = new Map<number, MvccTxn>();
  private readonly bootBase: number;
  /** The largest commit timestamp handed to any transaction; lets read refresh skip work. */
  lastCommitTs: Timestamp = 0;
  /**
   * The smallest commit timestamp of a record-less commit still waiting for
   * its sync (Infinity: none). A committed version at or above it may not
   * be durable yet: readers and writers that meet one check its writer and
   * wait while it is committing (see MvccTxn.commitWrites).
   */
  undurableFrom: Timestamp = Infinity;
  private readonly undurable = new Set<MvccTxn>();
  private seq = 0;
  private ceiling: Timestamp = 0;
  private closed = false;
  private commitsSinceGc = 0;
  private gcRunning: Promise<GcStats> | undefined;
  /** Committed-but-unresolved transactions that recovery finished at open (diagnostics, tests). */
  recoveredRecords = 0;
  /** The last error of a background GC run, for diagnostics (GC failing never fails a commit). */
  lastGcError: unknown;
  /**
   * Head keys (latin1) whose history or tombstone some later GC may
   * remove: every key a commit superseded or deleted since the last
   * background run, plus keys that run had to keep. Background GC visits
   * only these (work proportional to the writes, not to the table sizes),
   * after one full sweep per boot for what earlier boots left.
   */
  private gcCandidates = new Set<string>();
  private gcFullSweepDone = false;
  private readonly resolveSliceKeys: number;
  private readonly yieldToOthers: () => Promise<void>;

  private constructor(
    readonly engine: Engine,
    readonly boot: number,
    clock: Clock,
    private readonly gcRetentionMs: number,
    private readonly gcEveryCommits: number,
    options: TxnManagerOptions,
  ) {
    assert(
      options.resolveSliceKeys === undefined || options.resolveSliceKeys >= 1,
      'resolveSliceKeys must be at least 1',
    );
    this.resolveSliceKeys = options.resolveSliceKeys ?? RESOLVE_SLICE_KEYS;
    this.yieldToOthers = options.yieldToOthers ?? yieldImmediate;
    this.hlc = new Hlc(clock);
    this.bootBase = boot * TWO_32;
  }

  /** The live transaction with this id, if any (ids of earlier boots are never live). */
  liveTxn(id: number): MvccTxn | undefined {
    const seq = id - this.bootBase;
    return seq >= 0 && seq < TWO_32 ? this.live.get(seq) : undefined;
  }

  /** Called by a transaction when it ends. */
  unregister(id: number): void {
    this.live.delete(id - this.bootBase);
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** Opens the manager: bumps the boot epoch, restores the HLC, finishes committed transactions. */
  static async open(engine: Engine, options: TxnManagerOptions = {}): Promise<MvccTxnManager> {
    const bootRaw = engine.get(BOOT_KEY);
    const boot = (bootRaw === undefined ? 0 : bootRaw.readUInt32BE(0)) + 1;
    assert(boot <= BOOT_MAX, 'boot epoch exhausted');
    const bootBuf = Buffer.allocUnsafe(4);
    bootBuf.writeUInt32BE(boot, 0);
    engine.put(BOOT_KEY, bootBuf);
    const m = new MvccTxnManager(
      engine,
      boot,
      options.clock ?? systemClock,
      options.gcRetentionMs ?? 0,
      options.gcEveryCommits ?? 4096,
      options,
    );
    const ceilingRaw = engine.get(HLC_CEILING_KEY);
    if (ceilingRaw !== undefined) m.hlc.update(readU64(ceilingRaw, 0));
    m.now(); // persists a fresh ceiling
    await m.recover();
    // A keyspace without any version yet has nothing an earlier boot left for GC: the
    // background runs can visit only the keys written from now on (no full sweep first).
    const it = engine.iterator({ gte: HEAD_SPACE_START, lt: HISTORY_SPACE_END });
    try {
      if (!it.valid()) m.gcFullSweepDone = true;
    } finally {
      it.close();
    }
    await engine.sync();
    return m;
  }

  begin(options: TxnOptions = {}): Txn {
    return this.beginTxn(options.isolation ?? 'serializable', options.readOnly ?? false);
  }

  beginTxn(isolation: IsolationLevel, readOnly: boolean): MvccTxn {
    if (this.closed) throw managerClosed();
    const seq = this.seq++;
    assert(seq < TWO_32, 'transaction id space of this boot exhausted');
    const txn = new MvccTxn(this, this.bootBase + seq, isolation, readOnly);
    this.live.set(seq, txn);
    return txn;
  }

  /**
   * The read-only fast path for one key outside any transaction (a SQL
   * point SELECT in an implicit transaction): what `begin()`, `get(key)`,
   * `commit()` would return, when that is known without waiting or
   * resolving, i.e. when the head (`hk`, SPACE_HEAD then the user key)
   * carries no intent. Nothing is allocated or registered: no transaction,
   * no timestamp taken. The read happens at a snapshot just above
   * `hlc.peek()`: every committed version's timestamp was handed out by
   * this HLC before, so a fresh snapshot would see exactly the newest
   * committed version, which is what is returned (undefined for a tombstone
   * or a missing key). It holds no GC horizon because it is synchronous.
   *
   * NEEDS_DECODE when the head has an intent (another transaction's write
   * or lock, possibly committing, or an orphan) or the manager is closed:
   * the caller then reads in a real transaction, which handles the intent
   * as every read does (waits for a committing owner, resolves an orphan,
   * else reads the committed version). `hk` is not kept.
   */
  readLatestCommitted(hk: Uint8Array): Buffer | undefined | typeof NEEDS_DECODE {
    if (this.closed) return NEEDS_DECODE;
    const raw = this.engine.get(hk);
    return raw === undefined ? undefined : visibleWithoutIntent(raw, this.hlc.peek(), this.undurableFrom);
  }

  /** Whether a commit of `keys` intents takes the record-less path (one batch; small enough not to need slices). */
  commitsWithoutRecord(keys: number): boolean {
    return keys <= this.resolveSliceKeys;
  }

  /** A record-less commit wrote its versions at `txn.committedAt` and now waits for its sync. */
  beginUndurable(txn: MvccTxn): void {
    this.undurable.add(txn);
    if (txn.committedAt < this.undurableFrom) this.undurableFrom = txn.committedAt;
  }

  /** Its sync is over (or failed): its versions count as durable. */
  endUndurable(txn: MvccTxn): void {
    if (!this.undurable.delete(txn) || txn.committedAt !== this.undurableFrom) return;
    let min = Infinity;
    for (const t of this.undurable) if (t.committedAt < min) min = t.committedAt;
    this.undurableFrom = min;
  }

  /** A fresh timestamp; keeps the persisted ceiling ahead of it. */
  now(): Timestamp {
    const ts = this.hlc.now();
    if (ts >= this.ceiling) {
      // Written without its own sync: any commit at a timestamp above the
      // old ceiling syncs after this put, and the engine makes writes
      // durable in order.
      this.ceiling = ts + HLC_CEILING_WINDOW;
      this.engine.put(HLC_CEILING_KEY, u64Bytes(this.ceiling));
    }
    return ts;
  }

  /**
   * Whether a commit at `commitTs` by `writerId` must keep the versions it
   * supersedes as history: some other live transaction reads at a snapshot
   * below `commitTs`, or the retention window keeps old versions. When not,
   * no reader can ever ask for them: every snapshot comes from this HLC,
   * which is monotonic, so transactions that have not taken one yet (or
   * begin later) read above `commitTs`; the versions would be garbage the
   * moment they are written (GC removes a version once the newer one is at
   * or below the horizon), so they are not written at all. The writer's own
   * snapshot does not count: it is finishing. Cost: one pass over the live
   * transactions per commit.
   */
  keepsHistory(commitTs: Timestamp, writerId: number): boolean {
    if (this.gcRetentionMs > 0) return true;
    for (const t of this.live.values()) {
      if (t.numericId === writerId) continue;
      const ts = t.snapshotTsIfTaken();
      if (ts !== 0 && ts < commitTs) return true;
    }
    return false;
  }

  /**
   * Adds to `batch` the resolution of `txnId`'s intent on the key, as
   * committed at `commitTs` or (undefined) aborted. Skips keys whose head
   * no longer carries that transaction's intent, so it is idempotent.
   * `history`: keep the superseded committed version as history (what
   * keepsHistory(commitTs, txnId) says; ignored for an abort).
   */
  resolveIntentInto(
    batch: WriteBatch,
    hk: Buffer,
    txnId: number,
    commitTs: Timestamp | undefined,
    history: boolean,
  ): void {
    const raw = this.engine.get(hk);
    if (raw === undefined) return;
    const h = decodeHead(raw);
    if (h.intentTxn !== txnId) return;
    const next = resolvedHead(h, hk, txnId, commitTs, history, batch);
    if (next === undefined) batch.delete(hk);
    else batch.put(hk, next);
    // A superseded version went to history, or the key is now a tombstone: something for GC later.
    if (
      commitTs !== undefined &&
      h.intentKind !== IntentKind.lock &&
      ((history && h.committedTs !== 0) || h.intentKind === IntentKind.delete)
    )
      this.noteGcCandidate(hk);
  }

  private noteGcCandidate(hk: Buffer): void {
    if (this.gcCandidates.size >= GC_CANDIDATES_MAX) {
      this.gcCandidates.clear();
      this.gcFullSweepDone = false;
    }
    if (this.gcFullSweepDone) this.gcCandidates.add(hk.toString('latin1'));
  }

  /**
   * Resolves an intent whose owner is not live: the owner committed if its
   * record says so (then the whole record is finished), else it is aborted.
   */
  resolveOrphan(hk: Buffer, h: Head): void {
    assert(this.liveTxn(h.intentTxn) === undefined, 'resolveOrphan on a live transaction');
    const rk = recordKey(h.intentTxn);
    const rec = this.engine.get(rk);
    const batch = new WriteBatch();
    if (rec !== undefined) {
      const r = decodeTxnRecord(rec);
      const history = this.keepsHistory(r.commitTs, h.intentTxn);
      for (const k of r.keys) this.resolveIntentInto(batch, headKey(k), h.intentTxn, r.commitTs, history);
      batch.delete(rk);
    } else {
      this.resolveIntentInto(batch, hk, h.intentTxn, undefined, false);
    }
    this.engine.write(batch);
  }

  /**
   * Resolves committed transaction `txnId`'s intents on `hks` (head keys)
   * at `commitTs` and deletes its record `rk` with the last of them: at once
   * when they fit in one slice (undefined: nothing to wait for, the common
   * case costs no extra await), else in slices with a yield between them
   * (see the header; the promise settles after the last). Slicing stops
   * early when the manager closes meanwhile (its engine may be going away):
   * the record stays, and recovery at the next open, or a reader meeting an
   * intent whose owner is gone (resolveOrphan), finishes the job.
   */
  resolveCommitted(hks: readonly Buffer[], txnId: number, commitTs: Timestamp, rk: Buffer): Promise<void> | undefined {
    if (hks.length > this.resolveSliceKeys) return this.resolveInSlices(hks, txnId, commitTs, rk);
    const batch = new WriteBatch();
    const history = this.keepsHistory(commitTs, txnId);
    for (const hk of hks) this.resolveIntentInto(batch, hk, txnId, commitTs, history);
    batch.delete(rk);
    this.engine.write(batch);
    return undefined;
  }

  private async resolveInSlices(hks: readonly Buffer[], txnId: number, commitTs: Timestamp, rk: Buffer): Promise<void> {
    let i = 0;
    // Decided once: transactions that begin between slices read above commitTs.
    const history = this.keepsHistory(commitTs, txnId);
    for (;;) {
      const end = Math.min(hks.length, i + this.resolveSliceKeys);
      const batch = new WriteBatch();
      for (; i < end; i++) this.resolveIntentInto(batch, hks[i]!, txnId, commitTs, history);
      if (i === hks.length) batch.delete(rk);
      this.engine.write(batch);
      if (i === hks.length) return;
      await this.yieldToOthers();
      if (this.closed) return;
    }
  }

  /** Finishes the resolution of every committed record left by a crash (or by the previous leader). */
  private async recover(): Promise<void> {
    const records: [Buffer, Buffer][] = [...this.engine.scan({ gte: RECORD_SPACE_START, lt: RECORD_SPACE_END })];
    this.recoveredRecords = records.length;
    for (const [, rv] of records) this.hlc.update(decodeTxnRecord(rv).commitTs);
    let keysSinceYield = 0;
    for (const [rk, rv] of records) {
      const r = decodeTxnRecord(rv);
      const slicing = this.resolveCommitted(
        r.keys.map((k) => headKey(k)),
        readU64(rk, 1),
        r.commitTs,
        rk,
      );
      if (slicing !== undefined) await slicing;
      // Many small records (a crash under load) are sliced too: a yield after each slice's worth of keys.
      keysSinceYield += r.keys.length;
      if (keysSinceYield >= this.resolveSliceKeys && rk !== records[records.length - 1]![0]) {
        keysSinceYield = 0;
        await this.yieldToOthers();
      }
      if (this.closed) return;
    }
  }

  /** Called after every write commit; starts a background GC run every `gcEveryCommits`. */
  noteCommit(): void {
    if (
      this.gcEveryCommits <= 0 ||
      ++this.commitsSinceGc < this.gcEveryCommits ||
      this.gcRunning !== undefined ||
      this.closed
    )
      return;
    this.gcRunning = this.gcFullSweepDone ? this.gcCandidateKeys() : this.gc();
    this.gcRunning.then(
      () => (this.gcRunning = undefined),
      (e: unknown) => {
        this.lastGcError = e;
        this.gcRunning = undefined;
      },
    );
  }

  /** The oldest timestamp any live transaction (or the retention window) may still read at. */
  horizon(): Timestamp {
    let h = this.hlc.now() - Math.floor(this.gcRetentionMs * LOGICAL_PER_MS);
    for (const t of this.live.values()) {
      const ts = t.snapshotTsIfTaken();
      if (ts !== 0 && ts < h) h = ts;
    }
    return h;
  }

  /**
   * Removes versions no reader at or above the horizon can see: history
   * versions older than the newest one at or below the horizon, and
   * tombstone heads at or below it (with all their history).
   */
  async gc(): Promise<GcStats> {
    if (this.closed) throw managerClosed();
    this.commitsSinceGc = 0;
    // Candidates noted from here on are visited by the next background runs; older ones this sweep covers.
    this.gcFullSweepDone = true;
    const horizon = this.horizon();

    // History: per user key, newest first. A version at or below the horizon
    // is needed only if it is the newest such (the head is newer than the horizon).
    let currentUser: Buffer | undefined;
    let haveVisibleAtHorizon = false;
    const versionsRemoved = await this.sweep(
      HISTORY_SPACE_START,
      HISTORY_SPACE_END,
      (key, _value, batch) => {
        const { userKey, ts } = decodeHistoryKey(key);
        if (currentUser === undefined || !currentUser.equals(userKey)) {
          currentUser = userKey;
          const head = this.engine.get(headKey(userKey));
          const h = head === undefined ? undefined : decodeHead(head);
          haveVisibleAtHorizon = h === undefined || h.committedTs === 0 || h.committedTs <= horizon;
        }
        if (ts > horizon || !haveVisibleAtHorizon) {
          // Kept for now: a later background run looks at this key again.
          this.noteGcCandidate(headKey(userKey));
          if (ts <= horizon) haveVisibleAtHorizon = true;
          return;
        }
        batch.delete(key);
      },
      // The head may change while GC yields; re-read it (keeping more is safe).
      () => (currentUser = undefined),
    );

    // Heads: tombstones at or below the horizon go (keeping any intent).
    const headsRemoved = await this.sweep(HEAD_SPACE_START, HEAD_SPACE_END, (key, value, batch) => {
      const h = decodeHead(value);
      if (h.committedTs === 0 || h.committedValue !== undefined) return;
      if (h.committedTs > horizon) {
        this.noteGcCandidate(key);
        return;
      }
      const next = encodeHead({ ...h, committedTs: 0, committedTxn: 0, committedValue: undefined });
      if (next === undefined) batch.delete(key);
      else batch.put(key, next);
    });
    return { horizon, versionsRemoved, headsRemoved };
  }

  /**
   * Background GC after the first full sweep: the same removals as gc(),
   * for the candidate keys only. Each key is handled without awaiting
   * (head and history read together); keys with versions the horizon still
   * protects stay candidates.
   */
  private async gcCandidateKeys(): Promise<GcStats> {
    if (this.closed) throw managerClosed();
    this.commitsSinceGc = 0;
    const horizon = this.horizon();
    const keys = this.gcCandidates;
    this.gcCandidates = new Set();
    let versionsRemoved = 0;
    let headsRemoved = 0;
    let batch = new WriteBatch();
    let visited = 0;
    for (const k of keys) {
      if (this.closed) break;
      const hk = Buffer.from(k, 'latin1');
      const r = this.collectKey(hk, horizon, batch);
      versionsRemoved += r.versions;
      headsRemoved += r.heads;
      if (r.keep) this.gcCandidates.add(k);
      if (batch.length >= GC_BATCH_KEYS_MAX || ++visited % GC_KEYS_PER_YIELD === 0) {
        if (batch.length > 0) this.engine.write(batch);
        batch = new WriteBatch();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (batch.length > 0 && !this.closed) this.engine.write(batch);
    return { horizon, versionsRemoved, headsRemoved };
  }

  /** gc()'s two rules for one key (history first, then the head); `keep` when something may go later. */
  private collectKey(
    hk: Buffer,
    horizon: Timestamp,
    batch: WriteBatch,
  ): { keep: boolean; versions: number; heads: number } {
    const raw = this.engine.get(hk);
    const h = raw === undefined ? undefined : decodeHead(raw);
    let haveVisibleAtHorizon = h === undefined || h.committedTs === 0 || h.committedTs <= horizon;
    let keep = false;
    let versions = 0;
    let heads = 0;
    const it = this.engine.iterator(historyRange(userKeyOfHead(hk)));
    try {
      // Newest first.
      for (; it.valid(); it.next()) {
        const { ts } = decodeHistoryKey(it.key());
        if (ts > horizon) {
          keep = true;
          continue;
        }
        if (!haveVisibleAtHorizon) {
          haveVisibleAtHorizon = true;
          keep = true;
        } else {
          batch.delete(Buffer.from(it.key()));
          versions++;
        }
      }
    } finally {
      it.close();
    }
    if (h !== undefined && h.committedTs !== 0 && h.committedValue === undefined) {
      if (h.committedTs > horizon) keep = true;
      else {
        const next = encodeHead({ ...h, committedTs: 0, committedTxn: 0, committedValue: undefined });
        if (next === undefined) batch.delete(hk);
        else batch.put(hk, next);
        heads++;
      }
    }
    return { keep, versions, heads };
  }

  /**
   * Walks [gte, lt) calling `visit`, which adds what to change to a batch;
   * writes the batch every GC_BATCH_KEYS_MAX changes (never while an
   * iterator is open) and yields between batches. Returns the change count.
   */
  private async sweep(
    gte: Buffer,
    lt: Buffer,
    visit: (key: Buffer, value: Buffer, batch: WriteBatch) => void,
    onResume?: () => void,
  ): Promise<number> {
    let changes = 0;
    let from = gte;
    for (;;) {
      const batch = new WriteBatch();
      let resumeAt: Buffer | undefined;
      const it = this.engine.iterator({ gte: from, lt });
      try {
        for (; it.valid(); it.next()) {
          if (batch.length >= GC_BATCH_KEYS_MAX) {
            resumeAt = Buffer.from(it.key());
            break;
          }
          visit(it.key(), it.value(), batch);
        }
      } finally {
        it.close();
      }
      if (batch.length > 0) this.engine.write(batch);
      changes += batch.length;
      if (resumeAt === undefined) return changes;
      from = resumeAt;
      onResume?.();
      await Promise.resolve(); // let other work run between batches
    }
  }

  stats(): { live: number; boot: number; lastCommitTs: Timestamp } {
    return { live: this.live.size, boot: this.boot, lastCommitTs: this.lastCommitTs };
  }

  /** Aborts live transactions and refuses new ones. Does not close the engine (the caller owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [...this.live.values()]) t.abortFromManager();
    if (this.gcRunning !== undefined) await this.gcRunning.catch(() => undefined);
    await this.engine.sync();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * The head after resolving `txnId`'s intent; for a committed put/delete the
 * superseded committed version is added to `batch` as history when
 * `history` (see MvccTxnManager.keepsHistory).
 */
function resolvedHead(
  h: Head,
  hk: Buffer,
  txnId: number,
  commitTs: Timestamp | undefined,
  history: boolean,
  batch: WriteBatch,
): Buffer | undefined {
  if (commitTs === undefined || h.intentKind === IntentKind.lock) {
    return encodeHead({ ...h, intentTxn: 0, intentKind: IntentKind.lock, intentValue: undefined });
  }
  assert(commitTs > h.committedTs, 'commit timestamp not above the previous version');
  if (h.committedTs !== 0) {
    // The superseded version goes to history only when some reader may still ask for it (keepsHistory).
    if (history)
      batch.put(historyKey(userKeyOfHead(hk), h.committedTs), encodeHistoryValue(h.committedTxn, h.committedValue));
  } else if (h.intentKind === IntentKind.delete) {
    return undefined; // deleting a key that never had a committed version leaves nothing
  }
  return encodeHead({
    committedTs: commitTs,
    committedTxn: txnId,
    committedValue: h.intentKind === IntentKind.put ? (h.intentValue ?? Buffer.alloc(0)) : undefined,
    intentTxn: 0,
    intentKind: IntentKind.lock,
    intentValue: undefined,
  });
}

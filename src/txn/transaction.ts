/**
 * MvccTxn: one transaction over the MVCC keyspace (see txn-manager.ts for
 * the shared machinery and keys.ts / head.ts for the format).
 *
 * Snapshot: taken at the first statement (first `beginStatement()` or first
 * operation), as PostgreSQL does; READ COMMITTED takes a fresh one at every
 * `beginStatement()`. A read at snapshot `ts` sees, per key:
 *   - this transaction's own intent, if any (a lock-only intent shows the
 *     latest committed version: the key is locked so it cannot change);
 *   - else the newest committed version with commit ts <= ts (the head, or
 *     history when the head is newer);
 *   - another transaction's intent is invisible, except when its owner is
 *     committing with commit ts <= ts: then the reader waits for the commit
 *     to be durable and resolved, and reads again.
 * Single node, commit timestamps come from the same monotonic HLC after the
 * owner's last write, so a pending intent always commits above the snapshot
 * of anyone who ignored it.
 *
 * Writes: an intent on the head is the key's write lock. A writer that meets
 * another live transaction's intent waits (deadlock check first: every txn
 * waits for at most one other, so a cycle is found by walking the chain);
 * then, under REPEATABLE READ and SERIALIZABLE, a committed version newer
 * than the snapshot fails it with 40001 (first updater wins); READ
 * COMMITTED proceeds on the latest version (reads of keys it has locked see
 * the latest committed version: PostgreSQL's EvalPlanQual re-check).
 *
 * SERIALIZABLE: read refresh. The transaction records the keys it read and
 * the ranges it scanned; at commit, with its commit timestamp chosen, it
 * checks that nothing in them got a committed version newer than its
 * snapshot. If so its reads are still true at the commit timestamp, its
 * writes land there, and the history is serializable in commit-timestamp
 * order; otherwise 40001. Read-only transactions need no refresh: they
 * serialize at their snapshot.
 *
 * Savepoints keep an undo log in memory (the previous intent of each write);
 * rolling back restores those intents, releasing locks taken after the
 * savepoint. After a 40001/40P01 the transaction is already rolled back and
 * accepts only `rollback()`.
 */

import { WriteBatch } from '../storage/write-batch.ts';
import { assert } from '../util/assert.ts';
import { NextDbError } from '../util/errors.ts';
import type { IsolationLevel, KeyValue, Txn, TxnScanOptions, TxnState } from './api.ts';
import {
  concurrentUpdate,
  deadlockVictim,
  managerClosed,
  noSuchSavepoint,
  readOnlyWrite,
  readWriteConflict,
  statementRetry,
  txnAborted,
  txnFinished,
  writeRefreshFailed,
} from './conflict-errors.ts';
import {
  decodeHead,
  decodeHistoryValue,
  encodeHead,
  IntentKind,
  NEEDS_DECODE,
  visibleWithoutIntent,
  type Head,
} from './head.ts';
import type { Timestamp } from './hlc.ts';
import { decodeHistoryKey, formatTxnId, headKey, historyKey, historyRange, recordKey, userKeyOfHead } from './keys.ts';
import type { MvccTxnManager } from './txn-manager.ts';
import { txnCounters } from './txn-metrics.ts';
import { encodeTxnRecord } from './txn-record.ts';

/**
 * 'failed': a statement failed with 40001/40P01 while savepoints existed;
 * like PostgreSQL's failed transaction block, it keeps its locks and accepts
 * only rollback() or rollbackToSavepoint(), which makes it active again.
 */
type Phase = 'active' | 'failed' | 'committing' | 'committed' | 'aborted';

/** One write's undo entry: the intent this transaction had on the key before (undefined: none). */
interface UndoEntry {
  readonly hk: Buffer;
  readonly prevKind: IntentKind | undefined;
  readonly prevValue: Buffer | undefined;
}

interface Savepoint {
  readonly name: string;
  readonly undoLength: number;
}

interface Span {
  readonly gte: Buffer;
  readonly lt: Buffer;
}

/** What a read refresh found changed: the head key, its head, and whether it was read as a key or in a scanned range. */
interface RefreshConflict {
  readonly hk: Buffer;
  readonly head: Head;
  readonly what: 'key' | 'range';
}

/** Result of looking at a head from a reader's point of view. */
const Look = {
  /** Use the committed part (at the snapshot). */
  committed: 0,
  /** Own put/delete intent: use the intent. */
  ownIntent: 1,
  /** Own lock: latest committed version. */
  ownLock: 2,
  /** Owner committing at or below the snapshot: wait, then look again. */
  wait: 3,
  /** Owner gone: resolve, then look again. */
  orphan: 4,
  /** The committed version's writer is still waiting for its sync (record-less commit): wait, then look again. */
  waitDurable: 5,
} as const;
type Look = (typeof Look)[keyof typeof Look];

const MAX_WAIT_CHAIN = 10_000;
const NO_READ_KEYS: readonly Buffer[] = Object.freeze([]);
const NO_READ_SPANS: readonly Span[] = Object.freeze([]);

/** What `lockForStatement` resolves to when it did nothing: the caller reads and locks as usual. */
export const NOT_LOCKED: unique symbol = Symbol('not locked');

export class MvccTxn implements Txn {
  private phase: Phase = 'active';
  /** 0 until the first statement takes the snapshot. */
  private readTs: Timestamp = 0;
  private commitTs: Timestamp = 0;
  /** Heads this transaction holds an intent on, by latin1 key (allocated on first write). */
  private intents: Map<string, Buffer> | undefined;
  private readonly undo: UndoEntry[] = [];
  private readonly savepoints: Savepoint[] = [];
  /** SERIALIZABLE read set: head keys read and head ranges scanned. */
  private readonly readKeys: Buffer[];
  private readonly readSpans: Span[];
  private readonly trackReads: boolean;
  /** The transaction this one waits for (deadlock detection). */
  waitingFor: MvccTxn | undefined;
  /** Allocated when the first waiter comes (most transactions never have one). */
  private waiters: (() => void)[] | undefined;
  private idText: string | undefined;
  /**
   * Where the current statement began (set by beginStatement): lengths of
   * the undo log and of the read set, and how many savepoints had been
   * taken. A write refresh undoes the statement back to these marks.
   */
  private stmtUndo = 0;
  private stmtReadKeys = 0;
  private stmtReadSpans = 0;
  private stmtSavepointsMade = 0;
  private savepointsMade = 0;
  /** Set by a write refresh: the failed block may become active again through retryStatement(). */
  private retryPending = false;

  constructor(
    private readonly mgr: MvccTxnManager,
    readonly numericId: number,
    readonly isolation: IsolationLevel,
    readonly readOnly: boolean,
  ) {
    this.trackReads = isolation === 'serializable' && !readOnly;
    // Pushed to only when trackReads: the others share one empty array (no allocation per transaction).
    this.readKeys = this.trackReads ? [] : (NO_READ_KEYS as Buffer[]);
    this.readSpans = this.trackReads ? [] : (NO_READ_SPANS as Span[]);
  }

  get id(): string {
    this.idText ??= formatTxnId(this.numericId);
    return this.idText;
  }

  get state(): TxnState {
    // A failed transaction still holds its locks: callers that roll back
    // whatever is 'active' must release it, so it reports 'active'.
    if (this.phase === 'committing' || this.phase === 'failed') return 'active';
    return this.phase;
  }

  /** Commit timestamp while committing or after commit; 0 otherwise. */
  get committedAt(): Timestamp {
    return this.commitTs;
  }

  /** True after a 40001/40P01 inside a savepoint, until rollback or rollback-to-savepoint. */
  get failed(): boolean {
    return this.phase === 'failed';
  }

  get isCommitting(): boolean {
    return this.phase === 'committing';
  }

  snapshotTsIfTaken(): Timestamp {
    return this.readTs;
  }

  /**
   * Whether this transaction holds an intent (a lock or a write) on the key
   * whose head key, as latin1, is `hkLatin1`. While it holds none and the
   * snapshot (snapshotTsIfTaken) stays the same, a read of that key gives
   * the answer it gave before: the SQL session reuses the catalog it read
   * for the block's earlier statements on that ground.
   */
  holdsIntent(hkLatin1: string): boolean {
    return this.intents?.has(hkLatin1) === true;
  }

  beginStatement(): void {
    this.checkActive();
    if (this.readTs === 0 || this.isolation === 'read committed') this.readTs = this.mgr.now();
    this.stmtUndo = this.undo.length;
    this.stmtReadKeys = this.readKeys.length;
    this.stmtReadSpans = this.readSpans.length;
    this.stmtSavepointsMade = this.savepointsMade;
  }

  /**
   * After a StatementRetryError (a write refresh moved the snapshot past a
   * concurrent commit and undid the statement): makes the transaction
   * active again, at the new snapshot, to run the same statement anew.
   * False when there is nothing to retry (any other error, or the block was
   * rolled back meanwhile): the caller then handles the error as a 40001.
   */
  retryStatement(): boolean {
    if (this.phase !== 'failed' || !this.retryPending || this.mgr.isClosed) return false;
    this.retryPending = false;
    this.phase = 'active';
    return true;
  }

  // ─── reads ────────────────────────────────────────────────────────────

  get(key: Uint8Array): Promise<Buffer | undefined> {
    // Fast path, not an async function: a committed head with no intent at
    // or below the snapshot is the common case and costs one engine get.
    if (this.phase === 'active' && !this.mgr.isClosed) {
      const ts = this.readTs === 0 ? this.snapshot() : this.readTs;
      const hk = headKey(key);
      const raw = this.mgr.engine.get(hk);
      const fast = raw === undefined ? undefined : visibleWithoutIntent(raw, ts, this.mgr.undurableFrom);
      if (fast !== NEEDS_DECODE) {
        if (this.trackReads) this.readKeys.push(hk);
        return fast === undefined ? RESOLVED_UNDEFINED : Promise.resolve(fast);
      }
    }
    return this.getSlow(key);
  }

  /**
   * `get` by the head key (SPACE_HEAD then the user key) the caller built,
   * e.g. in a reused buffer: the fast path allocates no key. `hk` is not
   * kept (copied when the read set or the slow path needs it), so it may be
   * a view the caller overwrites afterwards.
   */
  getByHeadKey(hk: Buffer): Promise<Buffer | undefined> {
    if (this.phase === 'active' && !this.mgr.isClosed) {
      const ts = this.readTs === 0 ? this.snapshot() : this.readTs;
      const raw = this.mgr.engine.get(hk);
      const fast = raw === undefined ? undefined : visibleWithoutIntent(raw, ts, this.mgr.undurableFrom);
      if (fast !== NEEDS_DECODE) {
        if (this.trackReads) this.readKeys.push(Buffer.from(hk));
        return fast === undefined ? RESOLVED_UNDEFINED : Promise.resolve(fast);
      }
    }
    return this.getSlow(userKeyOfHead(Buffer.from(hk)));
  }

  private async getSlow(key: Uint8Array): Promise<Buffer | undefined> {
    this.checkActive();
    const ts = this.snapshot();
    const hk = headKey(key);
    for (;;) {
      const raw = this.mgr.engine.get(hk);
      if (raw === undefined) break;
      const h = decodeHead(raw);
      const look = this.look(h, ts);
      if (look === Look.committed) {
        const v = h.committedTs <= ts ? h.committedValue : this.historyAt(key, ts);
        if (v instanceof MvccTxn) {
          await this.waitFor(v, key);
          continue;
        }
        if (this.trackReads) this.readKeys.push(hk);
        return v;
      }
      if (look === Look.ownIntent) return h.intentValue;
      if (look === Look.ownLock) return h.committedValue;
      if (look === Look.orphan) this.mgr.resolveOrphan(hk, h);
      else await this.waitFor(this.blocker(h, look, ts), key);
    }
    if (this.trackReads) this.readKeys.push(hk);
    return undefined;
  }

  async scan(options: TxnScanOptions): Promise<KeyValue[]> {
    this.checkActive();
    const ts = this.snapshot();
    const reverse = options.reverse === true;
    const limit = options.limit ?? Infinity;
    const out: KeyValue[] = [];
    let lo = headKey(options.start);
    let hi = headKey(options.end);
    if (limit <= 0 || Buffer.compare(lo, hi) >= 0) return out;
    for (;;) {
      /** Where the scan stopped to resolve or wait; `writer`: the undurable writer of the history version it needs. */
      let stopAt: { hk: Buffer; head: Head; writer?: MvccTxn } | undefined;
      const it = this.mgr.engine.iterator(reverse ? { gte: lo, lt: hi, reverse } : { gte: lo, lt: hi });
      try {
        for (; it.valid() && out.length < limit; it.next()) {
          const raw = it.value();
          const fast = visibleWithoutIntent(raw, ts, this.mgr.undurableFrom);
          if (fast !== NEEDS_DECODE) {
            if (fast !== undefined) out.push({ key: Buffer.from(userKeyOfHead(it.key())), value: Buffer.from(fast) });
            continue;
          }
          const h = decodeHead(raw);
          const look = this.look(h, ts);
          let v: Buffer | undefined;
          if (look === Look.committed) {
            const hv = h.committedTs <= ts ? h.committedValue : this.historyAt(userKeyOfHead(it.key()), ts);
            if (hv instanceof MvccTxn) {
              stopAt = { hk: Buffer.from(it.key()), head: h, writer: hv };
              break;
            }
            v = hv;
          } else if (look === Look.ownIntent) {
            v = h.intentValue;
          } else if (look === Look.ownLock) {
            v = h.committedValue;
          } else {
            // Resolving or waiting changes the keyspace: leave the iterator first.
            stopAt = { hk: Buffer.from(it.key()), head: h };
            break;
          }
          if (v !== undefined) out.push({ key: Buffer.from(userKeyOfHead(it.key())), value: Buffer.from(v) });
        }
      } finally {
        it.close();
      }
      if (stopAt === undefined) break;
      const look = this.look(stopAt.head, ts);
      if (stopAt.writer !== undefined) await this.waitFor(stopAt.writer, userKeyOfHead(stopAt.hk));
      else if (look === Look.orphan) this.mgr.resolveOrphan(stopAt.hk, stopAt.head);
      else await this.waitFor(this.blocker(stopAt.head, look, ts), userKeyOfHead(stopAt.hk));
      // Resume at the key we stopped on (inclusive).
      if (reverse) hi = Buffer.concat([stopAt.hk, ZERO_BYTE]);
      else lo = stopAt.hk;
    }
    if (this.trackReads) {
      // The range actually examined: up to the last returned key when the limit cut the scan short.
      const full = out.length < limit;
      const start = headKey(options.start);
      const end = headKey(options.end);
      const last = out[out.length - 1];
      if (full || last === undefined) this.readSpans.push({ gte: start, lt: end });
      else if (reverse) this.readSpans.push({ gte: headKey(last.key), lt: end });
      else this.readSpans.push({ gte: start, lt: Buffer.concat([headKey(last.key), ZERO_BYTE]) });
    }
    return out;
  }

  // ─── writes ───────────────────────────────────────────────────────────

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    // `value` is not kept: encodeHead copies it into the intent. (write resolves
    // to undefined for a put or delete, so the cast is true; no extra promise.)
    return this.write(key, IntentKind.put, value) as Promise<unknown> as Promise<void>;
  }

  delete(key: Uint8Array): Promise<void> {
    return this.write(key, IntentKind.delete, undefined) as Promise<unknown> as Promise<void>;
  }

  lockForUpdate(key: Uint8Array): Promise<void> {
    return this.write(key, IntentKind.lock, undefined) as Promise<unknown> as Promise<void>;
  }

  /**
   * Locks the key, then reads it: the snapshot's version under REPEATABLE
   * READ / SERIALIZABLE (40001 if it changed since), the latest committed
   * version under READ COMMITTED. What UPDATE / SELECT FOR UPDATE need.
   * The lock and the read are one step: what `get` would return right after
   * the lock comes from the head the lock was placed on.
   */
  getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    return this.write(key, IntentKind.lock, undefined);
  }

  /**
   * An INSERT's write of a key that must be new: `getForUpdate(key)` and,
   * when that finds no value, `put(key, value)`, in one step (one head read
   * and one head write instead of two of each). Resolves to the value found
   * (the key is then locked and nothing else is written, exactly as after
   * `getForUpdate`: the caller reports the duplicate) or to undefined (the
   * value is written). `value` is not kept.
   */
  putIfAbsent(key: Uint8Array, value: Uint8Array): Promise<Buffer | undefined> {
    return this.write(key, IntentKind.put, value, headKey(key), true);
  }

  /**
   * The read and the lock of a statement that updates or deletes one row by
   * its key (SQL's UPDATE / DELETE by primary key) in one step: locks the
   * key and resolves to the committed value the statement must start from.
   * Resolves to NOT_LOCKED (or returns undefined, synchronously) when it
   * cannot say, and then nothing observable was done: the caller reads at
   * its snapshot and locks as usual (`getByHeadKey`, then `getForUpdate`).
   * `hk` is not kept (may be a view the caller reuses).
   *
   * - A head with a committed value the snapshot sees and no intent: what
   *   the snapshot read returns and the lock finds unchanged. Its commit
   *   may still await its sync: a writer builds on it at once (early lock
   *   release, see write()).
   * - Another live transaction's intent: waits for it (as the lock would),
   *   then looks again.
   * - SERIALIZABLE, a committed value newer than the snapshot: the write
   *   refresh in place. When nothing this transaction has read so far (this
   *   statement's reads included) changed up to a fresh timestamp, the
   *   snapshot moves there, which is what the refresh and the rerun of the
   *   statement would arrive at, without the rerun; then as above. When
   *   something changed, NOT_LOCKED (the usual path refreshes or fails).
   * - Anything else (no key, a tombstone, an own intent, READ COMMITTED or
   *   REPEATABLE READ facing a newer version, a savepoint taken in this
   *   statement): NOT_LOCKED.
   */
  lockForStatement(hk: Buffer): Promise<Buffer | undefined | typeof NOT_LOCKED> | undefined {
    if (this.phase !== 'active' || this.mgr.isClosed || this.readOnly) return undefined;
    const raw = this.mgr.engine.get(hk);
    if (raw === undefined) return undefined;
    const fast = visibleWithoutIntent(raw, this.snapshot(), this.mgr.undurableFrom);
    if (fast === undefined) return undefined;
    const own = Buffer.from(hk);
    if (fast === NEEDS_DECODE) return this.lockForStatementSlow(own);
    if (this.trackReads) this.readKeys.push(own);
    return this.write(userKeyOfHead(own), IntentKind.lock, undefined, own);
  }

  private async lockForStatementSlow(hk: Buffer): Promise<Buffer | undefined | typeof NOT_LOCKED> {
    for (;;) {
      if (this.phase !== 'active' || this.mgr.isClosed) return NOT_LOCKED;
      const raw = this.mgr.engine.get(hk);
      if (raw === undefined) return NOT_LOCKED;
      const h = decodeHead(raw);
      if (h.intentTxn === this.numericId) return NOT_LOCKED;
      if (h.intentTxn !== 0) {
        const owner = this.mgr.liveTxn(h.intentTxn);
        if (owner === undefined) this.mgr.resolveOrphan(hk, h);
        else await this.waitFor(owner, userKeyOfHead(hk));
        continue;
      }
      if (h.committedTs === 0 || h.committedValue === undefined) return NOT_LOCKED;
      if (h.committedTs > this.readTs) {
        if (this.isolation !== 'serializable' || this.savepointsMade !== this.stmtSavepointsMade) return NOT_LOCKED;
        const ts = this.mgr.now();
        const found = this.refresh(ts, this.readKeys.length, this.readSpans.length);
        if (found instanceof MvccTxn) {
          await this.waitFor(found, userKeyOfHead(hk));
          continue;
        }
        if (found !== undefined) return NOT_LOCKED;
        this.readTs = ts;
        txnCounters.writeRefreshes++;
        txnCounters.writeRefreshesInPlace++;
      }
      if (this.trackReads) this.readKeys.push(hk);
      return this.write(userKeyOfHead(hk), IntentKind.lock, undefined, hk);
    }
  }

  /**
   * Places this transaction's intent of `kind` on the key. For a lock it
   * resolves to what a `get` of the key would return afterwards (the own
   * intent's value, else the latest committed version, which under
   * REPEATABLE READ / SERIALIZABLE is the snapshot's: a newer one fails);
   * for a put or delete to undefined.
   */
  private async write(
    key: Uint8Array,
    kind: IntentKind,
    value: Uint8Array | undefined,
    hk: Buffer = headKey(key),
    ifAbsent = false,
  ): Promise<Buffer | undefined> {
    this.checkActive();
    if (this.readOnly) throw readOnlyWrite();
    const ts = this.snapshot();
    const engine = this.mgr.engine;
    for (;;) {
      const raw = engine.get(hk);
      const h = raw === undefined ? undefined : decodeHead(raw);
      if (h !== undefined && h.intentTxn !== 0 && h.intentTxn !== this.numericId) {
        if (this.mgr.liveTxn(h.intentTxn) !== undefined) await this.waitFor(this.owner(h), key);
        else this.mgr.resolveOrphan(hk, h);
        continue;
      }
      // A committed version whose record-less commit still awaits its sync
      // is built on at once (early lock release, see "Writers and undurable
      // versions" in docs/internals/transactions.md): this transaction's own
      // commit syncs after that batch, so it is never acknowledged first.
      if (this.isolation !== 'read committed' && h !== undefined && h.committedTs > ts) {
        if (this.isolation === 'serializable') throw await this.writeRefresh(key, hk, h);
        txnCounters.writeTooOld++;
        throw this.fail(concurrentUpdate(key, formatTxnId(h.committedTxn), h.committedTs));
      }
      const own = h !== undefined && h.intentTxn === this.numericId;
      if (ifAbsent) {
        // What getForUpdate would return; a value means the put does not happen, the key is only locked.
        const found = own ? (h.intentKind === IntentKind.lock ? h.committedValue : h.intentValue) : h?.committedValue;
        if (found !== undefined) {
          kind = IntentKind.lock;
          value = undefined;
        }
      }
      if (kind === IntentKind.lock && own) {
        // Already locked (or written): never downgrade. A read sees the own intent (a lock: the latest committed).
        return h.intentKind === IntentKind.lock ? h.committedValue : h.intentValue;
      }
      // The previous value is copied: it is a view into the engine's buffer.
      this.undo.push({
        hk,
        prevKind: own ? h.intentKind : undefined,
        prevValue: own && h.intentValue !== undefined ? Buffer.from(h.intentValue) : undefined,
      });
      // An own intent is in the map already (an UPDATE's put after its lock): no key string to make.
      if (!own) (this.intents ??= new Map()).set(hk.toString('latin1'), hk);
      const next = encodeHead({
        committedTs: h?.committedTs ?? 0,
        committedTxn: h?.committedTxn ?? 0,
        committedValue: h?.committedValue,
        intentTxn: this.numericId,
        intentKind: kind,
        intentValue: value,
      });
      assert(next !== undefined, 'intent head encodes to nothing');
      engine.put(hk, next);
      return kind === IntentKind.lock ? h?.committedValue : undefined;
    }
  }

  // ─── savepoints ───────────────────────────────────────────────────────

  savepoint(name: string): void {
    this.checkActive();
    this.savepoints.push({ name, undoLength: this.undo.length });
    this.savepointsMade++;
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    if (this.phase !== 'failed') this.checkActive();
    const i = this.findSavepoint(name);
    this.undoTo(this.savepoints[i]!.undoLength);
    this.savepoints.length = i + 1;
    if (this.stmtUndo > this.undo.length) this.stmtUndo = this.undo.length;
    this.retryPending = false;
    if (this.phase === 'failed') this.phase = 'active';
    this.notifyWaiters(); // locks taken after the savepoint are gone
  }

  /** Restores the intents the undo log recorded after its first `length` entries, and drops those entries. */
  private undoTo(length: number): void {
    const engine = this.mgr.engine;
    const batch = new WriteBatch();
    // Undo in reverse so that several writes to one key restore the oldest state.
    // Batch ops on one key apply in order, so the last restore (the oldest) wins.
    const latest = new Map<string, Head>();
    for (let j = this.undo.length - 1; j >= length; j--) {
      const u = this.undo[j]!;
      const k = u.hk.toString('latin1');
      let h = latest.get(k);
      if (h === undefined) {
        const raw = engine.get(u.hk);
        assert(raw !== undefined, 'own intent vanished');
        h = decodeHead(raw);
        assert(h.intentTxn === this.numericId, 'own intent replaced by another transaction');
      }
      const restored: Head = {
        ...h,
        intentTxn: u.prevKind === undefined ? 0 : this.numericId,
        intentKind: u.prevKind ?? IntentKind.lock,
        intentValue: u.prevValue,
      };
      latest.set(k, restored);
      const enc = encodeHead(restored);
      if (enc === undefined) batch.delete(u.hk);
      else batch.put(u.hk, enc);
      if (u.prevKind === undefined) this.intents?.delete(k);
    }
    if (batch.length > 0) engine.write(batch);
    this.undo.length = length;
  }

  releaseSavepoint(name: string): void {
    this.checkActive();
    this.savepoints.length = this.findSavepoint(name);
  }

  private findSavepoint(name: string): number {
    for (let i = this.savepoints.length - 1; i >= 0; i--) if (this.savepoints[i]!.name === name) return i;
    throw noSuchSavepoint(name);
  }

  // ─── commit / rollback ────────────────────────────────────────────────

  commit(): Promise<void> {
    if (this.phase === 'active' && (this.intents === undefined || this.intents.size === 0) && !this.mgr.isClosed) {
      // Nothing written: serializes at its snapshot, nothing to make durable.
      this.finish('committed');
      return RESOLVED_UNDEFINED;
    }
    return this.commitWrites();
  }

  private async commitWrites(): Promise<void> {
    if (this.phase === 'failed') {
      // PostgreSQL ends a failed block on COMMIT by rolling back.
      this.abortNow();
      throw txnAborted();
    }
    this.checkActive();
    let commitTs: Timestamp;
    for (;;) {
      commitTs = this.mgr.now();
      if (!this.trackReads || this.mgr.lastCommitTs <= this.readTs) break;
      const found = this.refresh(commitTs, this.readKeys.length, this.readSpans.length);
      if (found === undefined) break;
      if (found instanceof MvccTxn) {
        await this.waitFor(found, undefined);
        continue;
      }
      txnCounters.commitRefreshFailed++;
      const { hk, head, what } = found;
      throw this.fail(
        readWriteConflict(userKeyOfHead(hk), formatTxnId(head.committedTxn), head.committedTs, what),
        true,
      );
    }
    // From here to the record put (or the batch) nothing awaits: no one can commit in between.
    this.phase = 'committing';
    this.commitTs = commitTs;
    if (commitTs > this.mgr.lastCommitTs) this.mgr.lastCommitTs = commitTs;
    const engine = this.mgr.engine;
    const intents = this.intents;
    if (intents !== undefined && this.mgr.commitsWithoutRecord(intents.size)) {
      // Record-less commit (see txn-manager.ts): one batch resolves every
      // intent; it is the atomic flip, durable once the sync resolves. Until
      // then the versions are visible in the engine, so whoever meets one
      // waits for this transaction (undurableFrom), as for a record's intents.
      const batch = new WriteBatch();
      const history = this.mgr.keepsHistory(commitTs, this.numericId);
      for (const hk of intents.values()) this.mgr.resolveIntentInto(batch, hk, this.numericId, commitTs, history);
      this.mgr.beginUndurable(this);
      try {
        engine.write(batch);
      } catch (e) {
        // Nothing was written (the engine refused the batch): an ordinary abort.
        this.mgr.endUndurable(this);
        try {
          this.abortNow();
        } catch {
          this.finish('aborted'); // the intents are orphans now: whoever meets them drops them
        }
        throw e;
      }
      // The intents are gone: writers waiting for them build on the new
      // versions now (early lock release, see write()); readers look again
      // and wait for the sync (finish() wakes them).
      this.notifyWaiters();
      try {
        await engine.sync(); // the commit point
      } finally {
        // Even when sync fails the batch is in the engine, whose state says committed (as with a record).
        this.mgr.endUndurable(this);
        this.finish('committed');
      }
      this.mgr.noteCommit();
      return;
    }
    const rk = recordKey(this.numericId);
    const hks = [...(this.intents?.values() ?? [])];
    engine.put(rk, encodeTxnRecord(commitTs, hks, 1)); // user keys: head keys without their space byte
    try {
      await engine.sync(); // the commit point: durable record flip
    } catch (e) {
      // Even when sync fails the record is in the engine, so the engine's
      // state says committed; resolving keeps memory consistent with it and
      // releases the locks. The caller still sees the I/O error.
      const batch = new WriteBatch();
      const history = this.mgr.keepsHistory(commitTs, this.numericId);
      for (const hk of hks) this.mgr.resolveIntentInto(batch, hk, this.numericId, commitTs, history);
      batch.delete(rk);
      engine.write(batch);
      this.finish('committed');
      throw e;
    }
    // Committed: the durable record decides. Resolution goes in slices that
    // yield (a big transaction must not stall the process); the transaction
    // stays live and 'committing' until it is done, so whoever meets one of
    // its intents waits for it. If resolving fails (the engine went away),
    // the record still decides: recovery or resolveOrphan finishes it.
    try {
      const slicing = this.mgr.resolveCommitted(hks, this.numericId, commitTs, rk);
      if (slicing !== undefined) await slicing;
    } catch (e) {
      if (!(e instanceof NextDbError)) throw e; // a bug, never dressed up as success
    } finally {
      this.finish('committed');
    }
    this.mgr.noteCommit();
  }

  async rollback(): Promise<void> {
    if (this.phase === 'aborted') return;
    if (this.phase !== 'active' && this.phase !== 'failed') throw txnFinished(this.phase);
    this.abortNow();
  }

  /** Called by the manager at close. */
  abortFromManager(): void {
    if (this.phase === 'active' || this.phase === 'failed') this.abortNow();
  }

  private abortNow(): void {
    const batch = new WriteBatch();
    for (const hk of this.intents?.values() ?? [])
      this.mgr.resolveIntentInto(batch, hk, this.numericId, undefined, false);
    if (batch.length > 0) this.mgr.engine.write(batch);
    this.finish('aborted');
  }

  private finish(phase: 'committed' | 'aborted'): void {
    this.phase = phase;
    // Drop references early (the object may outlive the transaction in the caller's hands).
    this.intents = undefined;
    if (this.undo.length > 0) this.undo.length = 0;
    if (this.readKeys.length > 0) this.readKeys.length = 0;
    if (this.readSpans.length > 0) this.readSpans.length = 0;
    this.mgr.unregister(this.numericId);
    this.notifyWaiters();
  }

  /** Aborts and returns the error to throw. */
  private fail(err: NextDbError, wholeTransaction = false): NextDbError {
    if (this.phase !== 'active') return err;
    // With savepoints the error may be rolled back to one (PostgreSQL allows
    // ROLLBACK TO SAVEPOINT after a serialization failure or deadlock);
    // until then the transaction keeps its locks, as a failed block does.
    if (this.savepoints.length > 0 && !wholeTransaction) this.phase = 'failed';
    else this.abortNow();
    return err;
  }

  /**
   * Read refresh of the first `nKeys` keys and `nSpans` ranges of the read
   * set, from the snapshot up to `ts`: undefined if none of them changed
   * since the snapshot (so every such read gives the same answer at `ts`);
   * the changed head if one did; a committing transaction to wait for when
   * one holds an intent on something read (it commits below `ts`). Other
   * live transactions' intents do not matter: they commit above `ts`.
   */
  private refresh(ts: Timestamp, nKeys: number, nSpans: number): MvccTxn | RefreshConflict | undefined {
    const engine = this.mgr.engine;
    const check = (hk: Buffer, raw: Buffer, what: 'key' | 'range'): MvccTxn | RefreshConflict | undefined => {
      const h = decodeHead(raw);
      if (h.intentTxn !== 0 && h.intentTxn !== this.numericId) {
        const owner = this.mgr.liveTxn(h.intentTxn);
        if (owner !== undefined && owner.isCommitting) {
          assert(owner.committedAt < ts, 'committing transaction above a later timestamp');
          return owner;
        }
      }
      return h.committedTs > this.readTs ? { hk: Buffer.from(hk), head: h, what } : undefined;
    };
    for (let i = 0; i < nKeys; i++) {
      const hk = this.readKeys[i]!;
      const raw = engine.get(hk);
      if (raw === undefined) continue;
      const w = check(hk, raw, 'key');
      if (w !== undefined) return w;
    }
    for (let i = 0; i < nSpans; i++) {
      const span = this.readSpans[i]!;
      const it = engine.iterator({ gte: span.gte, lt: span.lt });
      try {
        for (; it.valid(); it.next()) {
          const w = check(it.key(), it.value(), 'range');
          if (w !== undefined) return w;
        }
      } finally {
        it.close();
      }
    }
    return undefined;
  }

  /**
   * SERIALIZABLE write refresh (CockroachDB's read refresh on a write too
   * old): the write to `key` met version `h` committed after the snapshot.
   * If nothing this transaction read before the current statement changed
   * between its snapshot and a fresh timestamp, the transaction moves its
   * snapshot there: the reads stay true, and its writes will land above the
   * other commit. The statement's partial work is undone (its writes, and
   * its reads, which were at the old snapshot) and it must run again: the
   * returned StatementRetryError leaves a failed block that
   * `retryStatement()` reactivates. The key is locked first, so the rerun
   * cannot lose it to another writer again. Refused (plain 40001) when
   * something read changed, or when the statement took a savepoint (a
   * PL/pgSQL exception block could catch the error half-way through it).
   * Returns the error to throw.
   */
  private async writeRefresh(key: Uint8Array, hk: Buffer, h: Head): Promise<NextDbError> {
    if (this.savepointsMade !== this.stmtSavepointsMade) {
      txnCounters.writeTooOld++;
      return this.fail(concurrentUpdate(key, formatTxnId(h.committedTxn), h.committedTs));
    }
    let ts: Timestamp;
    for (;;) {
      ts = this.mgr.now();
      const found = this.refresh(ts, this.stmtReadKeys, this.stmtReadSpans);
      if (found === undefined) break;
      if (found instanceof MvccTxn) {
        await this.waitFor(found, key);
        continue;
      }
      txnCounters.writeRefreshFailed++;
      return this.fail(writeRefreshFailed(key, formatTxnId(h.committedTxn), h.committedTs, userKeyOfHead(found.hk)));
    }
    // From here on nothing awaits: the refresh holds up to the lock below.
    assert(ts > h.committedTs, 'refreshed timestamp not above the version it moves past');
    this.undoTo(this.stmtUndo);
    this.readKeys.length = this.stmtReadKeys;
    this.readSpans.length = this.stmtReadSpans;
    this.readTs = ts;
    const raw = this.mgr.engine.get(hk);
    const now = raw === undefined ? undefined : decodeHead(raw);
    if (now !== undefined && now.intentTxn === 0 && now.committedTs <= ts) {
      this.undo.push({ hk, prevKind: undefined, prevValue: undefined });
      (this.intents ??= new Map()).set(hk.toString('latin1'), hk);
      const locked = encodeHead({
        ...now,
        intentTxn: this.numericId,
        intentKind: IntentKind.lock,
        intentValue: undefined,
      });
      assert(locked !== undefined, 'lock head encodes to nothing');
      this.mgr.engine.put(hk, locked);
    }
    this.phase = 'failed';
    this.retryPending = true;
    this.notifyWaiters(); // locks the statement took are gone
    txnCounters.writeRefreshes++;
    return statementRetry(key, formatTxnId(h.committedTxn), h.committedTs);
  }

  // ─── helpers ──────────────────────────────────────────────────────────

  private snapshot(): Timestamp {
    if (this.readTs === 0) this.readTs = this.mgr.now();
    return this.readTs;
  }

  private look(h: Head, ts: Timestamp): Look {
    if (h.intentTxn === this.numericId) return h.intentKind === IntentKind.lock ? Look.ownLock : Look.ownIntent;
    if (h.intentTxn !== 0) {
      const owner = this.mgr.liveTxn(h.intentTxn);
      if (owner === undefined) return Look.orphan;
      if (owner.phase === 'committing' && owner.commitTs <= ts) return Look.wait;
    }
    return h.committedTs >= this.mgr.undurableFrom && this.undurableWriter(h, ts) !== undefined
      ? Look.waitDurable
      : Look.committed;
  }

  /**
   * The writer of `h`'s committed version if this reader at `ts` would see
   * it and it is not durable yet (a record-less commit waiting for its
   * sync); undefined otherwise.
   */
  private undurableWriter(h: Head, ts: Timestamp): MvccTxn | undefined {
    if (h.committedTs < this.mgr.undurableFrom || h.committedTs > ts) return undefined;
    const w = this.mgr.liveTxn(h.committedTxn);
    return w !== undefined && w !== this && w.phase === 'committing' ? w : undefined;
  }

  /** Whom to wait for after `look` said Look.wait or Look.waitDurable. */
  private blocker(h: Head, look: Look, ts: Timestamp): MvccTxn {
    if (look !== Look.waitDurable) return this.owner(h);
    const w = this.undurableWriter(h, ts);
    assert(w !== undefined, 'writer of an undurable version is not live');
    return w;
  }

  private owner(h: Head): MvccTxn {
    const o = this.mgr.liveTxn(h.intentTxn);
    assert(o !== undefined, 'owner of intent is not live');
    return o;
  }

  /**
   * The newest history version of `userKey` at or below `ts`; or, when
   * that version's record-less commit still awaits its sync (a writer built
   * on it before it was durable and committed over it), its writer, to wait
   * for before reading again.
   */
  private historyAt(userKey: Uint8Array, ts: Timestamp): Buffer | undefined | MvccTxn {
    const it = this.mgr.engine.iterator({ gte: historyKey(userKey, ts), lt: historyRange(userKey).lt });
    try {
      if (!it.valid()) return undefined;
      const hv = decodeHistoryValue(it.value());
      if (this.mgr.undurableFrom <= ts && decodeHistoryKey(it.key()).ts >= this.mgr.undurableFrom) {
        const w = this.mgr.liveTxn(hv.writerTxn);
        if (w !== undefined && w !== this && w.phase === 'committing') return w;
      }
      return hv.value === undefined ? undefined : Buffer.from(hv.value);
    } finally {
      it.close();
    }
  }

  /** Waits until `owner` releases something (ends, or rolls back to a savepoint). */
  private async waitFor(owner: MvccTxn, key: Uint8Array | undefined): Promise<void> {
    assert(owner !== this, 'transaction waits for itself');
    const cycle: string[] = [this.id, owner.id];
    let t = owner.waitingFor;
    for (let n = 0; t !== undefined && n < MAX_WAIT_CHAIN; n++, t = t.waitingFor) {
      cycle.push(t.id);
      if (t === this) {
        txnCounters.deadlocks++;
        throw this.fail(deadlockVictim(cycle, key ?? Buffer.alloc(0)));
      }
    }
    this.waitingFor = owner;
    const t0 = performance.now();
    try {
      await new Promise<void>((resolve) => (owner.waiters ??= []).push(resolve));
    } finally {
      this.waitingFor = undefined;
      txnCounters.lockWaits++;
      txnCounters.lockWaitMs += performance.now() - t0;
    }
    this.checkActive();
  }

  private notifyWaiters(): void {
    const w = this.waiters;
    if (w === undefined || w.length === 0) return;
    this.waiters = undefined;
    for (const f of w) f();
  }

  private checkActive(): void {
    if (this.phase === 'active') {
      if (this.mgr.isClosed) throw this.fail(managerClosed(), true);
      return;
    }
    if (this.phase === 'aborted' || this.phase === 'failed') throw txnAborted();
    throw txnFinished(this.phase);
  }
}

const ZERO_BYTE = Buffer.from([0]);
const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

/**
 * LeaderTermEngine: the Engine a leader's TxnManager writes through, valid
 * for one leadership term of the ReplicatedEngine.
 *
 * While the term lasts every call goes straight to the ReplicatedEngine.
 * When the term ends the view is *fenced*: from then on its writes go to a
 * private scratch overlay that is never proposed, reads see that scratch
 * over the replica's applied state, and `sync()` rejects (40001) if anything
 * was written since the fence.
 *
 * Why not simply throw on writes: the transaction manager of the old term is
 * being shut down while some of its transactions are mid-commit, and its
 * cleanup paths (resolving intents after a failed commit, aborting live
 * transactions at close) write to the engine. Throwing there would replace
 * the commit's real outcome (40001 "certainly not committed" or 40003
 * "unknown") with a generic not-leader error, and leave the manager half
 * closed. The scratch writes are harmless: nothing ever replicates them, and
 * the next leader's TxnManager recovers the durable truth from the log.
 */

import type { Engine, EngineIterator, EngineStats, ScanOptions, Snapshot } from '../storage/engine.ts';
import { scanIterator } from '../storage/engine.ts';
import { OpKind, type WriteBatch } from '../storage/write-batch.ts';
import { toLatin1 } from '../util/bytes.ts';
import { MergedIterator, Overlay, overlayGet } from './overlay.ts';
import { clampToReplicated, leadershipChanged, MergedSnapshot, type ReplicatedEngine } from './replicated-engine.ts';
import { isReplicatedKey } from './replica-keys.ts';

export class LeaderTermEngine implements Engine {
  private fenced = false;
  private readonly scratch = new Overlay();
  private scratchSeq = 0;

  constructor(
    readonly replicated: ReplicatedEngine,
    readonly term: number,
  ) {
    // A term has one leader and a node never leads the same term twice, so
    // "the replica no longer leads this term" is the whole fence condition.
    if (replicated.term !== term) this.fenced = true;
  }

  get isFenced(): boolean {
    return this.fenced || this.replicated.term !== this.term;
  }

  get(key: Uint8Array): Buffer | undefined {
    if (!this.isFenced) return this.replicated.get(key);
    if (!isReplicatedKey(key)) return undefined;
    return overlayGet(this.scratch.tree, this.replicated, key);
  }

  iterator(options: ScanOptions = {}): EngineIterator {
    if (!this.isFenced) return this.replicated.iterator(options);
    return new MergedIterator(this.scratch.tree, this.replicated, clampToReplicated(options));
  }

  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this, options);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (!this.isFenced) return this.replicated.put(key, value);
    this.scratch.set(toLatin1(key), { seq: ++this.scratchSeq, value: Buffer.from(value) });
  }

  delete(key: Uint8Array): void {
    if (!this.isFenced) return this.replicated.delete(key);
    this.scratch.set(toLatin1(key), { seq: ++this.scratchSeq, value: undefined });
  }

  write(batch: WriteBatch): void {
    if (!this.isFenced) return this.replicated.write(batch);
    for (const op of batch.ops)
      this.scratch.set(toLatin1(op.key), {
        seq: ++this.scratchSeq,
        value: op.kind === OpKind.put ? op.value : undefined,
      });
  }

  sync(): Promise<void> {
    if (!this.isFenced) return this.replicated.sync();
    if (this.scratch.size === 0) return Promise.resolve();
    return Promise.reject(leadershipChanged(this.replicated.group, this.replicated.node, NONE_LEADER));
  }

  snapshot(): Snapshot {
    if (!this.isFenced) return this.replicated.snapshot();
    return new MergedSnapshot(this.scratch.clone(), this.replicated.snapshot());
  }

  flush(): Promise<void> {
    return this.replicated.flush();
  }

  compact(): Promise<void> {
    return this.replicated.compact();
  }

  stats(): EngineStats {
    return { ...this.replicated.stats(), fenced: this.isFenced ? 1 : 0 };
  }

  /** The view owns nothing; closing it fences it. */
  close(): Promise<void> {
    this.fenced = true;
    return Promise.resolve();
  }
}

const NONE_LEADER = 0;

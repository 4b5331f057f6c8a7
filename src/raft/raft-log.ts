/**
 * The in-memory Raft log of one node: a snapshot (the compacted prefix) plus
 * the entries after it, and how much of that is durable.
 *
 *   snapshot.index   firstIndex                 stable          lastIndex
 *        │               │                        │                 │
 *   ─────┴───────────────┴────────────────────────┴─────────────────┤
 *    compacted           entries[0]          persisted │ unstable (in the next Ready)
 *
 * Invariants (asserted): entries are contiguous from snapshot.index + 1 with
 * non-decreasing terms; snapshot.index <= commit <= lastIndex once the
 * driver has persisted; stable <= lastIndex. The log never truncates below
 * `commit` — that would be a Raft safety violation, and the assertion turns
 * it into a crash instead of silent divergence.
 *
 * The whole uncompacted suffix is kept in memory: the driver compacts after
 * taking state-machine snapshots, which bounds it.
 */

import { assert } from '../util/assert.ts';
import type { Entry, Snapshot } from './types.ts';

export class RaftLog {
  private snap: Snapshot;
  private ents: Entry[];
  /** Highest index known durable (after the driver persisted a Ready). */
  stable: number;
  commit: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], commit: number) {
    this.snap = snapshot;
    this.ents = [...entries];
    for (let i = 0; i < this.ents.length; i++) {
      const e = this.ents[i]!;
      assert(
        e.index === snapshot.meta.index + 1 + i,
        `log: entry ${e.index} not contiguous after snapshot ${snapshot.meta.index}`,
      );
      const prevTerm = i === 0 ? snapshot.meta.term : this.ents[i - 1]!.term;
      assert(e.term >= prevTerm, `log: term goes backwards at ${e.index}`);
    }
    this.stable = this.lastIndex();
    assert(
      commit >= snapshot.meta.index && commit <= this.lastIndex(),
      `log: commit ${commit} outside [${snapshot.meta.index}, ${this.lastIndex()}]`,
    );
    this.commit = commit;
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  firstIndex(): number {
    return this.snap.meta.index + 1;
  }

  lastIndex(): number {
    return this.snap.meta.index + this.ents.length;
  }

  lastTerm(): number {
    return this.ents.length === 0 ? this.snap.meta.term : this.ents[this.ents.length - 1]!.term;
  }

  /** Term of entry `i`, or undefined when compacted away or beyond the end. */
  term(i: number): number | undefined {
    const off = this.snap.meta.index;
    if (i === off) return this.snap.meta.term;
    if (i < off || i > off + this.ents.length) return undefined;
    return this.ents[i - off - 1]!.term;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  entry(i: number): Entry | undefined {
    const off = this.snap.meta.index;
    if (i <= off || i > off + this.ents.length) return undefined;
    return this.ents[i - off - 1];
  }

  /** Entries [lo, hi) — lo must be >= firstIndex — at most maxBytes of data (always at least one). */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const off = this.snap.meta.index;
    assert(lo > off, `log: slice from ${lo} below first index ${off + 1}`);
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    if (maxBytes === Infinity) return this.ents.slice(lo - off - 1, hi - off - 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - off - 1]!;
      bytes += e.data.length + 16;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Entries not yet durable. */
  unstable(): Entry[] {
    return this.slice(Math.max(this.stable + 1, this.firstIndex()), this.lastIndex() + 1);
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Leader append: entries carry the next indexes. */
  append(e: Entry): void {
    assert(e.index === this.lastIndex() + 1, `log: append ${e.index} after ${this.lastIndex()}`);
    assert(e.term >= this.lastTerm(), `log: append term ${e.term} below last term ${this.lastTerm()}`);
    this.ents.push(e);
  }

  /**
   * Follower append after a matched prevIndex: skips entries already present
   * with the same term, truncates at the first conflict, appends the rest.
   * Returns the last index of the given entries.
   */
  maybeAppend(prevIndex: number, entries: readonly Entry[]): number {
    let i = 0;
    for (; i < entries.length; i++) {
      const e = entries[i]!;
      const t = this.term(e.index);
      if (t === undefined) {
        if (e.index <= this.snap.meta.index) continue; // compacted: committed, hence identical
        break;
      }
      if (t !== e.term) {
        assert(e.index > this.commit, `log: conflict at committed index ${e.index} (commit ${this.commit})`);
        this.truncateFrom(e.index);
        break;
      }
    }
    for (; i < entries.length; i++) this.append(entries[i]!);
    return prevIndex + entries.length;
  }

  private truncateFrom(index: number): void {
    this.ents.length = index - this.snap.meta.index - 1;
    if (this.stable >= index) this.stable = index - 1;
  }

  commitTo(i: number): void {
    assert(i <= this.lastIndex(), `log: commit ${i} beyond last index ${this.lastIndex()}`);
    if (i > this.commit) this.commit = i;
  }

  stableTo(i: number, t: number): void {
    if (i > this.stable && this.term(i) === t) this.stable = i;
  }

  /** Drops entries up to snapshot.meta.index, which must be in the log and committed. */
  compact(snapshot: Snapshot): void {
    const idx = snapshot.meta.index;
    assert(
      idx <= this.commit && idx >= this.snap.meta.index,
      `log: compact to ${idx} outside [${this.snap.meta.index}, ${this.commit}]`,
    );
    assert(this.term(idx) === snapshot.meta.term, `log: compact term mismatch at ${idx}`);
    this.ents = this.ents.slice(idx - this.snap.meta.index);
    this.snap = snapshot;
    // A leader may apply (and so snapshot) entries before its own fsync finished; the
    // snapshot the driver persists now covers them, so nothing below it is unstable.
    if (this.stable < idx) this.stable = idx;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commit, `log: restore ${snapshot.meta.index} not beyond commit ${this.commit}`);
    this.snap = snapshot;
    this.ents = [];
    this.commit = snapshot.meta.index;
    this.stable = snapshot.meta.index;
  }
}

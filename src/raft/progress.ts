/**
 * The leader's view of one follower's log (etcd-raft's Progress).
 *
 *   probe      one append in flight at a time (`paused` until answered or a
 *              heartbeat response arrives); used after a rejection, at
 *              election, and whenever the leader does not know the match.
 *   replicate  pipelined appends: `next` advances optimistically as appends
 *              go out; at most `maxInflight` unacknowledged appends (flow
 *              control), tracked by the last index each carried.
 *   snapshot   the follower is behind the compacted prefix; snapshot chunks
 *              flow one at a time until it acknowledges `pendingSnapshot`.
 *
 * Invariant: match < next.
 */

import { assert } from '../util/assert.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append is in flight and unanswered. */
  paused = false;
  /** Last index of each unacknowledged append (replicate state), oldest first. */
  readonly inflights: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest heartbeat sequence number this peer echoed in the current term. */
  seqAcked = 0;
  /** Snapshot state: index of the snapshot being sent and the next byte offset to send. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /** Highest commit index already sent, so that empty appends only go out when commit moved. */
  commitSent = 0;

  constructor(
    next: number,
    readonly maxInflight: number,
    public isLearner: boolean,
  ) {
    this.next = next;
  }

  full(): boolean {
    return this.inflights.length >= this.maxInflight;
  }

  /** May an append go out now? */
  canSend(): boolean {
    switch (this.state) {
      case 'probe':
        return !this.paused;
      case 'replicate':
        return !this.full();
      case 'snapshot':
        return false;
    }
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's index.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = 'probe';
    this.paused = false;
    this.inflights.length = 0;
    this.pendingSnapshot = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.paused = false;
    this.inflights.length = 0;
    this.pendingSnapshot = 0;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = snapshotIndex;
    this.snapshotOffset = 0;
    this.inflights.length = 0;
    this.paused = false;
  }

  /** Records that an append carrying entries up to `last` went out. */
  sentEntries(last: number): void {
    if (this.state === 'replicate') {
      assert(!this.full(), 'progress: send beyond the in-flight limit');
      this.next = last + 1;
      this.inflights.push(last);
    } else {
      this.paused = true;
    }
  }

  /** A successful append response up to `index`. Returns false for a stale one. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.paused = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    while (this.inflights.length > 0 && this.inflights[0]! <= index) this.inflights.shift();
    return updated;
  }

  /**
   * A rejected append of prevIndex `rejected`, with the leader's computed
   * probe point `hint`. Returns false when the rejection is stale (answers an
   * append older than the current probe).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.paused = false;
    return true;
  }
}

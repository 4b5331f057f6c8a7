/**
 * RaftNode: one member of one Raft group, as a pure state machine.
 *
 * Inputs are `step(message)`, `tick()`, `propose(data)`,
 * `proposeConfChange(cc)`, `readIndex(ctx)` / `leaseRead(ctx)`,
 * `transferLeadership(to)` and `compact(index, data)`. Outputs are collected
 * into a Ready (see types.ts for the persist → send → apply contract). There
 * is no I/O, no clock and no Math.random here: time is `tick()`, randomness
 * is the injected Prng, so a whole cluster replays exactly from a seed.
 *
 * Protocol choices (docs/internals/raft.md has the long form):
 *   - Pre-Vote (§9.6) and check-quorum: a leader that has not heard from a
 *     quorum for an election timeout steps down; a follower that heard from
 *     a leader within the election timeout ignores (pre-)vote requests
 *     ("leader stickiness"), except campaigns forced by TimeoutNow.
 *   - Replication: probe / replicate / snapshot per follower (progress.ts),
 *     pipelined appends bounded by `maxInflight`, fast backtracking using
 *     the follower's (hintIndex, hintTerm). Appends for new proposals are
 *     batched: `propose` only appends locally, `ready()` broadcasts once.
 *   - The leader counts itself towards a quorum only for entries it has made
 *     durable (its match moves at `advance`). Entries of earlier terms are
 *     committed only by committing an entry of the current term (§5.4.2).
 *   - Membership: one change at a time (thesis §4.1) with learners. A change
 *     takes effect when it commits; the leader accepts a new one only when
 *     the previous one committed and it has committed an entry in its own
 *     term. A voter can only be added by promoting a learner that has caught
 *     up, so a new voter never stalls commits. The initial membership is
 *     entry 1 (a `set` change) of every bootstrapped member's log, so a node
 *     added later learns it through replication.
 *   - Snapshots: the driver compacts with `compact(index, data)`; followers
 *     behind the compacted prefix receive the snapshot in chunks of
 *     `snapshotChunkBytes`, one chunk per round trip.
 *   - Reads: ReadIndex confirms leadership with a heartbeat round sent after
 *     the read arrived. Lease reads skip the round while a quorum
 *     acknowledged a heartbeat sent less than `leaseTicks` ago, where
 *     leaseTicks = floor(electionTicks × (1 − maxClockDrift)) − 1. Safe only
 *     if no node's tick rate differs from another's by more than
 *     `maxClockDrift` (default 10%) and check-quorum is on: a follower that
 *     acknowledged the heartbeat refuses votes for electionTicks of its own
 *     ticks, so no other leader can exist before the lease runs out — also
 *     across its restart, after which it ignores votes for one election
 *     timeout. A leadership transfer voids the lease for the rest of the term.
 *   - Proposals and reads on a non-leader throw NotLeaderError naming the
 *     leader (no forwarding: the caller knows best where to retry).
 */

import { assert, assertNever } from '../util/assert.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { Prng } from '../util/prng.ts';
import { decodeConfChange, encodeConfChange } from './codec.ts';
import { NotLeaderError, RaftBusyError } from './errors.ts';
import { Progress } from './progress.ts';
import { RaftLog } from './raft-log.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  GroupId,
  HardState,
  Message,
  NodeId,
  RaftInitialState,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from './types.ts';
import { EntryType, NONE, mayPrecedePersist } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly prng: Prng;
  /** Base election timeout; the randomized timeout is in [electionTicks, 2·electionTicks). */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** Unacknowledged appends per follower in replicate state. */
  readonly maxInflight?: number;
  /** Soft cap on entry bytes per append message. */
  readonly maxMsgBytes?: number;
  readonly snapshotChunkBytes?: number;
  /** Enables lease reads (requires checkQuorum). */
  readonly leaseReads?: boolean;
  /** Bound on relative tick-rate difference between nodes that lease reads rely on. */
  readonly maxClockDrift?: number;
  /** A learner is promotable to voter when it is at most this many entries behind. */
  readonly learnerCatchUpEntries?: number;
}

interface PendingRead {
  readonly seq: number;
  readonly index: number;
  readonly ctx: number;
}

interface IncomingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly parts: Uint8Array[];
  size: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly stable: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly conf: ConfState;
  /** Leader only: per peer match/next/state. */
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: string }>;
}

const EMPTY = new Uint8Array(0);

/** The initial durable state of a member of a brand-new group: entry 1 fixes the membership. */
export function bootstrapState(voters: readonly NodeId[], learners: readonly NodeId[] = []): RaftInitialState {
  const conf: ConfState = { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
  return {
    hardState: { term: 1, vote: NONE, commit: 1 },
    snapshot: emptySnapshot(),
    entries: [{ index: 1, term: 1, type: EntryType.confChange, data: encodeConfChange({ type: 'set', conf }) }],
  };
}

/** The initial state of a node that will join an existing group (it learns everything from the leader). */
export function joiningState(): RaftInitialState {
  return { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: emptySnapshot(), entries: [] };
}

/** The snapshot of a node that has none yet: index 0, no members, no data. */
export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: EMPTY };
}

/** Applies one membership change to a configuration (pure). */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const sorted = (xs: Iterable<NodeId>): NodeId[] => [...new Set(xs)].sort((a, b) => a - b);
  switch (cc.type) {
    case 'set':
      return { voters: sorted(cc.conf.voters), learners: sorted(cc.conf.learners) };
    case 'addLearner':
      if (conf.voters.includes(cc.node)) return conf;
      return { voters: conf.voters, learners: sorted([...conf.learners, cc.node]) };
    case 'addVoter':
      return { voters: sorted([...conf.voters, cc.node]), learners: conf.learners.filter((n) => n !== cc.node) };
    case 'removeNode':
      return { voters: conf.voters.filter((n) => n !== cc.node), learners: conf.learners.filter((n) => n !== cc.node) };
    default:
      return assertNever(cc, 'conf change');
  }
}

export class RaftNode {
  readonly id: NodeId;
  readonly group: GroupId;
  private readonly prng: Prng;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxInflight: number;
  private readonly maxMsgBytes: number;
  private readonly snapshotChunkBytes: number;
  private readonly leaseReads: boolean;
  private readonly leaseTicks: number;
  private readonly learnerCatchUpEntries: number;

  private term = 0;
  private vote: NodeId = NONE;
  private role: Role = 'follower';
  private leader: NodeId = NONE;
  private readonly log: RaftLog;
  private applied: number;
  /** Highest committed index handed to the driver (ready or takeEarlyCommitted); >= applied. */
  private handedOut: number;
  private conf: ConfState;
  /** Index up to which conf changes have been applied to `conf` (== commit, except transiently). */
  private confIndex: number;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<NodeId, boolean>();

  private readonly progress = new Map<NodeId, Progress>();
  private pendingConfIndex = 0;
  private leadTransferee: NodeId = NONE;
  private leaseBroken = false;
  /** Lease reads: ignore vote requests for one election timeout after a restart (see constructor). */
  private bootSticky = false;
  /** Appends owed to followers (new entries or a commit to announce), flushed by ready(). */
  private pendingBroadcast = false;
  private pendingHeartbeat = false;
  /** Leader-local tick counter: the lease's time base. */
  private leaderTicks = 0;
  private hbSeq = 0;
  private readonly seqSentTick = new Map<number, number>();
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: number[] = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private pendingSnapshot: Snapshot | undefined;
  private incoming: IncomingSnapshot | undefined;
  private prevHardState: HardState;
  private readyOutstanding = false;

  constructor(config: RaftConfig, init: RaftInitialState) {
    this.id = config.id;
    this.group = config.group;
    this.prng = config.prng;
    this.electionTicks = config.electionTicks ?? 10;
    this.heartbeatTicks = config.heartbeatTicks ?? 1;
    assert(this.id !== NONE, 'raft: node id 0 is reserved');
    assert(
      this.heartbeatTicks >= 1 && this.heartbeatTicks < this.electionTicks,
      'raft: need 1 <= heartbeatTicks < electionTicks',
    );
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxInflight = config.maxInflight ?? 256;
    this.maxMsgBytes = config.maxMsgBytes ?? 1 << 20;
    this.snapshotChunkBytes = config.snapshotChunkBytes ?? 64 << 10;
    const drift = config.maxClockDrift ?? 0.1;
    assert(drift >= 0 && drift < 0.5, 'raft: maxClockDrift must be in [0, 0.5)');
    this.leaseReads = (config.leaseReads ?? false) && this.checkQuorum;
    this.leaseTicks = Math.floor(this.electionTicks * (1 - drift)) - 1;
    this.learnerCatchUpEntries = config.learnerCatchUpEntries ?? 100;

    const hs = init.hardState;
    // A snapshot holds only committed state, so it is a lower bound on commit even when the
    // persisted commit index lags it (a leader may apply, and snapshot, before writing commit).
    this.log = new RaftLog(init.snapshot, init.entries, Math.max(hs.commit, init.snapshot.meta.index));
    this.term = hs.term;
    this.vote = hs.vote;
    this.prevHardState = hs; // a raised commit is written by the next Ready
    this.applied = init.applied ?? init.snapshot.meta.index;
    assert(
      this.applied >= init.snapshot.meta.index && this.applied <= this.log.commit,
      'raft: applied index outside [snapshot, commit]',
    );
    this.handedOut = this.applied;
    this.conf = init.snapshot.meta.conf;
    this.confIndex = init.snapshot.meta.index;
    this.applyConfChangesTo(this.log.commit);
    this.resetRandomizedElectionTimeout();
    // A restarted node forgot which leader it acknowledged, and a leader may still count on
    // that acknowledgement for its lease: refuse votes for one election timeout, as if a leader
    // were known. Fresh members (term 1, no vote) have acknowledged nobody.
    this.bootSticky = this.leaseReads && (hs.term > 1 || hs.vote !== NONE);
  }

  // ───────────────────────────── queries ─────────────────────────────

  status(): RaftStatus {
    const progress = new Map<NodeId, { match: number; next: number; state: string }>();
    for (const [id, pr] of this.progress) progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    return {
      id: this.id,
      group: this.group,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.commit,
      applied: this.applied,
      stable: this.log.stable,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      conf: this.conf,
      progress,
    };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  /** The in-memory log entry at `index` (for tests and checkers). */
  entryAt(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  latestSnapshot(): Snapshot {
    return this.log.snapshot;
  }

  isLeader(): boolean {
    return this.role === 'leader';
  }

  // ───────────────────────────── inputs ─────────────────────────────

  tick(): void {
    if (this.role === 'leader') {
      this.tickLeader();
      return;
    }
    this.electionElapsed++;
    if (this.bootSticky && this.electionElapsed >= this.electionTicks) this.bootSticky = false;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.preVote, false);
    }
  }

  /** Starts an election now (tests, and operators forcing an election). */
  campaign(preVote = this.preVote, force = false): void {
    if (!this.promotable()) return;
    if (preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const term = preVote ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.pollResult() === 'won') {
      if (preVote) this.campaign(false, force);
      else this.becomeLeader();
      return;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      this.send({
        kind: 'vote',
        group: this.group,
        from: this.id,
        to: v,
        term,
        preVote,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        force,
      });
    }
  }

  /** Leader only: appends a normal entry. Returns its position; the entry is committed once applied with this term. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.requireLeader();
    if (this.leadTransferee !== NONE) {
      throw new RaftBusyError(
        `raft group ${this.group}: leadership transfer to node ${this.leadTransferee} in progress`,
      );
    }
    return this.appendLocal(EntryType.normal, data);
  }

  /** Leader only: proposes one membership change (see the module header for the rules). */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.requireLeader();
    if (this.leadTransferee !== NONE)
      throw new RaftBusyError(`raft group ${this.group}: leadership transfer in progress`);
    if (this.pendingConfIndex > this.log.commit) {
      throw new RaftBusyError(
        `raft group ${this.group}: membership change at index ${this.pendingConfIndex} not committed yet`,
      );
    }
    if (this.log.term(this.log.commit) !== this.term) {
      throw new RaftBusyError(`raft group ${this.group}: new leader has not committed an entry in its term yet`);
    }
    const isVoter = this.conf.voters.includes(cc.type === 'set' ? NONE : cc.node);
    const isLearner = this.conf.learners.includes(cc.type === 'set' ? NONE : cc.node);
    switch (cc.type) {
      case 'set':
        throw new NextDbError(
          SqlState.invalidParameterValue,
          'a set membership change is only valid when bootstrapping',
        );
      case 'addLearner':
        if (isVoter || isLearner)
          throw new NextDbError(
            SqlState.invalidParameterValue,
            `node ${cc.node} is already a member of raft group ${this.group}`,
          );
        break;
      case 'addVoter': {
        if (!isLearner) {
          throw new NextDbError(
            SqlState.invalidParameterValue,
            `node ${cc.node} must be added as a learner and catch up before it can vote`,
          );
        }
        const match = this.progress.get(cc.node)?.match ?? 0;
        if (match + this.learnerCatchUpEntries < this.log.lastIndex()) {
          throw new RaftBusyError(
            `learner ${cc.node} has not caught up (match ${match}, last index ${this.log.lastIndex()})`,
          );
        }
        break;
      }
      case 'removeNode':
        if (!isVoter && !isLearner)
          throw new NextDbError(
            SqlState.invalidParameterValue,
            `node ${cc.node} is not a member of raft group ${this.group}`,
          );
        if (isVoter && this.conf.voters.length === 1)
          throw new NextDbError(SqlState.invalidParameterValue, 'cannot remove the last voter');
        break;
      default:
        assertNever(cc, 'conf change');
    }
    const pos = this.appendLocal(EntryType.confChange, encodeConfChange(cc));
    this.pendingConfIndex = pos.index;
    return pos;
  }

  /**
   * Linearizable read (leader only): a ReadState {index, ctx} appears in a
   * later Ready once a quorum confirmed this node still leads; serve the read
   * once the state machine applied `index`.
   */
  readIndex(ctx: number): void {
    this.requireLeader();
    if (this.log.term(this.log.commit) !== this.term) {
      // The commit index of a new leader may lag the true one until it commits in its own term.
      this.readsAwaitingCommit.push(ctx);
      return;
    }
    if (this.quorumSize() === 1 && this.conf.voters.includes(this.id)) {
      this.readStates.push({ index: this.log.commit, ctx });
      return;
    }
    this.pendingReads.push({ seq: this.hbSeq + 1, index: this.log.commit, ctx });
    this.pendingHeartbeat = true;
  }

  /** A read served under the leader lease when it is valid, else a ReadIndex read. */
  leaseRead(ctx: number): void {
    this.requireLeader();
    if (this.leaseValid() && this.log.term(this.log.commit) === this.term) {
      this.readStates.push({ index: this.log.commit, ctx });
      return;
    }
    this.readIndex(ctx);
  }

  /** True while lease reads may skip the heartbeat round (see the module header for the assumption). */
  leaseValid(): boolean {
    if (!this.leaseReads || this.role !== 'leader' || this.leaseBroken || this.leadTransferee !== NONE) return false;
    const sent = this.seqSentTick.get(this.quorumAckedSeq());
    return sent !== undefined && this.leaderTicks < sent + this.leaseTicks;
  }

  /** Leader only: hands leadership to `to` once it has the whole log (TimeoutNow). */
  transferLeadership(to: NodeId): void {
    this.requireLeader();
    if (to === this.id) return;
    if (!this.conf.voters.includes(to))
      throw new NextDbError(SqlState.invalidParameterValue, `node ${to} is not a voter of raft group ${this.group}`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer is abandoned after one election timeout
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, pr, true);
  }

  /**
   * Records a state-machine snapshot taken at `index` (<= applied) and drops
   * the log before it. The driver persists the returned snapshot.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    assert(index <= this.applied, `raft: compact to ${index} beyond applied ${this.applied}`);
    const term = this.log.term(index);
    assert(term !== undefined, `raft: compact to ${index}, which is not in the log`);
    const snapshot: Snapshot = { meta: { index, term, conf: this.confAt(index) }, data };
    if (index > this.log.snapshot.meta.index) this.log.compact(snapshot);
    return snapshot;
  }

  step(m: Message): void {
    assert(m.group === this.group, `raft: message for group ${m.group} stepped into group ${this.group}`);
    assert(m.to === this.id, `raft: message for node ${m.to} stepped into node ${this.id}`);
    if (m.term > this.term) {
      if (m.kind === 'vote') {
        const inLease =
          this.checkQuorum && (this.leader !== NONE || this.bootSticky) && this.electionElapsed < this.electionTicks;
        if (inLease && !m.force) return; // leader stickiness: do not let a disruptive node bump our term
      }
      if (m.kind === 'vote' && m.preVote) {
        // A pre-vote never changes our term.
      } else if (m.kind === 'voteResp' && m.preVote && !m.reject) {
        // Granted pre-votes carry the prospective term; we only move to it by campaigning.
      } else {
        const fromLeader = m.kind === 'append' || m.kind === 'heartbeat' || m.kind === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.kind === 'append' || m.kind === 'heartbeat')) {
        // A stale leader (cut off while we moved on) learns our term from this and steps down.
        this.send({
          kind: 'appendResp',
          group: this.group,
          from: this.id,
          to: m.from,
          term: this.term,
          index: 0,
          reject: false,
          hintIndex: 0,
          hintTerm: 0,
        });
      } else if (m.kind === 'vote' && m.preVote) {
        this.send({
          kind: 'voteResp',
          group: this.group,
          from: this.id,
          to: m.from,
          term: this.term,
          preVote: true,
          reject: true,
        });
      }
      return;
    }

    switch (m.kind) {
      case 'vote':
        this.handleVote(m);
        return;
      case 'voteResp':
        this.handleVoteResp(m);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        assert(this.role !== 'leader', `raft: two leaders in term ${this.term} (nodes ${this.id} and ${m.from})`);
        if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
        this.leader = m.from;
        this.electionElapsed = 0;
        if (m.kind === 'append') this.handleAppend(m);
        else if (m.kind === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case 'appendResp':
      case 'heartbeatResp':
      case 'snapshotResp':
        if (this.role === 'leader') this.handleLeaderResp(m);
        return;
      case 'timeoutNow':
        if (this.promotable()) this.campaign(false, true);
        return;
      default:
        assertNever(m, 'message');
    }
  }

  // ───────────────────────────── Ready ─────────────────────────────

  hasReady(): boolean {
    if (this.pendingBroadcast || this.pendingHeartbeat) return true;
    if (this.msgs.length > 0 || this.readStates.length > 0 || this.pendingSnapshot !== undefined) return true;
    if (this.log.stable < this.log.lastIndex()) return true;
    if (!sameHardState(this.hardState(), this.prevHardState)) return true;
    return this.pendingSnapshot === undefined && this.handedOut < Math.min(this.log.commit, this.log.lastIndex());
  }

  ready(): Ready {
    assert(!this.readyOutstanding, 'raft: ready() called again before advance()');
    this.flushLeaderSends();
    const hs = this.hardState();
    const hardState = sameHardState(hs, this.prevHardState) ? undefined : hs;
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    this.prevHardState = hs;
    const entries = this.log.unstable();
    const committedEntries =
      this.pendingSnapshot === undefined
        ? this.log.slice(Math.max(this.handedOut + 1, this.log.firstIndex()), this.log.commit + 1)
        : [];
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) this.handedOut = lastCommitted.index;
    const rd: Ready = {
      softState: this.softState(),
      hardState,
      entries,
      snapshot: this.pendingSnapshot,
      mustSync: entries.length > 0 || this.pendingSnapshot !== undefined || termOrVoteChanged,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    this.readyOutstanding = true;
    return rd;
  }

  /**
   * Leader only, callable while a Ready is outstanding: broadcasts pending
   * appends now and returns the messages that may precede persistence (see
   * Ready), so new proposals reach followers while the leader's own fsync is
   * still running. Everything else stays for the next Ready.
   */
  takeEarlyMessages(): Message[] {
    if (this.role !== 'leader') return [];
    this.flushLeaderSends();
    const early: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.msgs) (mayPrecedePersist(m) ? early : rest).push(m);
    this.msgs = rest;
    return early;
  }

  /**
   * Leader only, callable while a Ready is outstanding: committed entries not
   * yet handed out, for the driver to apply at once instead of after its
   * current fsync. Safe because a leader's committed entries are durable on a
   * quorum already. The caller must have applied every entry handed out
   * before (a leader applies a Ready's committed entries before persisting),
   * and applies these immediately: `applied` moves to the last of them.
   */
  takeEarlyCommitted(): Entry[] {
    if (this.role !== 'leader' || this.pendingSnapshot !== undefined) return [];
    const out = this.log.slice(Math.max(this.handedOut + 1, this.log.firstIndex()), this.log.commit + 1);
    const last = out[out.length - 1];
    if (last !== undefined) this.handedOut = this.applied = last.index;
    return out;
  }

  /** The driver has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    assert(this.readyOutstanding, 'raft: advance() without ready()');
    this.readyOutstanding = false;
    if (rd.snapshot !== undefined) {
      if (this.pendingSnapshot === rd.snapshot) this.pendingSnapshot = undefined;
      if (this.applied < rd.snapshot.meta.index) this.applied = rd.snapshot.meta.index;
      if (this.handedOut < rd.snapshot.meta.index) this.handedOut = rd.snapshot.meta.index;
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.log.stableTo(last.index, last.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined && lastApplied.index > this.applied) this.applied = lastApplied.index;
    if (this.role === 'leader') {
      const self = this.progress.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.log.stable)) this.maybeCommit();
    }
  }

  // ───────────────────────────── roles ─────────────────────────────

  private promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.commit };
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTicks + this.prng.int(this.electionTicks);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `raft: term going backwards ${this.term} -> ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = NONE;
    this.leaseBroken = false;
    this.pendingBroadcast = false;
    this.pendingHeartbeat = false;
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.seqSentTick.clear();
  }

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'raft: leader cannot pre-campaign');
    // Pre-candidacy changes neither term nor vote.
    this.reset(this.term);
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'raft: leader cannot campaign');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'raft: only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.leaderTicks = 0;
    this.hbSeq = 0;
    const next = this.log.lastIndex() + 1;
    for (const v of this.conf.voters) this.progress.set(v, new Progress(next, this.maxInflight, false));
    for (const l of this.conf.learners) this.progress.set(l, new Progress(next, this.maxInflight, true));
    const self = this.progress.get(this.id)!;
    self.becomeReplicate();
    self.match = this.log.stable;
    self.next = next;
    self.recentActive = true;
    // No membership change until the no-op (and with it every earlier entry) commits.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendLocal(EntryType.normal, EMPTY);
  }

  private requireLeader(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.group, this.id, this.leader);
  }

  private appendLocal(type: EntryType, data: Uint8Array): { index: number; term: number } {
    const index = this.log.lastIndex() + 1;
    this.log.append({ index, term: this.term, type, data });
    this.pendingBroadcast = true;
    // A single-voter group commits as soon as the entry is durable (advance).
    return { index, term: this.term };
  }

  // ───────────────────────────── elections ─────────────────────────────

  private handleVote(m: Extract<Message, { kind: 'vote' }>): void {
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.leader === NONE) || (m.preVote && m.term > this.term);
    const grant = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
    // A granted pre-vote answers in the prospective term so the pre-candidate counts it.
    const term = grant && m.preVote ? m.term : this.term;
    this.send({
      kind: 'voteResp',
      group: this.group,
      from: this.id,
      to: m.from,
      term,
      preVote: m.preVote,
      reject: !grant,
    });
    if (grant && !m.preVote) {
      this.vote = m.from;
      this.electionElapsed = 0;
    }
  }

  private handleVoteResp(m: Extract<Message, { kind: 'voteResp' }>): void {
    const expected = m.preVote ? 'preCandidate' : 'candidate';
    if (this.role !== expected) return;
    if (!this.conf.voters.includes(m.from)) return;
    this.votes.set(m.from, !m.reject);
    const result = this.pollResult();
    if (result === 'won') {
      if (m.preVote) this.campaign(false, false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  private pollResult(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const v of this.conf.voters) {
      const g = this.votes.get(v);
      if (g === true) granted++;
      else if (g === false) rejected++;
    }
    const q = this.quorumSize();
    if (granted >= q) return 'won';
    if (rejected > this.conf.voters.length - q) return 'lost';
    return 'pending';
  }

  private quorumSize(): number {
    return Math.floor(this.conf.voters.length / 2) + 1;
  }

  // ───────────────────────────── follower side ─────────────────────────────

  private reply(
    m: Message,
    body: Omit<Extract<Message, { kind: 'appendResp' }>, 'group' | 'from' | 'to' | 'term' | 'kind'>,
  ): void {
    this.send({ kind: 'appendResp', group: this.group, from: this.id, to: m.from, term: this.term, ...body });
  }

  private handleAppend(m: Extract<Message, { kind: 'append' }>): void {
    if (m.prevIndex < this.log.commit) {
      // Everything up to commit matches the leader already; tell it so it can skip ahead.
      this.reply(m, { index: this.log.commit, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = this.log.maybeAppend(m.prevIndex, m.entries);
      this.commitTo(Math.min(m.commit, lastNew));
      this.reply(m, { index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    // Fast backtracking: point the leader at the last index whose term could still match.
    const hintIndex = this.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.reply(m, { index: m.prevIndex, reject: true, hintIndex, hintTerm: this.log.term(hintIndex) ?? 0 });
  }

  /** The largest index <= `index` whose term is <= `term` (or the first index we cannot see past). */
  private findConflictByTerm(index: number, term: number): number {
    for (;;) {
      const t = this.log.term(index);
      if (t === undefined || t <= term) return index;
      index--;
    }
  }

  private handleHeartbeat(m: Extract<Message, { kind: 'heartbeat' }>): void {
    this.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ kind: 'heartbeatResp', group: this.group, from: this.id, to: m.from, term: this.term, seq: m.seq });
  }

  private handleSnapshot(m: Extract<Message, { kind: 'snapshot' }>): void {
    const ack = (offset: number): void =>
      this.send({
        kind: 'snapshotResp',
        group: this.group,
        from: this.id,
        to: m.from,
        term: this.term,
        snapIndex: m.meta.index,
        snapTerm: m.meta.term,
        offset,
      });
    if (m.meta.index <= this.log.commit) {
      this.incoming = undefined;
      this.reply(m, { index: this.log.commit, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (m.offset === 0) this.incoming = { index: m.meta.index, term: m.meta.term, parts: [], size: 0 };
    const inc = this.incoming;
    if (inc === undefined || inc.index !== m.meta.index || inc.term !== m.meta.term || inc.size !== m.offset) {
      // A chunk out of order (loss, reorder, a newer snapshot): ask for what we can use.
      ack(inc !== undefined && inc.index === m.meta.index && inc.term === m.meta.term ? inc.size : 0);
      return;
    }
    inc.parts.push(Buffer.from(m.chunk));
    inc.size += m.chunk.length;
    if (!m.done) {
      ack(inc.size);
      return;
    }
    this.incoming = undefined;
    const snapshot: Snapshot = { meta: m.meta, data: Buffer.concat(inc.parts) };
    this.restore(snapshot);
    this.reply(m, { index: this.log.lastIndex(), reject: false, hintIndex: 0, hintTerm: 0 });
  }

  private restore(s: Snapshot): void {
    if (s.meta.index <= this.log.commit) return;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already have the snapshot's entries: just learn they are committed.
      this.commitTo(s.meta.index);
      return;
    }
    this.log.restore(s);
    this.conf = s.meta.conf;
    this.confIndex = s.meta.index;
    this.pendingSnapshot = s;
  }

  // ───────────────────────────── commit & membership ─────────────────────────────

  private commitTo(index: number): void {
    if (index <= this.log.commit) return;
    this.log.commitTo(index);
    this.applyConfChangesTo(index);
  }

  /**
   * Applies committed conf-change entries in (confIndex, index] to `conf`.
   * Commit re-checks run after the loop so that they never re-enter it.
   */
  private applyConfChangesTo(index: number): void {
    let stepDown = false;
    let changed = false;
    for (let i = Math.max(this.confIndex + 1, this.log.firstIndex()); i <= index; i++) {
      const e = this.log.entry(i)!;
      this.confIndex = i;
      if (e.type !== EntryType.confChange) continue;
      const cc = decodeConfChange(e.data);
      this.conf = applyConfChange(this.conf, cc);
      changed = true;
      if (this.role === 'leader') stepDown = this.leaderApplyConfChange(cc) || stepDown;
    }
    if (index > this.confIndex) this.confIndex = index;
    if (stepDown) {
      // Tell the others the removal committed before leaving, so they stop waiting on us.
      this.pendingBroadcast = true;
      this.flushLeaderSends();
      this.becomeFollower(this.term, NONE);
    } else if (changed && this.role === 'leader') {
      // Fewer voters may mean a smaller quorum already holds more entries or confirms reads.
      this.maybeCommit();
      this.processReads();
    }
  }

  /** Returns true if the leader removed itself and must step down. */
  private leaderApplyConfChange(cc: ConfChange): boolean {
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case 'set':
        return false;
      case 'addLearner':
        if (!this.progress.has(cc.node)) this.progress.set(cc.node, new Progress(next, this.maxInflight, true));
        this.pendingBroadcast = true;
        return false;
      case 'addVoter': {
        const pr = this.progress.get(cc.node);
        if (pr === undefined) this.progress.set(cc.node, new Progress(next, this.maxInflight, false));
        else pr.isLearner = false;
        return false;
      }
      case 'removeNode':
        if (cc.node === this.id) return true;
        this.progress.delete(cc.node);
        if (this.leadTransferee === cc.node) this.leadTransferee = NONE;
        return false;
      default:
        return assertNever(cc, 'conf change');
    }
  }

  private confAt(index: number): ConfState {
    let conf = this.log.snapshot.meta.conf;
    for (let i = this.log.firstIndex(); i <= index; i++) {
      const e = this.log.entry(i)!;
      if (e.type === EntryType.confChange) conf = applyConfChange(conf, decodeConfChange(e.data));
    }
    return conf;
  }

  // ───────────────────────────── leader side ─────────────────────────────

  private tickLeader(): void {
    this.leaderTicks++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE; // transfer timed out
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      const pr = this.progress.get(v);
      if (v === this.id || pr?.recentActive === true) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active >= this.quorumSize();
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const v of this.conf.voters) matches.push(this.progress.get(v)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const idx = matches[this.quorumSize() - 1]!;
    if (idx <= this.log.commit || this.log.term(idx) !== this.term) return false;
    const firstInTerm = this.log.term(this.log.commit) !== this.term;
    this.commitTo(idx);
    if (this.role !== 'leader') return true; // removed ourselves
    this.pendingBroadcast = true;
    if (firstInTerm && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const ctx of waiting) this.readIndex(ctx);
    }
    return true;
  }

  private quorumAckedSeq(): number {
    const seqs: number[] = [];
    for (const v of this.conf.voters) seqs.push(v === this.id ? this.hbSeq : (this.progress.get(v)?.seqAcked ?? 0));
    seqs.sort((a, b) => b - a);
    return seqs[this.quorumSize() - 1] ?? 0;
  }

  private processReads(): void {
    if (this.pendingReads.length === 0 && this.seqSentTick.size < 64) return;
    const q = this.quorumAckedSeq();
    let n = 0;
    while (n < this.pendingReads.length && this.pendingReads[n]!.seq <= q) {
      const r = this.pendingReads[n]!;
      this.readStates.push({ index: r.index, ctx: r.ctx });
      n++;
    }
    if (n > 0) this.pendingReads.splice(0, n);
    // Only the send tick of the quorum-acked sequence (or later) is ever needed for the lease.
    for (const s of this.seqSentTick.keys()) {
      if (s >= q) break;
      this.seqSentTick.delete(s);
    }
  }

  private bcastHeartbeat(): void {
    this.pendingHeartbeat = false;
    this.hbSeq++;
    this.seqSentTick.set(this.hbSeq, this.leaderTicks);
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        kind: 'heartbeat',
        group: this.group,
        from: this.id,
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.log.commit),
        seq: this.hbSeq,
      });
    }
    this.processReads(); // a single-voter group confirms at once
  }

  private flushLeaderSends(): void {
    if (this.role !== 'leader') {
      this.pendingBroadcast = false;
      this.pendingHeartbeat = false;
      return;
    }
    if (this.pendingHeartbeat) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
    if (this.pendingBroadcast) {
      this.pendingBroadcast = false;
      for (const [id, pr] of this.progress) {
        if (id === this.id) continue;
        // Fill the pipeline: several appends if the follower's window allows.
        while (this.sendAppend(id, pr, pr.commitSent < this.log.commit)) {
          if (pr.state !== 'replicate' || pr.next > this.log.lastIndex()) break;
        }
      }
    }
  }

  /** Sends one append (or starts a snapshot). Returns true if an append carrying entries or a commit went out. */
  private sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (!pr.canSend()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      this.startSnapshot(to, pr);
      return false;
    }
    const entries =
      pr.next <= this.log.lastIndex() ? this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxMsgBytes) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    const commit = this.log.commit;
    this.send({
      kind: 'append',
      group: this.group,
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit,
    });
    pr.commitSent = commit;
    const last = entries[entries.length - 1];
    if (last !== undefined) pr.sentEntries(last.index);
    else if (pr.state === 'probe') pr.paused = true;
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    const snap = this.log.snapshot;
    pr.becomeSnapshot(snap.meta.index);
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.log.snapshot;
    if (snap.meta.index !== pr.pendingSnapshot) {
      // We compacted further while sending: start over with the newer snapshot.
      pr.becomeSnapshot(snap.meta.index);
    }
    const offset = Math.min(pr.snapshotOffset, snap.data.length);
    const end = Math.min(offset + this.snapshotChunkBytes, snap.data.length);
    this.send({
      kind: 'snapshot',
      group: this.group,
      from: this.id,
      to,
      term: this.term,
      meta: snap.meta,
      offset,
      chunk: snap.data.subarray(offset, end),
      done: end === snap.data.length,
    });
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseBroken = true; // the target will campaign past every follower's stickiness
    this.send({ kind: 'timeoutNow', group: this.group, from: this.id, to, term: this.term });
  }

  private handleLeaderResp(m: Extract<Message, { kind: 'appendResp' | 'heartbeatResp' | 'snapshotResp' }>): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return; // removed, or never a member
    pr.recentActive = true;
    switch (m.kind) {
      case 'appendResp':
        this.handleAppendResp(m, pr);
        return;
      case 'heartbeatResp':
        if (m.seq > pr.seqAcked) pr.seqAcked = m.seq;
        if (pr.state === 'snapshot') {
          this.sendSnapshotChunk(m.from, pr); // a chunk or its ack may have been lost
        } else {
          pr.paused = false;
          // In replicate state a lost append leaves the window full forever; free one slot so a probe can go out.
          if (pr.state === 'replicate' && pr.full()) pr.inflights.shift();
          if (pr.match < this.log.lastIndex() || pr.commitSent < this.log.commit) this.sendAppend(m.from, pr, true);
        }
        this.processReads();
        return;
      case 'snapshotResp':
        if (pr.state !== 'snapshot' || m.snapIndex !== pr.pendingSnapshot) return;
        if (m.snapIndex !== this.log.snapshot.meta.index) {
          pr.becomeSnapshot(this.log.snapshot.meta.index);
        } else {
          pr.snapshotOffset = m.offset;
        }
        this.sendSnapshotChunk(m.from, pr);
        return;
      default:
        assertNever(m, 'message');
    }
  }

  private handleAppendResp(m: Extract<Message, { kind: 'appendResp' }>, pr: Progress): void {
    if (m.reject) {
      let hint = m.hintIndex;
      if (m.hintTerm > 0) hint = this.findConflictByTerm(m.hintIndex, m.hintTerm);
      if (pr.maybeDecrTo(m.index, hint)) this.sendAppend(m.from, pr, true);
      return;
    }
    if (m.index > this.log.lastIndex()) return; // cannot happen unless confused; ignore defensively
    const wasPaused = !pr.canSend();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && pr.canSend()) this.pendingBroadcast = true;
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    this.maybeCommit();
    if (this.role !== 'leader') return;
    this.pendingBroadcast = true;
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * ClusterNode: one NextDB node of one Raft group — a RaftNode, the
 * ReplicatedEngine it drives, and (while this node leads) a TxnManager.
 *
 *   step(msg) / tick() ──► RaftNode ──► Ready loop (one at a time):
 *        1. propose buffered writes of the ReplicatedEngine
 *        2. persist snapshot / entries / hard state (EngineLogStore), await sync
 *           (a leader's appends and heartbeats already go out meanwhile)
 *        3. send the other messages
 *        4. install snapshot, apply committed entries (yielding every
 *           APPLY_YIELD_BYTES), serve read states
 *        5. advance; start leading / compact the log when due
 *
 * Leadership (all transitions happen synchronously right after the RaftNode
 * call that caused them, before any other work):
 * - Won term T: the node writes nothing until it has applied its term-start
 *   no-op (every entry committed before T is then applied). Then the
 *   ReplicatedEngine starts leading and a fresh TxnManager opens over a
 *   LeaderTermEngine view; MVCC recovery finishes transactions whose
 *   records the old leader committed (in slices that yield through
 *   `schedule`, so a big one does not stall heartbeats into the next
 *   election) and treats its other intents as orphans. Until the manager
 *   is open, requests get a retryable 40001.
 * - Lost term T: the ReplicatedEngine drops its overlay and rejects pending
 *   syncs (40001 certainly-not-committed / 40003 unknown), the view fences,
 *   the manager closes (its live transactions abort; ClusterTxn reports
 *   40001), pending linearizable-read barriers are rejected.
 *
 * Reads: `begin()` first runs a ReadIndex (or lease, when the Raft config
 * enables lease reads) barrier, so every transaction — in particular a
 * read-only one, which never goes through the log — sees every write
 * acknowledged before it began. `staleSnapshot()` serves the replica's
 * applied state on any node without that round trip.
 *
 * Everything is deterministic: time is `tick()`, randomness is the injected
 * Prng, the HLC reads the injected Clock, messages leave through `send` and
 * all I/O goes through the injected Engine — one process can run N nodes.
 *
 * Membership: `addNode(id)` adds a learner, which the leader (any leader)
 * promotes to voter once it caught up (a node joins by opening with no bootstrap list: it starts
 * empty and learns everything, snapshot included, from the leader);
 * `removeNode(id)` removes one. One change at a time (Raft thesis §4.1).
 *
 * Limits: one Raft group. A non-leader answers NotLeaderError naming the
 * leader; the server forwards sessions (src/server/cluster-session.ts).
 */

import { NotLeaderError, RaftBusyError } from '../raft/errors.ts';
import { bootstrapState, joiningState, RaftNode, type RaftConfig } from '../raft/raft-node.ts';
import type { GroupId, Message, NodeId, RaftInitialState, Role } from '../raft/types.ts';
import { mayPrecedePersist, NONE } from '../raft/types.ts';
import type { CheckpointInfo, Engine, Snapshot } from '../storage/engine.ts';
import { writeLsmCopy } from '../storage/lsm/copy.ts';
import type { Txn, TxnOptions } from '../txn/api.ts';
import { openTxnManager, type MvccTxnManager } from '../txn/index.ts';
import { assert } from '../util/assert.ts';
import type { Clock } from '../util/clock.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { Prng } from '../util/prng.ts';
import { ClusterTxn } from './cluster-txn.ts';
import { LeaderTermEngine } from './leader-term-engine.ts';
import { Overlay } from './overlay.ts';
import { EngineLogStore } from './engine-log-store.ts';
import { MergedSnapshot, ReplicatedEngine } from './replicated-engine.ts';
import { REPLICATED_END } from './replica-keys.ts';

/**
 * While applying one Ready, the node yields to the event loop (through
 * `schedule`) after each this many bytes of entries, so a replica applying
 * a big transaction keeps ticking and answering heartbeats.
 */
export const APPLY_YIELD_BYTES = 128 << 10;

/** Default: take a state-machine snapshot and truncate the log every this many applied entries. */
export const COMPACT_AFTER_ENTRIES = 10_000;

export interface ClusterNodeOptions {
  readonly id: NodeId;
  /** Raft group id (default 1). */
  readonly group?: GroupId;
  /** The node's local engine: Raft log, hard state and the applied state machine. */
  readonly local: Engine;
  readonly prng: Prng;
  /** Clock of the MVCC layer's HLC. */
  readonly clock: Clock;
  /** Hands a message to the transport; must not call back into this node synchronously. */
  readonly send: (m: Message) => void;
  /** Voters of a brand-new group, used only when this node has no state yet; omit to join an existing group. */
  readonly bootstrap?: readonly NodeId[];
  readonly raft?: Omit<RaftConfig, 'id' | 'group' | 'prng'>;
  readonly compactAfterEntries?: number;
  /** Default APPLY_YIELD_BYTES. */
  readonly applyYieldBytes?: number;
  /** Intents the leader's MVCC layer resolves per slice between yields (default RESOLVE_SLICE_KEYS of src/txn). */
  readonly resolveSliceKeys?: number;
  readonly proposalBytesMax?: number;
  /** Runs the Ready loop later (default: queueMicrotask). */
  readonly schedule?: (fn: () => void) => void;
  /** A failure of the Ready loop (storage error, assertion): the node stops. */
  readonly onFatal?: (e: unknown) => void;
}

export interface ClusterNodeStatus {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Index of the latest state-machine snapshot (the log starts after it; 0: never compacted). */
  readonly snapshotIndex: number;
  /** Snapshots this process took of its own state machine (log compactions). */
  readonly snapshotsTaken: number;
  /** Snapshots this process received from a leader (InstallSnapshot) and installed. */
  readonly snapshotsInstalled: number;
  /** This node leads and its transaction manager is open. */
  readonly serving: boolean;
}

interface ReadWaiter {
  index: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class ClusterNode {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly raft: RaftNode;
  readonly engine: ReplicatedEngine;
  private readonly local: Engine;
  private readonly store: EngineLogStore;
  private readonly clock: Clock;
  private readonly send: (m: Message) => void;
  private readonly schedule: (fn: () => void) => void;
  private readonly onFatal: (e: unknown) => void;
  private readonly compactAfterEntries: number;
  private readonly applyYieldBytes: number;
  private readonly resolveSliceKeys: number | undefined;
  private readonly leaseReads: boolean;

  private running = false;
  private again = false;
  private dead = false;
  /** Term this node leads (from the Raft core's point of view), and where that term began. */
  private leaderTerm: number | undefined;
  private termStartIndex = 0;
  private manager: { readonly term: number; readonly mgr: MvccTxnManager } | undefined;
  private nextCtx = 1;
  private readonly reads = new Map<number, ReadWaiter>();
  private lastCompacted: number;
  private snapshotsTaken = 0;
  private snapshotsInstalled = 0;
  private readonly lossListeners: ((term: number) => void)[] = [];
  /** Applied index at the last look for learners to promote (a look per applied change, not per Ready). */
  private promotionCheckedAt = -1;
  /** Ticks since this node opened, and the tick of the last message from each peer (member health). */
  private ticks = 0;
  private readonly heardAt = new Map<NodeId, number>();

  private constructor(
    options: ClusterNodeOptions,
    store: EngineLogStore,
    engine: ReplicatedEngine,
    raft: RaftNode,
    snapshotIndex: number,
  ) {
    this.id = options.id;
    this.group = options.group ?? 1;
    this.local = options.local;
    this.store = store;
    this.engine = engine;
    this.raft = raft;
    this.clock = options.clock;
    this.send = options.send;
    this.schedule = options.schedule ?? queueMicrotask;
    this.onFatal =
      options.onFatal ??
      ((e) =>
        queueMicrotask(() => {
          throw e;
        }));
    this.compactAfterEntries = options.compactAfterEntries ?? COMPACT_AFTER_ENTRIES;
    this.applyYieldBytes = options.applyYieldBytes ?? APPLY_YIELD_BYTES;
    this.resolveSliceKeys = options.resolveSliceKeys;
    this.leaseReads = options.raft?.leaseReads ?? false;
    this.lastCompacted = snapshotIndex;
    engine.onWork = () => this.kick();
  }

  /**
   * Opens the node from its local engine: restores the Raft state, installs
   * a persisted-but-uninstalled snapshot, or bootstraps / joins when the
   * engine holds nothing for this group yet.
   */
  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const group = options.group ?? 1;
    const store = new EngineLogStore(options.local, group);
    const loaded = store.load();
    const engine = new ReplicatedEngine({
      group,
      node: options.id,
      local: options.local,
      ...(options.proposalBytesMax === undefined ? {} : { proposalBytesMax: options.proposalBytesMax }),
    });
    let init: RaftInitialState;
    if (loaded.exists) {
      init = loaded.initial;
      if (engine.appliedIndex < init.snapshot.meta.index) engine.installSnapshot(init.snapshot);
      init = { ...init, applied: Math.min(engine.appliedIndex, init.hardState.commit) };
    } else {
      init = options.bootstrap === undefined ? joiningState() : bootstrapState(options.bootstrap);
      // The initial state is durable before the node says anything to anyone.
      store.saveReady({
        softState: { role: 'follower', leader: NONE, term: init.hardState.term },
        hardState: init.hardState,
        entries: init.entries,
        snapshot: undefined,
        mustSync: true,
        messages: [],
        committedEntries: [],
        readStates: [],
      });
      await options.local.sync();
      init = { ...init, applied: 0 };
    }
    assert(
      engine.appliedIndex >= init.snapshot.meta.index,
      'cluster node: state machine behind its snapshot after open',
    );
    const raft = new RaftNode({ ...options.raft, id: options.id, group, prng: options.prng }, init);
    const node = new ClusterNode(options, store, engine, raft, init.snapshot.meta.index);
    node.kick(); // committed entries not applied before the restart
    return node;
  }

  // ───────────────────────── inputs ─────────────────────────

  step(m: Message): void {
    if (this.dead) return;
    this.heardAt.set(m.from, this.ticks);
    this.raft.step(m);
    this.observeRole();
    this.kick();
  }

  tick(): void {
    if (this.dead) return;
    this.ticks++;
    // A learner that was not caught up at the last applied entry is looked at again each tick
    // (an idle group applies nothing that would trigger the look).
    if (this.engine.isLeading && this.raft.status().conf.learners.length > 0) this.promotionCheckedAt = -1;
    this.raft.tick();
    this.observeRole();
    this.kick();
  }

  /** Starts an election now (tests, operators). */
  campaign(): void {
    if (this.dead) return;
    this.raft.campaign();
    this.observeRole();
    this.kick();
  }

  /** Hands leadership to `to` (clean shutdown, rebalancing). */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
    this.kick();
  }

  /**
   * Leader only: adds `id` to the group as a learner (it receives the log,
   * or a snapshot, but does not vote); once it has caught up the leader
   * promotes it to voter by itself. One membership change at a time: a
   * RaftBusyError means "retry shortly".
   */
  addNode(id: NodeId): void {
    if (this.dead) throw this.stopped();
    this.raft.proposeConfChange({ type: 'addLearner', node: id });
    this.kick();
  }

  /** Leader only: removes a voter or learner (a leader removing itself steps down once it commits). */
  removeNode(id: NodeId): void {
    if (this.dead) throw this.stopped();
    this.raft.proposeConfChange({ type: 'removeNode', node: id });
    this.kick();
  }

  // ───────────────────────── queries ─────────────────────────

  status(): ClusterNodeStatus {
    const s = this.raft.status();
    return {
      id: this.id,
      group: this.group,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commit: s.commit,
      applied: this.engine.appliedIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: this.raft.latestSnapshot().meta.index,
      snapshotsTaken: this.snapshotsTaken,
      snapshotsInstalled: this.snapshotsInstalled,
      serving: this.manager !== undefined,
    };
  }

  /**
   * Ticks since the last message from `peer` arrived (undefined: never).
   * A leader hears from every live member each heartbeat; a follower hears
   * only from the leader.
   */
  ticksSinceHeard(peer: NodeId): number | undefined {
    const at = this.heardAt.get(peer);
    return at === undefined ? undefined : this.ticks - at;
  }

  /** Called with the term each time this node loses leadership (after its manager was closed). */
  onLeadershipLost(listener: (term: number) => void): void {
    this.lossListeners.push(listener);
  }

  /** True while the node is stopped by kill() / close() or a fatal error. */
  get isDead(): boolean {
    return this.dead;
  }

  /**
   * The transaction manager of the current term (leader only), for callers
   * that need more than `begin` (GC, stats). Throws like `begin` otherwise.
   */
  txnManager(): MvccTxnManager {
    return this.requireServing().mgr;
  }

  // ───────────────────────── transactions and reads ─────────────────────────

  /**
   * Begins a transaction on the leader after a linearizability barrier.
   * Throws NotLeaderError (40001, naming the leader) on other nodes, and a
   * retryable 40001 while a new leader is still opening its manager.
   */
  async begin(options: TxnOptions = {}): Promise<Txn> {
    const { term } = this.requireServing();
    await this.readBarrier();
    const m = this.requireServing();
    if (m.term !== term) throw this.leadershipMoved();
    return new ClusterTxn(m.mgr.begin(options), term, {
      group: this.group,
      node: this.id,
      leads: (t) => this.manager?.term === t && !this.dead,
      leaderHint: () => this.raft.softState().leader,
    });
  }

  /**
   * Resolves once a quorum confirmed this node still leads and the state
   * machine applied everything committed when the barrier was asked for.
   */
  readBarrier(): Promise<void> {
    if (this.dead) return Promise.reject(this.stopped());
    const ctx = this.nextCtx++;
    return new Promise<void>((resolve, reject) => {
      this.reads.set(ctx, { index: -1, resolve, reject });
      try {
        if (this.leaseReads) this.raft.leaseRead(ctx);
        else this.raft.readIndex(ctx);
      } catch (e) {
        this.reads.delete(ctx);
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.kick();
    });
  }

  /**
   * nextdb_backup() on a cluster: after a linearizability barrier (so every
   * transaction committed before the call is applied here), this replica's
   * replicated keyspace at one applied index, written as a new single-server
   * LSM data directory (`nextdb server --data dir` serves it). Leader only
   * (the barrier): others throw NotLeaderError, and SQL sessions forward.
   */
  async backup(dir: string): Promise<CheckpointInfo> {
    this.requireServing();
    await this.readBarrier();
    const snap = this.local.snapshot();
    try {
      return await writeLsmCopy(snap, dir, { lt: REPLICATED_END });
    } finally {
      snap.release();
    }
  }

  /** A point-in-time view of this replica's applied state (stale reads, any node). */
  staleSnapshot(): Snapshot {
    return new MergedSnapshot(new Overlay().clone(), this.local.snapshot());
  }

  // ───────────────────────── lifecycle ─────────────────────────

  /** Stops at once, as a crash would: nothing more is persisted or sent. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.loseLeadership(NONE);
    void this.engine.close();
  }

  /** Stops cleanly: lets a running Ready iteration finish its persistence, then stops. The local engine stays open. */
  async close(): Promise<void> {
    this.kill();
    await this.local.sync();
  }

  // ───────────────────────── the Ready loop ─────────────────────────

  private kick(): void {
    if (this.dead) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.schedule(() => void this.runLoop());
  }

  private async runLoop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.drainReady();
      } while (this.again && !this.dead);
    } catch (e) {
      if (!this.dead) {
        this.kill();
        this.onFatal(e);
      }
    } finally {
      this.running = false;
    }
  }

  private async drainReady(): Promise<void> {
    for (;;) {
      if (this.dead) return;
      this.engine.proposePending();
      this.observeRole();
      if (!this.raft.hasReady()) return;
      const rd = this.raft.ready();
      // A Ready that only moves the commit index need not wait for an fsync
      // (a lost commit index is re-learned); the applies it allows are
      // written after it, and the engine makes writes durable in order.
      const saved = this.store.saveReady(rd);
      // A leader's appends and heartbeats may go out while its own fsync
      // runs (Raft thesis §10.2.1; the core counts the leader's entries only
      // once advance() says they are durable): the followers' fsyncs overlap
      // the leader's. Everything else waits for durability.
      const late: Message[] = [];
      for (const m of rd.messages) {
        if (mayPrecedePersist(m)) this.send(m);
        else late.push(m);
      }
      if (saved && rd.mustSync) await this.local.sync();
      if (this.dead) return;
      for (const m of late) this.send(m);
      if (rd.snapshot !== undefined) {
        this.engine.installSnapshot(rd.snapshot);
        this.snapshotsInstalled++;
        this.lastCompacted = Math.max(this.lastCompacted, rd.snapshot.meta.index);
      }
      let sinceYield = 0;
      for (const e of rd.committedEntries) {
        if (e.index > this.engine.appliedIndex) this.engine.applyEntry(e);
        sinceYield += e.data.length;
        if (sinceYield >= this.applyYieldBytes) {
          // Inputs that arrive meanwhile are stepped as during the sync above and batched into the next Ready.
          sinceYield = 0;
          await new Promise<void>((resolve) => this.schedule(resolve));
          if (this.dead) return;
        }
      }
      for (const rs of rd.readStates) {
        const w = this.reads.get(rs.ctx);
        if (w !== undefined) w.index = rs.index;
      }
      this.raft.advance(rd);
      this.observeRole();
      this.afterApply();
    }
  }

  private afterApply(): void {
    const applied = this.engine.appliedIndex;
    for (const [ctx, w] of this.reads) {
      if (w.index >= 0 && w.index <= applied) {
        this.reads.delete(ctx);
        w.resolve();
      }
    }
    const term = this.leaderTerm;
    if (term !== undefined && !this.engine.isLeading && applied >= this.termStartIndex) {
      this.engine.startLeading(term, (data) => this.raft.propose(data));
      this.openManager(term);
    }
    if (term !== undefined && this.engine.isLeading && applied !== this.promotionCheckedAt) {
      this.promotionCheckedAt = applied;
      this.promoteCaughtUp();
    }
    // A snapshot received while this Ready was being persisted may already
    // have replaced the log past `applied`; it is installed by the next Ready.
    const snapIndex = this.raft.latestSnapshot().meta.index;
    if (applied > snapIndex && applied - Math.max(this.lastCompacted, snapIndex) >= this.compactAfterEntries) {
      const snap = this.raft.compact(applied, this.engine.snapshotData());
      this.store.saveCompaction(snap);
      this.snapshotsTaken++;
      this.lastCompacted = applied;
    }
  }

  /**
   * Any leader promotes every learner that caught up (so a promotion
   * survives a leader change); the Raft core refuses (busy) until it has.
   */
  private promoteCaughtUp(): void {
    for (const id of this.raft.status().conf.learners) {
      try {
        this.raft.proposeConfChange({ type: 'addVoter', node: id });
      } catch (e) {
        if (e instanceof RaftBusyError) continue; // not caught up, or another change pending: next time
        throw e;
      }
      return; // one change at a time
    }
  }

  private openManager(term: number): void {
    const view = new LeaderTermEngine(this.engine, term);
    // Recovery (finishing the old leader's committed transactions) and every commit's resolution
    // yield through the node's scheduler between slices: the Ready loop keeps running meanwhile.
    openTxnManager(view, {
      clock: this.clock,
      yieldToOthers: () => new Promise<void>((resolve) => this.schedule(resolve)),
      ...(this.resolveSliceKeys === undefined ? {} : { resolveSliceKeys: this.resolveSliceKeys }),
    }).then(
      (mgr) => {
        if (this.dead || this.leaderTerm !== term || !this.engine.isLeading) {
          void mgr.close().catch(() => undefined);
          return;
        }
        this.manager = { term, mgr };
      },
      (e: unknown) => {
        // Losing the term while opening rejects the manager's sync; anything else is a bug.
        if (this.leaderTerm === term && !this.dead) {
          this.kill();
          this.onFatal(e);
        }
      },
    );
  }

  /** Reacts to role changes of the Raft core; called after every input. */
  private observeRole(): void {
    const ss = this.raft.softState();
    if (this.leaderTerm !== undefined && (ss.role !== 'leader' || ss.term !== this.leaderTerm))
      this.loseLeadership(ss.leader);
    if (ss.role === 'leader' && this.leaderTerm === undefined) {
      this.leaderTerm = ss.term;
      this.termStartIndex = this.raft.status().lastIndex; // the no-op of the new term
    }
    if (ss.role !== 'leader') this.engine.setLeaderHint(ss.leader);
  }

  private loseLeadership(newLeader: NodeId): void {
    const term = this.leaderTerm;
    this.leaderTerm = undefined;
    if (term === undefined) return;
    this.engine.stopLeading(newLeader); // fences the manager's view before the manager aborts anything
    const m = this.manager;
    this.manager = undefined;
    if (m !== undefined) void m.mgr.close().catch(() => undefined);
    const reads = [...this.reads.values()];
    this.reads.clear();
    const err = this.dead ? this.stopped() : new NotLeaderError(this.group, this.id, newLeader);
    for (const w of reads) w.reject(err);
    for (const l of this.lossListeners) l(term);
  }

  private requireServing(): { readonly term: number; readonly mgr: MvccTxnManager } {
    if (this.dead) throw this.stopped();
    const m = this.manager;
    if (m !== undefined) return m;
    const ss = this.raft.softState();
    if (ss.role !== 'leader') throw new NotLeaderError(this.group, this.id, ss.leader);
    throw new NextDbError(
      SqlState.serializationFailure,
      `node ${this.id} just became the leader of raft group ${this.group} and is still catching up; retry shortly`,
      {
        hint: 'retry in a moment',
      },
    );
  }

  private leadershipMoved(): NextDbError {
    return new NextDbError(
      SqlState.serializationFailure,
      `leadership of raft group ${this.group} moved away from node ${this.id}; retry the transaction`,
      {
        hint: 'retry on the new leader',
      },
    );
  }

  private stopped(): NextDbError {
    return new NextDbError(SqlState.adminShutdown, `node ${this.id} is stopped`);
  }
}

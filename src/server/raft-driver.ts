/**
 * RaftDriver: runs one Raft group's pure state machine (src/raft) against
 * real time, the durable log store and the TCP transport.
 *
 *   timer ──tick()──►┐
 *   transport ─step()─►  RaftNode ──ready()──► 1. store.save + await sync (group commit)
 *   propose()/read() ─►┘                        2. transport.send(messages) (a leader's
 *                                                  appends go out before step 1)
 *                                               3. restore snapshot, apply entries, serve reads
 *                                               4. advance()
 *
 * One Ready is processed at a time; inputs keep arriving meanwhile, so the
 * next Ready batches everything proposed during the previous fsync — the
 * batching that gives throughput under load. Many drivers (groups) can share
 * one store and one transport.
 *
 * Proposals resolve once applied locally with the term they were proposed
 * in, and reject when another entry took their index (a new leader
 * overwrote them: they never take effect). They stay pending across a
 * step-down, because the entry may still commit; `proposalTimeoutMs` bounds
 * the wait (outcome unknown). Reads (`read()`) are ReadIndex (or lease)
 * barriers: they resolve once the state machine has applied everything
 * committed when the read was confirmed.
 */

import type { RaftLogStore } from '../raft/log-store.ts';
import type { RaftNode } from '../raft/raft-node.ts';
import type { Entry, Message, Snapshot } from '../raft/types.ts';
import { mayPrecedePersist } from '../raft/types.ts';
import { NextDbError, SqlState } from '../util/errors.ts';

export interface RaftDriverOptions {
  readonly raft: RaftNode;
  readonly store: RaftLogStore;
  readonly send: (m: Message) => void;
  /** Applies one committed entry to the state machine (normal and conf-change entries alike). */
  readonly apply: (e: Entry) => void;
  /** Replaces the state machine with a snapshot received from the leader. */
  readonly restore: (s: Snapshot) => void;
  readonly tickMs: number;
  readonly proposalTimeoutMs?: number;
  /** Use the leader lease for reads when valid (RaftNode must be configured with leaseReads). */
  readonly leaseReads?: boolean;
  /** Called after each advance(), when the state machine has applied exactly raft's applied index: the moment to snapshot. */
  readonly onAdvance?: () => void;
}

/**
 * A pending proposal. Timeouts are deadlines checked on every tick (no timer
 * per proposal): waiters are kept in proposal order, so their deadlines are
 * in order too and expiry only looks at the front.
 */
interface Waiter {
  readonly index: number;
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly deadline: number;
}

interface ReadWaiter {
  index: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly deadline: number;
}

export class RaftDriver {
  private readonly raft: RaftNode;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private scheduled = false;
  private earlyScheduled = false;
  private stopped = false;
  private waiters: Waiter[] = [];
  private readonly reads = new Map<number, ReadWaiter>();
  private readyReads: ReadWaiter[] = [];
  private nextCtx = 1;
  private readonly proposalTimeoutMs: number;
  private failure: Error | undefined;
  /** Counters for benchmarks and diagnostics. */
  readonly stats = {
    readies: 0,
    syncs: 0,
    syncMs: 0,
    syncMaxMs: 0,
    slowSyncs: 0,
    /** Time in store.save (encoding the Ready and queueing its write, which runs on the thread pool), its max, and saves over 5 ms. */
    saveMs: 0,
    saveMaxMs: 0,
    slowSaves: 0,
    entriesPersisted: 0,
    entriesApplied: 0,
    earlyApplied: 0,
  };

  constructor(private readonly options: RaftDriverOptions) {
    this.raft = options.raft;
    this.proposalTimeoutMs = options.proposalTimeoutMs ?? 5000;
  }

  get node(): RaftNode {
    return this.raft;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.raft.tick();
      this.expire(performance.now());
      this.schedule();
    }, this.options.tickMs);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    const err = new NextDbError(SqlState.adminShutdown, 'raft driver stopped');
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
    for (const r of this.readyReads) r.reject(err);
    this.readyReads = [];
  }

  step(m: Message): void {
    if (this.stopped) return;
    this.raft.step(m);
    this.schedule();
  }

  /**
   * Proposes `data`; resolves once it is committed and applied here. On a
   * node that is not the leader it rejects at once with NotLeaderError
   * (SQLSTATE 40001, `leader` naming the leader when one is known: "not
   * leader: ... leader is node X"); the entry never entered the log, so the
   * caller may retry on that node. RaftBusyError likewise (transfer in progress).
   */
  propose(data: Uint8Array): Promise<void> {
    if (this.failure !== undefined || this.stopped)
      return Promise.reject(this.failure ?? new NextDbError(SqlState.adminShutdown, 'raft driver stopped'));
    let pos: { index: number; term: number };
    try {
      pos = this.raft.propose(data);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.schedule();
    const deadline = Math.ceil(performance.now()) + this.proposalTimeoutMs; // a small integer: no heap number per waiter
    return new Promise((resolve, reject) => {
      this.waiters.push({ index: pos.index, term: pos.term, resolve, reject, deadline });
    });
  }

  /**
   * A linearizable read barrier: resolves when local state reflects every
   * write committed before the call. Rejects with NotLeaderError (naming the
   * leader) on a node that is not the leader, like propose().
   */
  read(): Promise<void> {
    if (this.failure !== undefined || this.stopped)
      return Promise.reject(this.failure ?? new NextDbError(SqlState.adminShutdown, 'raft driver stopped'));
    const ctx = this.nextCtx++;
    try {
      if (this.options.leaseReads === true) this.raft.leaseRead(ctx);
      else this.raft.readIndex(ctx);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.schedule();
    const deadline = Math.ceil(performance.now()) + this.proposalTimeoutMs; // a small integer: no heap number per waiter
    return new Promise((resolve, reject) => {
      this.reads.set(ctx, { index: -1, resolve, reject, deadline });
    });
  }

  /** Rejects the proposals and reads whose deadline has passed (called on every tick). */
  private expire(now: number): void {
    while (this.waiters.length > 0 && this.waiters[0]!.deadline <= now) {
      const w = this.waiters.shift()!;
      w.reject(
        new NextDbError(
          SqlState.queryCanceled,
          `raft proposal ${w.index}@${w.term} not applied within ${this.proposalTimeoutMs}ms; its outcome is unknown`,
        ),
      );
    }
    // Map iteration follows insertion (ctx) order, which is deadline order.
    for (const [ctx, r] of this.reads) {
      if (r.deadline > now) break;
      this.reads.delete(ctx);
      r.reject(readTimeout(this.proposalTimeoutMs));
    }
    if (this.readyReads.length > 0 && this.readyReads.some((r) => r.deadline <= now))
      this.readyReads = this.readyReads.filter((r) => {
        if (r.deadline > now) return true;
        r.reject(readTimeout(this.proposalTimeoutMs));
        return false;
      });
  }

  private schedule(): void {
    if (this.running && !this.earlyScheduled && !this.stopped) {
      // A Ready is being persisted: let a leader's new appends go out meanwhile.
      this.earlyScheduled = true;
      setImmediate(() => {
        this.earlyScheduled = false;
        if (this.stopped) return;
        for (const m of this.raft.takeEarlyMessages()) this.options.send(m);
        for (const e of this.raft.takeEarlyCommitted()) {
          this.applyOne(e);
          this.stats.earlyApplied++;
        }
        this.serveReads();
      });
    }
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped || this.failure !== undefined) return;
    this.running = true;
    try {
      while (!this.stopped && this.raft.hasReady()) {
        const rd = this.raft.ready();
        const { store } = this.options;
        // A leader's appends overlap its own fsync with the followers' (see Ready in types.ts).
        const early = rd.softState.role === 'leader';
        if (early) for (const m of rd.messages) if (mayPrecedePersist(m)) this.options.send(m);
        // Committed entries need not wait for this Ready's fsync when they are durable here already,
        // or on a leader (its committed entries are durable on a quorum).
        let applied = 0;
        if (rd.snapshot === undefined) {
          const durable = early ? Infinity : this.raft.status().stable;
          while (applied < rd.committedEntries.length && rd.committedEntries[applied]!.index <= durable)
            this.applyOne(rd.committedEntries[applied++]!);
        }
        if (rd.hardState !== undefined || rd.entries.length > 0 || rd.snapshot !== undefined) {
          const t = performance.now();
          store.save(this.raft.group, rd);
          const ms = performance.now() - t;
          this.stats.saveMs += ms;
          if (ms > this.stats.saveMaxMs) this.stats.saveMaxMs = ms;
          if (ms > 5) this.stats.slowSaves++;
        }
        this.stats.readies++;
        this.stats.entriesPersisted += rd.entries.length;
        if (rd.mustSync) {
          const t = performance.now();
          await store.sync();
          this.stats.syncs++;
          const ms = performance.now() - t;
          this.stats.syncMs += ms;
          if (ms > this.stats.syncMaxMs) this.stats.syncMaxMs = ms;
          if (ms > 20) this.stats.slowSyncs++;
        }
        if (this.stopped) return;
        for (const m of rd.messages) if (!early || !mayPrecedePersist(m)) this.options.send(m);
        if (rd.snapshot !== undefined) this.options.restore(rd.snapshot);
        for (; applied < rd.committedEntries.length; applied++) this.applyOne(rd.committedEntries[applied]!);
        for (const rs of rd.readStates) {
          const r = this.reads.get(rs.ctx);
          if (r === undefined) continue;
          this.reads.delete(rs.ctx);
          r.index = rs.index;
          this.readyReads.push(r);
        }
        this.raft.advance(rd);
        this.options.onAdvance?.();
        this.serveReads();
      }
    } catch (e) {
      // A storage failure leaves the node unable to keep its promises: stop taking part.
      this.failure = e as Error;
      await this.stop();
      throw e;
    } finally {
      this.running = false;
    }
    if (this.raft.hasReady()) this.schedule();
  }

  private applyOne(e: Entry): void {
    this.stats.entriesApplied++;
    this.options.apply(e);
    this.settle(e);
  }

  private settle(e: Entry): void {
    while (this.waiters.length > 0 && this.waiters[0]!.index <= e.index) {
      const w = this.waiters.shift()!;
      if (w.index === e.index && w.term === e.term) w.resolve();
      else if (w.index < e.index)
        w.reject(
          new NextDbError(
            SqlState.queryCanceled,
            `raft proposal ${w.index}@${w.term} was covered by a snapshot; its outcome is unknown`,
          ),
        );
      else
        w.reject(
          new NextDbError(
            SqlState.serializationFailure,
            `raft proposal ${w.index}@${w.term} was superseded by a new leader; it did not take effect`,
          ),
        );
    }
  }

  private serveReads(): void {
    if (this.readyReads.length === 0) return;
    const applied = this.raft.status().applied;
    this.readyReads = this.readyReads.filter((r) => {
      if (r.index > applied) return true;
      r.resolve();
      return false;
    });
  }
}

function readTimeout(ms: number): NextDbError {
  return new NextDbError(SqlState.queryCanceled, `raft read not confirmed within ${ms}ms`);
}

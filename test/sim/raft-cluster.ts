/**
 * Deterministic whole-cluster simulation of the real Raft core.
 *
 * One process runs N RaftNodes against simulated time, network and disks,
 * all driven by one seeded Prng, so a seed replays a run exactly:
 *
 *   clock     integer milliseconds; an event queue ordered by (time, seq).
 *   nodes     tick every ~tickMs with a per-node rate skew within ±4.5% (the
 *             lease-read assumption allows 10%); each Ready is written to the
 *             disk, and only after the simulated fsync completes are its
 *             messages sent, its entries applied and advance() called — the
 *             driver contract of types.ts. The node keeps stepping messages
 *             while a write is in flight, like a real async driver.
 *   disk      durable state + writes in flight. A crash loses writes not yet
 *             synced; sometimes a torn prefix of their entries survives
 *             (never acknowledged, so Raft must not care). Snapshots (the KV
 *             map as JSON) are written atomically with the compaction.
 *   network   per-message delay, drop, duplication (hence reordering), plus
 *             partitions of any shape and one-way link cuts.
 *   clients   closed-loop clients issue puts (unique values) and gets
 *             (ReadIndex or lease reads) on a few keys against whichever node
 *             they believe leads; outcomes go to a history for the
 *             linearizability checker. A put whose outcome is unknown (crash,
 *             timeout) is recorded with an infinite return time.
 *
 * Checkers (each failure is a thrown SimFailure naming the invariant):
 * election safety, log matching, leader completeness, state-machine safety
 * (one entry per index across all appliers), no committed entry lost across
 * crashes (a new leader must hold every entry ever applied anywhere),
 * linearizability of the client history, and liveness: after every fault
 * heals, a leader must commit a marker write on every node within a bound.
 */

import { Prng } from '../../src/util/prng.ts';
import { RaftNode, bootstrapState, joiningState } from '../../src/raft/raft-node.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { EntryType, mayPrecedePersist } from '../../src/raft/types.ts';
import type {
  ConfChange,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftInitialState,
  Ready,
  Snapshot,
} from '../../src/raft/types.ts';
import { checkLinearizable } from './raft-linearizability.ts';
import { EventQueue } from './raft-event-queue.ts';
import type { KvOp } from './raft-linearizability.ts';

export class SimFailure extends Error {
  override name = 'SimFailure';
}

export interface SimOptions {
  /** Simulated milliseconds of faults before healing. */
  readonly faultMs?: number;
  /** Bound on simulated milliseconds from healing to the marker write applied everywhere. */
  readonly livenessMs?: number;
  readonly log?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly simMs: number;
  readonly events: number;
  readonly ops: number;
  readonly crashes: number;
  readonly leaders: number;
  readonly committed: number;
  readonly linearizability: 'ok' | 'unknown';
  readonly healToLiveMs: number;
}

interface DiskState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

interface PendingWrite {
  readonly rd: Ready;
}

interface Proposal {
  readonly index: number;
  readonly term: number;
  readonly op: ClientOp;
}

interface ClientOp {
  readonly client: number;
  readonly kind: 'put' | 'get';
  readonly key: string;
  readonly value: string;
  readonly call: number;
  done: boolean;
}

const enc = new TextEncoder();
/** A healthy run takes ~10^4-10^5 events; far beyond that something loops without progress. */
const MAX_EVENTS = 2_000_000;
const dec = new TextDecoder();

class SimNode {
  raft!: RaftNode;
  kv = new Map<string, string>();
  up = true;
  /** Incremented on each crash so that stale events for the old incarnation are ignored. */
  incarnation = 0;
  writing: PendingWrite | undefined;
  durable: DiskState;
  proposals: Proposal[] = [];
  reads = new Map<number, ClientOp>();
  readStates: { index: number; ctx: number }[] = [];
  wasLeaderTerm = 0;
  /** Commit index as of the last fsync; commit-only writes after it may be lost in a crash. */
  syncedCommit = 0;
  /** The Ready being written had its committed entries applied already (leader). */
  appliedEarly = false;
  constructor(
    readonly id: NodeId,
    init: RaftInitialState,
    readonly tickMs: number,
  ) {
    this.durable = { hardState: init.hardState, snapshot: init.snapshot, entries: [...init.entries] };
  }
}

type Event =
  | { readonly kind: 'tick'; readonly node: NodeId; readonly inc: number }
  | { readonly kind: 'deliver'; readonly msg: Message; readonly inc: number }
  | { readonly kind: 'synced'; readonly node: NodeId; readonly inc: number }
  | { readonly kind: 'client'; readonly client: number }
  | { readonly kind: 'clientTimeout'; readonly op: ClientOp }
  | { readonly kind: 'fault' }
  | { readonly kind: 'restart'; readonly node: NodeId };

export class RaftSim {
  readonly prng: Prng;
  private readonly q = new EventQueue<Event>();
  now = 0;
  private events = 0;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly ids: NodeId[];
  /** Links that drop everything, as "from->to". */
  private readonly cut = new Set<string>();
  private dropP = 0;
  private dupP = 0;
  private delayMaxMs = 5;
  private faulting = true;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Every entry ever applied anywhere, by index: the committed log. */
  private readonly committed = new Map<number, { term: number; data: string; type: number; at: number }>();
  private maxCommitted = 0;
  private readonly history: KvOp[] = [];
  private readonly clientLeader: NodeId[] = [];
  private nextValue = 0;
  private readonly inFlight = new Set<ClientOp>();
  private nextCtx = 1;
  private crashes = 0;
  private readonly leaseReads: boolean;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly electionTicks = 10;
  private readonly log: (line: string) => void;
  private marker: string | undefined;

  constructor(
    readonly seed: number,
    private readonly options: SimOptions = {},
  ) {
    this.prng = new Prng(seed);
    this.log = options.log ?? ((): void => {});
    const n = this.prng.pick([3, 3, 5]);
    const spares = this.prng.pick([0, 0, 1, 2]);
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    // Spare nodes start empty and only join through membership changes.
    this.ids = Array.from({ length: n + spares }, (_, i) => i + 1);
    this.preVote = this.prng.chance(0.8);
    this.checkQuorum = this.prng.chance(0.8);
    this.leaseReads = this.checkQuorum && this.prng.chance(0.5);
    for (const id of this.ids) {
      // Tick rates differ by up to ±4.5%: within the 10% relative drift that lease reads assume.
      const skew = 1 + (this.prng.next() * 0.09 - 0.045);
      const node = new SimNode(id, id <= n ? bootstrapState(voters) : joiningState(), 10 * skew);
      this.nodes.set(id, node);
      this.boot(node);
      this.q.push(this.prng.range(0, 10), { kind: 'tick', node: id, inc: node.incarnation });
    }
    const clients = this.prng.range(2, 5);
    for (let c = 0; c < clients; c++) {
      this.clientLeader.push(this.prng.pick(this.ids));
      this.q.push(this.prng.range(50, 150), { kind: 'client', client: c });
    }
    this.q.push(this.prng.range(100, 400), { kind: 'fault' });
  }

  private boot(node: SimNode): void {
    const d = node.durable;
    node.raft = new RaftNode(
      {
        id: node.id,
        group: 1,
        prng: this.prng.fork(),
        electionTicks: this.electionTicks,
        heartbeatTicks: 2,
        maxInflight: this.prng.pick([1, 4, 64]),
        maxMsgBytes: this.prng.pick([64, 4096]),
        snapshotChunkBytes: this.prng.pick([16, 256, 65536]),
        leaseReads: this.leaseReads,
        preVote: this.preVote,
        checkQuorum: this.checkQuorum,
      },
      { hardState: d.hardState, snapshot: d.snapshot, entries: d.entries },
    );
    node.kv =
      d.snapshot.data.length > 0 ? new Map(JSON.parse(dec.decode(d.snapshot.data)) as [string, string][]) : new Map();
    node.up = true;
    node.writing = undefined;
    node.proposals = [];
    node.reads = new Map();
    node.readStates = [];
    node.wasLeaderTerm = 0;
    node.syncedCommit = d.hardState.commit;
  }

  /** Runs the whole scenario; throws SimFailure on any violated invariant. */
  run(): SimResult {
    const faultMs = this.options.faultMs ?? 3000;
    const livenessMs = this.options.livenessMs ?? 5000;
    this.runUntil(faultMs);
    // Heal everything and bring every node back.
    this.faulting = false;
    this.cut.clear();
    this.dropP = 0;
    this.dupP = 0;
    this.delayMaxMs = 5;
    for (const n of this.nodes.values()) if (!n.up) this.restart(n.id);
    const healedAt = this.now;
    this.log(`${this.now}ms healed`);
    this.marker = `marker-${this.seed}`;
    let liveAt = -1;
    const deadline = healedAt + livenessMs;
    let markerOp: ClientOp | undefined;
    while (this.now < deadline) {
      this.runUntil(Math.min(this.now + 20, deadline));
      const leader = [...this.nodes.values()].find((n) => n.up && n.raft.isLeader());
      if (markerOp === undefined && leader !== undefined) {
        try {
          const pos = leader.raft.propose(enc.encode(JSON.stringify(['put', '__marker', this.marker])));
          markerOp = { client: -1, kind: 'put', key: '__marker', value: this.marker, call: this.now, done: false };
          leader.proposals.push({ index: pos.index, term: pos.term, op: markerOp });
          this.pump(leader);
        } catch (e) {
          if (!(e instanceof Error) || e.name !== 'RaftBusyError') throw e;
        }
      }
      if (
        markerOp !== undefined &&
        leader !== undefined &&
        this.members(leader).every((n) => n.kv.get('__marker') === this.marker)
      ) {
        liveAt = this.now;
        break;
      }
      // Lost with a leader change (overwritten, or stuck on a deposed leader): propose again.
      const markerCommitted = [...this.nodes.values()].some((n) => n.kv.get('__marker') === this.marker);
      if (markerOp !== undefined && !markerCommitted && (markerOp.done || this.now - markerOp.call > 1000))
        markerOp = undefined;
    }
    if (liveAt < 0) {
      const states = [...this.nodes.values()].map((n) => {
        const st = n.raft.status();
        const prs = [...st.progress].map(([id, pr]) => `${id}:${pr.match}/${pr.next}/${pr.state}`).join(' ');
        return `n${n.id}@${st.term} ${st.role} leader=${st.leader} writing=${n.writing !== undefined} hasReady=${n.raft.hasReady()} last=${st.lastIndex} commit=${st.commit} applied=${st.applied} ${prs}`;
      });
      throw new SimFailure(
        `liveness: no marker write applied on every node within ${livenessMs}ms of healing; ${states.join('; ')}`,
      );
    }
    this.checkLogMatching();
    this.checkAllApplied();
    // Operations still in flight when the run stops have unknown outcomes.
    for (const op of this.inFlight) this.finishOp(op, undefined);
    const lin = checkLinearizable(this.resolveUnknownPuts());
    if (lin.ok === false) throw new SimFailure(`linearizability violated on key ${lin.key}: ${lin.reason}`);
    return {
      seed: this.seed,
      nodes: this.ids.length,
      simMs: this.now,
      events: this.events,
      ops: this.history.length,
      crashes: this.crashes,
      leaders: this.leaderOfTerm.size,
      committed: this.maxCommitted,
      linearizability: lin.ok === true ? 'ok' : 'unknown',
      healToLiveMs: liveAt - healedAt,
    };
  }

  private runUntil(t: number): void {
    for (;;) {
      const ev = this.q.pop();
      if (ev === undefined) return;
      if (ev.t > t) {
        this.q.push(ev.t, ev.e);
        this.now = t;
        return;
      }
      this.now = ev.t;
      if (++this.events > MAX_EVENTS)
        throw new SimFailure(
          `runaway: more than ${MAX_EVENTS} events by ${this.now}ms (a node spinning without progress?)`,
        );
      this.handle(ev.e);
    }
  }

  private handle(e: Event): void {
    switch (e.kind) {
      case 'tick': {
        const n = this.nodes.get(e.node)!;
        if (!n.up || n.incarnation !== e.inc) return;
        n.raft.tick();
        this.afterInput(n);
        this.q.push(this.now + n.tickMs, e);
        return;
      }
      case 'deliver': {
        const n = this.nodes.get(e.msg.to)!;
        if (!n.up || n.incarnation !== e.inc) return;
        n.raft.step(e.msg);
        this.afterInput(n);
        return;
      }
      case 'synced': {
        const n = this.nodes.get(e.node)!;
        if (!n.up || n.incarnation !== e.inc) return;
        this.completeWrite(n);
        return;
      }
      case 'client':
        this.clientStep(e.client);
        return;
      case 'clientTimeout':
        if (!e.op.done) this.finishOp(e.op, undefined);
        return;
      case 'fault':
        if (this.faulting) {
          this.injectFault();
          this.q.push(this.now + this.prng.range(50, 500), e);
        }
        return;
      case 'restart':
        if (!this.nodes.get(e.node)!.up) this.restart(e.node);
        return;
    }
  }

  // ───────────── node driver ─────────────

  private afterInput(n: SimNode): void {
    this.observeLeadership(n);
    // While a write is in flight a leader may already ship new appends (as the real driver does).
    if (n.writing !== undefined && this.prng.chance(0.5)) {
      for (const m of n.raft.takeEarlyMessages()) this.send(m);
      // ...and apply what committed meanwhile (a leader has applied its Ready's entries before persisting).
      if (n.writing.rd.softState.role === 'leader') {
        for (const e of n.raft.takeEarlyCommitted()) this.apply(n, e);
        this.serveReads(n);
      }
    }
    this.pump(n);
  }

  /** Starts writing the next Ready if none is in flight. */
  private pump(n: SimNode): void {
    if (!n.up || n.writing !== undefined || !n.raft.hasReady()) return;
    const rd = n.raft.ready();
    n.writing = { rd };
    if (rd.softState.role === 'leader' && rd.snapshot === undefined) {
      // A leader applies its committed entries without waiting for its own fsync (durable on a quorum).
      for (const e of rd.committedEntries) this.apply(n, e);
      n.appliedEarly = true;
    } else {
      n.appliedEarly = false;
    }
    // A leader's appends may overlap its own fsync (types.ts, Ready); the rest waits for it.
    if (rd.softState.role === 'leader') for (const m of rd.messages) if (mayPrecedePersist(m)) this.send(m);
    this.observeLeadership(n);
    // A commit-only change is written without waiting for an fsync; a crash may lose it.
    const latency = !rd.mustSync ? 0 : this.prng.chance(0.1) ? this.prng.range(5, 20) : this.prng.range(0, 2);
    this.q.push(this.now + latency, { kind: 'synced', node: n.id, inc: n.incarnation });
  }

  private completeWrite(n: SimNode): void {
    const rd = n.writing!.rd;
    n.writing = undefined;
    applyToDisk(n.durable, rd, rd.entries.length);
    if (rd.mustSync) n.syncedCommit = n.durable.hardState.commit;
    const early = rd.softState.role === 'leader';
    for (const m of rd.messages) if (!early || !mayPrecedePersist(m)) this.send(m);
    if (rd.snapshot !== undefined) {
      n.kv = new Map(JSON.parse(dec.decode(rd.snapshot.data)) as [string, string][]);
      // Proposals below the snapshot can no longer be matched to their entry: unknown outcome.
      n.proposals = n.proposals.filter((p) => {
        if (p.index > rd.snapshot!.meta.index) return true;
        this.finishOp(p.op, undefined);
        return false;
      });
    }
    if (!n.appliedEarly) for (const e of rd.committedEntries) this.apply(n, e);
    n.readStates.push(...rd.readStates);
    n.raft.advance(rd);
    this.serveReads(n);
    this.maybeCompact(n);
    this.observeLeadership(n);
    this.pump(n);
  }

  private apply(n: SimNode, e: Entry): void {
    const data = e.type === EntryType.normal ? dec.decode(e.data) : `conf:${Buffer.from(e.data).toString('hex')}`;
    const prior = this.committed.get(e.index);
    if (prior === undefined) {
      this.committed.set(e.index, { term: e.term, data, type: e.type, at: this.now });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
    } else if (prior.term !== e.term || prior.data !== data) {
      throw new SimFailure(
        `state machine safety: n${n.id} applied ${e.index}@${e.term} "${data}" but ${e.index}@${prior.term} "${prior.data}" was applied elsewhere`,
      );
    }
    if (e.type === EntryType.normal && e.data.length > 0) {
      const [, key, value] = JSON.parse(data) as [string, string, string];
      n.kv.set(key, value);
    }
    while (n.proposals.length > 0 && n.proposals[0]!.index <= e.index) {
      const p = n.proposals.shift()!;
      if (p.index < e.index) {
        this.finishOp(p.op, undefined); // skipped (snapshot): unknown
      } else if (p.term === e.term) {
        this.finishOp(p.op, p.op.value);
      } else {
        // Another entry won this index: ours is gone for good and never took effect.
        this.finishOp(p.op, null);
      }
    }
  }

  private serveReads(n: SimNode): void {
    const applied = n.raft.status().applied;
    n.readStates = n.readStates.filter((rs) => {
      if (rs.index > applied) return true;
      const op = n.reads.get(rs.ctx);
      n.reads.delete(rs.ctx);
      if (op !== undefined && !op.done) this.finishOp(op, n.kv.get(op.key) ?? null);
      return false;
    });
  }

  private maybeCompact(n: SimNode): void {
    const st = n.raft.status();
    if (st.applied - st.firstIndex < 30 || !this.prng.chance(0.2)) return;
    const snap = n.raft.compact(st.applied, enc.encode(JSON.stringify([...n.kv])));
    n.durable.snapshot = snap;
    n.durable.entries = n.durable.entries.filter((e) => e.index > snap.meta.index);
  }

  private observeLeadership(n: SimNode): void {
    const s = n.raft.softState();
    if (s.role !== 'leader' || n.wasLeaderTerm === s.term) return;
    n.wasLeaderTerm = s.term;
    const prior = this.leaderOfTerm.get(s.term);
    if (prior !== undefined && prior !== n.id)
      throw new SimFailure(`election safety: n${prior} and n${n.id} both lead term ${s.term}`);
    this.leaderOfTerm.set(s.term, n.id);
    this.log(`${this.now}ms n${n.id} leads term ${s.term}`);
    // Leader completeness: every entry applied anywhere must be in the new leader's log.
    const first = n.raft.status().firstIndex;
    for (const [index, c] of this.committed) {
      if (index < first) continue;
      const t = n.raft.termAt(index);
      if (t !== c.term) {
        throw new SimFailure(
          `leader completeness: n${n.id} leads term ${s.term} without committed entry ${index}@${c.term} (has ${t === undefined ? 'nothing' : `term ${t}`})`,
        );
      }
    }
  }

  // ───────────── network ─────────────

  private send(m: Message): void {
    const to = this.nodes.get(m.to);
    if (to === undefined || this.cut.has(`${m.from}->${m.to}`) || this.prng.chance(this.dropP)) return;
    const copies = this.prng.chance(this.dupP) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.prng.chance(0.05)
        ? this.prng.range(this.delayMaxMs, this.delayMaxMs * 5)
        : this.prng.range(1, this.delayMaxMs);
      this.q.push(this.now + delay, { kind: 'deliver', msg: m, inc: to.incarnation });
    }
  }

  // ───────────── faults ─────────────

  private injectFault(): void {
    const p = this.prng;
    const r = p.next();
    if (r < 0.1) {
      // Cut the leader off while clients still talk to it: the stale-leader window reads must survive.
      const leader = [...this.nodes.values()].find((n) => n.up && n.raft.isLeader());
      if (leader !== undefined) {
        this.cut.clear();
        for (const b of this.ids) {
          if (b === leader.id) continue;
          this.cut.add(`${leader.id}->${b}`);
          this.cut.add(`${b}->${leader.id}`);
        }
        this.log(`${this.now}ms isolate leader n${leader.id}`);
      }
    } else if (r < 0.3) {
      // A partition of any shape: a random subset against the rest.
      this.cut.clear();
      const side = new Set(this.ids.filter(() => p.chance(0.5)));
      for (const a of this.ids) for (const b of this.ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
      this.log(`${this.now}ms partition ${[...side].join(',')} | rest`);
    } else if (r < 0.35) {
      // Asymmetric: a few one-way links.
      for (let i = p.range(1, 3); i > 0; i--) {
        const a = p.pick(this.ids);
        const b = p.pick(this.ids);
        if (a !== b) this.cut.add(`${a}->${b}`);
      }
      this.log(`${this.now}ms one-way cuts ${[...this.cut].join(' ')}`);
    } else if (r < 0.5) {
      this.cut.clear();
      this.log(`${this.now}ms heal links`);
    } else if (r < 0.62) {
      const up = this.ids.filter((id) => this.nodes.get(id)!.up);
      if (up.length > 0) {
        const id = p.pick(up);
        this.crash(id);
        this.q.push(this.now + p.range(20, 800), { kind: 'restart', node: id });
      }
    } else if (r < 0.75) {
      this.dropP = p.pick([0, 0.01, 0.05, 0.2]);
      this.dupP = p.pick([0, 0.02, 0.1]);
      this.delayMaxMs = p.pick([2, 5, 20, 60]);
      this.log(`${this.now}ms network drop=${this.dropP} dup=${this.dupP} delay<=${this.delayMaxMs}`);
    } else if (r < 0.78) {
      this.changeMembership();
    } else if (r < 0.85) {
      const leader = [...this.nodes.values()].find((n) => n.up && n.raft.isLeader());
      if (leader !== undefined) {
        const to = p.pick(this.ids);
        try {
          leader.raft.transferLeadership(to);
          this.log(`${this.now}ms transfer n${leader.id} -> n${to}`);
          this.pump(leader);
        } catch {
          // not a voter etc.
        }
      }
    }
  }

  /** One membership step on the current leader: add a learner, promote one, or remove a member. */
  private changeMembership(): void {
    const p = this.prng;
    const leader = [...this.nodes.values()].find((n) => n.up && n.raft.isLeader());
    if (leader === undefined) return;
    const conf = leader.raft.status().conf;
    const outsiders = this.ids.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    let cc: Exclude<ConfChange, { type: 'set' }>;
    if (conf.learners.length > 0 && p.chance(0.6)) cc = { type: 'addVoter', node: p.pick(conf.learners) };
    else if (outsiders.length > 0 && p.chance(0.6)) cc = { type: 'addLearner', node: p.pick(outsiders) };
    else if (conf.voters.length > 2) cc = { type: 'removeNode', node: p.pick([...conf.voters, ...conf.learners]) };
    else return;
    try {
      leader.raft.proposeConfChange(cc);
      this.log(`${this.now}ms n${leader.id} proposes ${cc.type} ${cc.node}`);
      this.pump(leader);
    } catch (e) {
      if (!(e instanceof NextDbError)) throw e; // busy, not caught up, ...: a real operator would retry
    }
  }

  private crash(id: NodeId): void {
    const n = this.nodes.get(id)!;
    this.crashes++;
    // The write in flight is lost, except sometimes a torn prefix of its entries.
    if (n.writing !== undefined && n.writing.rd.snapshot === undefined && this.prng.chance(0.3)) {
      const rd = n.writing.rd;
      // The hard state is written with (after) the entries, so it survives only if they all did.
      const kept = this.prng.int(rd.entries.length + 1);
      applyToDisk(n.durable, { ...rd, hardState: kept === rd.entries.length ? rd.hardState : undefined }, kept);
    }
    if (this.prng.chance(0.5)) {
      const d = n.durable;
      d.hardState = {
        ...d.hardState,
        commit: Math.min(d.hardState.commit, Math.max(n.syncedCommit, d.snapshot.meta.index)),
      };
    }
    n.up = false;
    n.incarnation++;
    for (const p of n.proposals) this.finishOp(p.op, undefined);
    for (const op of n.reads.values()) this.finishOp(op, undefined);
    n.proposals = [];
    n.reads.clear();
    this.log(`${this.now}ms crash n${id}`);
  }

  private restart(id: NodeId): void {
    const n = this.nodes.get(id)!;
    n.incarnation++;
    this.boot(n);
    this.q.push(this.now + this.prng.range(1, 10), { kind: 'tick', node: id, inc: n.incarnation });
    this.log(`${this.now}ms restart n${id}`);
  }

  // ───────────── clients ─────────────

  private clientStep(c: number): void {
    const p = this.prng;
    // Now and then a client tries a random node (and follows its redirect), so that during a
    // partition some clients reach the new leader while others still talk to the deposed one.
    if (p.chance(0.15)) this.clientLeader[c] = p.pick(this.ids);
    const target = this.nodes.get(this.clientLeader[c]!)!;
    const key = `k${p.int(3)}`;
    const isPut = p.chance(0.5);
    const op: ClientOp = {
      client: c,
      kind: isPut ? 'put' : 'get',
      key,
      value: isPut ? `v${this.nextValue++}` : '',
      call: this.now,
      done: false,
    };
    if (!target.up) {
      this.clientLeader[c] = p.pick(this.ids);
      this.q.push(this.now + p.range(5, 20), { kind: 'client', client: c });
      return;
    }
    try {
      if (isPut) {
        const pos = target.raft.propose(enc.encode(JSON.stringify(['put', key, op.value])));
        target.proposals.push({ index: pos.index, term: pos.term, op });
      } else {
        const ctx = this.nextCtx++;
        if (this.leaseReads) target.raft.leaseRead(ctx);
        else target.raft.readIndex(ctx);
        // Registered only once accepted: a refused read must not finish (and re-arm the client) later.
        target.reads.set(ctx, op);
      }
    } catch (e) {
      if (e instanceof NotLeaderError) {
        this.clientLeader[c] = e.leader !== 0 ? e.leader : p.pick(this.ids);
      } else if (!(e instanceof Error && e.name === 'RaftBusyError')) {
        throw e;
      }
      this.q.push(this.now + p.range(5, 30), { kind: 'client', client: c });
      return;
    }
    this.inFlight.add(op);
    this.pump(target);
    this.q.push(this.now + 1000, { kind: 'clientTimeout', op });
  }

  /** Records the outcome: a value (success), null (a put that definitely failed) or undefined (unknown). */
  private finishOp(op: ClientOp, result: string | null | undefined): void {
    if (op.done) return;
    op.done = true;
    this.inFlight.delete(op);
    if (op.client >= 0) {
      if (op.kind === 'put') {
        if (result !== null)
          this.history.push({
            kind: 'put',
            key: op.key,
            value: op.value,
            call: op.call,
            ret: result === undefined ? Infinity : this.now,
            client: op.client,
          });
      } else if (result !== undefined) {
        this.history.push({ kind: 'get', key: op.key, value: result, call: op.call, ret: this.now, client: op.client });
      }
      this.q.push(this.now + this.prng.range(1, 20), { kind: 'client', client: op.client });
    }
  }

  // ───────────── end-of-run checks ─────────────

  /**
   * Puts whose client never learned the outcome: the simulator knows it.
   * One that committed took effect no later than its first apply anywhere,
   * so its interval shrinks to [call, first apply] (a stricter check); one
   * that never committed never took effect and is dropped. Values are
   * unique, so the committed log identifies the put.
   */
  private resolveUnknownPuts(): KvOp[] {
    const appliedAt = new Map<string, number>();
    for (const c of this.committed.values()) {
      if (c.type !== EntryType.normal || c.data === '') continue;
      const [, , value] = JSON.parse(c.data) as [string, string, string];
      appliedAt.set(value, c.at);
    }
    const out: KvOp[] = [];
    for (const op of this.history) {
      if (op.kind === 'put' && op.ret === Infinity) {
        const at = appliedAt.get(op.value ?? '');
        if (at !== undefined) out.push({ ...op, ret: Math.max(at, op.call) });
      } else {
        out.push(op);
      }
    }
    return out;
  }

  private checkLogMatching(): void {
    const nodes = [...this.nodes.values()];
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = nodes[i]!.raft;
        const b = nodes[j]!.raft;
        const sa = a.status();
        const sb = b.status();
        const lo = Math.max(sa.firstIndex, sb.firstIndex);
        const hi = Math.min(sa.lastIndex, sb.lastIndex);
        let matched = false;
        for (let k = hi; k >= lo; k--) {
          const ea = a.entryAt(k)!;
          const eb = b.entryAt(k)!;
          if (!matched && ea.term === eb.term) matched = true;
          if (matched && (ea.term !== eb.term || Buffer.compare(Buffer.from(ea.data), Buffer.from(eb.data)) !== 0)) {
            throw new SimFailure(`log matching: n${sa.id} and n${sb.id} agree on a later entry but differ at ${k}`);
          }
        }
      }
    }
  }

  /** The nodes in `leader`'s configuration (voters and learners). */
  private members(leader: SimNode): SimNode[] {
    const conf = leader.raft.status().conf;
    return [...this.nodes.values()].filter((n) => conf.voters.includes(n.id) || conf.learners.includes(n.id));
  }

  /** Every entry committed up to the marker is in every member's log (or compacted under its snapshot). */
  private checkAllApplied(): void {
    const leader = [...this.nodes.values()].find((n) => n.up && n.raft.isLeader());
    if (leader === undefined) throw new SimFailure('no leader at the end of the liveness phase');
    let markerIndex = 0;
    for (const [index, c] of this.committed)
      if (markerIndex === 0 && c.data.includes(this.marker ?? '\u0000')) markerIndex = index;
    for (const n of this.members(leader)) {
      const st = n.raft.status();
      for (const [index, c] of this.committed) {
        if (index < st.firstIndex || index > markerIndex) continue;
        if (n.raft.termAt(index) !== c.term)
          throw new SimFailure(`committed entry lost: n${n.id} lacks ${index}@${c.term} after healing`);
      }
    }
  }
}

/** Persists a Ready (or a torn prefix of its entries) to the durable state. */
function applyToDisk(d: DiskState, rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState'>, entryCount: number): void {
  if (rd.snapshot !== undefined) {
    // A snapshot from the leader replaces the whole log.
    d.snapshot = rd.snapshot;
    d.entries = [];
  }
  if (entryCount > 0) {
    const first = rd.entries[0]!.index;
    d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries.slice(0, entryCount));
  }
  if (rd.hardState !== undefined) d.hardState = rd.hardState;
}

export function runRaftSim(seed: number, options: SimOptions = {}): SimResult {
  return new RaftSim(seed, options).run();
}

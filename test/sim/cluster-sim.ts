/**
 * Deterministic simulation of whole NextDB nodes: N ClusterNodes (RaftNode +
 * ReplicatedEngine + MVCC TxnManager) in one process, on simulated time,
 * network and disks, all driven by one seeded Prng, so a seed replays a run.
 *
 *   time      integer milliseconds; an event queue ordered by (time, seq);
 *             after each event every promise chain it started runs to
 *             quiescence (setImmediate) before the next event.
 *   nodes     tick every ~10 ms with a per-node rate skew within ±4% (lease
 *             reads assume ≤ 10%); each has its own HLC clock offset, which
 *             faults move (clock skew up to ±400 ms).
 *   disks     SimDisk: fsyncs complete after 0–2 ms; a crash keeps the
 *             durable image plus a random prefix of the unsynced batches.
 *             A quarter of the seeds run the real LSM engine over SimVfs
 *             (torn unsynced writes; memtables flushed now and then).
 *   network   delay 1–8 ms, drop, duplication (and so reordering),
 *             partitions of any shape, one-way cuts, leader isolation.
 *   faults    for `faultMs`: crashes + restarts, partitions, heals, loss
 *             and duplication rates, clock jumps. Then everything heals,
 *             every node restarts, clients stop, the cluster must converge.
 *   clients   closed loop, against the node they believe leads:
 *             - bank transfers between accounts (SERIALIZABLE read-modify-
 *               write that also writes a unique marker key for the transfer;
 *               in a quarter of the seeds as SQL statements — UPDATE acct,
 *               INSERT INTO xfer — through the SQL engine over the node),
 *             - bank audits (read-only SERIALIZABLE scan of all accounts),
 *             - register puts (unique values) and gets on a few keys.
 *
 * Checkers (a failure throws SimFailure naming the invariant):
 * - every audit sees the bank total, and no balance below zero;
 * - at the end: markers ⊇ acknowledged transfers, markers ∩ transfers that
 *   failed with a definite error (40001/40P01) = ∅, each balance = initial +
 *   the transfers whose marker exists (so an ambiguous commit — 40003, crash,
 *   timeout — is resolved by its marker, and nothing else can explain money);
 * - the register history is linearizable (checker of the Raft simulator);
 * - at most one node serves transactions per term;
 * - liveness: after healing, the cluster serves and all replicas apply the
 *   same index within a bound;
 * - replica agreement: a full scan of every replica's applied state is
 *   byte-identical.
 */

import { ClusterNode } from '../../src/kv/cluster-node.ts';
import { ClusterTxnManager } from '../../src/kv/cluster-txn-manager.ts';
import type { StatementResult } from '../../src/sql/api.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { STATEMENT_COMPLETION_UNKNOWN } from '../../src/kv/replicated-engine.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { NONE } from '../../src/raft/types.ts';
import type { Txn } from '../../src/txn/api.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';
import { LsmSimDisk, SimDisk } from './cluster-disk.ts';
import { EventQueue } from './raft-event-queue.ts';
import { checkLinearizable, type KvOp } from './raft-linearizability.ts';

export class SimFailure extends Error {
  override name = 'SimFailure';
}

export interface ClusterSimOptions {
  readonly nodes?: number;
  /** Simulated milliseconds of faults before healing. */
  readonly faultMs?: number;
  /** Clients that write (transfers, register puts) and read. */
  readonly clients?: number;
  /** Clients that only read (audits, register gets). */
  readonly readers?: number;
  readonly accounts?: number;
  /** Log compaction interval (small, so snapshots get installed). */
  readonly compactAfterEntries?: number;
  /** Bound on simulated ms from healing to a converged, serving cluster. */
  readonly livenessMs?: number;
  readonly log?: (line: string) => void;
  /** 'memory' (SimDisk) or 'lsm' (LSM engine over SimVfs); default: a quarter of the seeds use the LSM. */
  readonly disk?: 'memory' | 'lsm';
  /** 'kv' (MVCC calls) or 'sql' (the SQL engine on the leader); default: a quarter of the seeds use SQL. */
  readonly bank?: 'kv' | 'sql';
}

export interface ClusterSimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly simMs: number;
  readonly events: number;
  readonly crashes: number;
  readonly terms: number;
  readonly transfers: {
    readonly acked: number;
    readonly failed: number;
    readonly ambiguous: number;
    readonly ambiguousCommitted: number;
  };
  readonly audits: number;
  readonly registerOps: number;
  readonly linearizability: 'ok' | 'unknown';
  readonly appliedIndex: number;
  readonly leaseReads: boolean;
  readonly checkQuorum: boolean;
  readonly disk: 'memory' | 'lsm';
  readonly bank: 'kv' | 'sql';
  /** A follower was replaced by a fresh node (removeNode, then addNode → learner → voter). */
  readonly replaced: boolean;
}

interface SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk | LsmSimDisk;
  node: ClusterNode | undefined;
  up: boolean;
  /** Added by a membership change: opens without a bootstrap list, every time. */
  readonly joined: boolean;
  /** Removed by a membership change: stays down for good. */
  removed: boolean;
  inc: number;
  readonly tickMs: number;
  /** Per node; unequal timeouts widen the window in which a deposed leader still believes it leads. */
  readonly electionTicks: number;
  clockSkewMs: number;
}

interface Transfer {
  readonly from: number;
  readonly to: number;
  readonly amount: number;
  outcome: 'pending' | 'acked' | 'failed' | 'ambiguous' | 'noop';
  error?: string;
  node?: NodeId;
  at?: number;
}

const INITIAL_BALANCE = 100;
const REGISTER_KEYS = 8;
/** Clients give up on an operation after a random time in [min, max] and try another node. */
const CLIENT_OP_TIMEOUT_MS_MIN = 100;
const CLIENT_OP_TIMEOUT_MS = 1500;

const acctKey = (i: number): Buffer => Buffer.from(`acct/${String(i).padStart(3, '0')}`);
const xferKey = (id: number): Buffer => Buffer.from(`xfer/${String(id).padStart(8, '0')}`);
const regKey = (k: number): Buffer => Buffer.from(`reg/${k}`);
const ACCT_START = Buffer.from('acct/');
const ACCT_END = Buffer.from('acct0');
const XFER_START = Buffer.from('xfer/');
const XFER_END = Buffer.from('xfer0');

function num(b: Buffer | undefined): number {
  if (b === undefined) throw new SimFailure('account row missing');
  return Number(b.toString());
}

const drain = (): Promise<void> => new Promise((r) => setImmediate(r));

class TimedOut extends Error {}

export class ClusterSim {
  readonly prng: Prng;
  private readonly q = new EventQueue<() => void>();
  now = 0;
  private events = 0;
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Current members (partitions pick among them); changes with membership changes. */
  private ids: NodeId[];
  /** The voters every original node bootstraps with. */
  private readonly bootstrapIds: readonly NodeId[];
  private membershipChanged = false;
  private replaced = false;
  private readonly cut = new Set<string>();
  private dropP = 0;
  private dupP = 0;
  private faulting = true;
  private clientsActive = true;
  private crashes = 0;
  private failure: Error | undefined;
  private readonly servingTerm = new Map<number, NodeId>();
  private readonly transfers = new Map<number, Transfer>();
  private nextXfer = 1;
  private audits = 0;
  private readonly history: KvOp[] = [];
  private nextValue = 0;
  private readonly clientsDone: Promise<void>[] = [];
  private readonly log: (line: string) => void;
  private readonly faultMs: number;
  private readonly livenessMs: number;
  private readonly accounts: number;
  private readonly clients: number;
  private readonly readers: number;
  private readonly compactAfterEntries: number;
  readonly leaseReads: boolean;
  readonly checkQuorum: boolean;
  /** Nodes run the LSM engine over SimVfs instead of SimDisk's memory engine. */
  readonly lsm: boolean;
  /** The bank runs as SQL (SqlEngine over ClusterTxnManager) instead of MVCC calls. */
  readonly sqlMode: boolean;
  private readonly sqlEngines = new Map<ClusterNode, Promise<SqlEngine>>();

  constructor(
    readonly seed: number,
    options: ClusterSimOptions = {},
  ) {
    this.prng = new Prng(seed);
    const n = options.nodes ?? (this.prng.chance(0.3) ? 5 : 3);
    this.ids = Array.from({ length: n }, (_, i) => i + 1);
    this.bootstrapIds = [...this.ids];
    this.faultMs = options.faultMs ?? 3000;
    this.livenessMs = options.livenessMs ?? 8000;
    this.accounts = options.accounts ?? 5;
    this.clients = options.clients ?? 4;
    this.readers = options.readers ?? 2;
    this.compactAfterEntries = options.compactAfterEntries ?? 30 + this.prng.int(60);
    this.leaseReads = this.prng.chance(0.5);
    this.lsm = options.disk === undefined ? this.prng.chance(0.25) : options.disk === 'lsm';
    this.sqlMode = options.bank === undefined ? this.prng.chance(0.25) : options.bank === 'sql';
    // Without check-quorum a cut-off leader keeps believing it leads until it
    // hears a higher term: long windows with two "leaders", which only the
    // ReadIndex barrier keeps linearizable. Lease reads need check-quorum.
    this.checkQuorum = this.leaseReads || this.prng.chance(0.5);
    this.log = options.log ?? (() => undefined);
    for (const id of this.ids) this.addSimNode(id, false);
  }

  private addSimNode(id: NodeId, joined: boolean): SimNode {
    const disk = this.lsm
      ? new LsmSimDisk(this.prng.nextU32())
      : new SimDisk((complete) => this.at(this.now + this.prng.int(3), complete));
    // Lease reads assume equal election timeouts (and tick rates within 10%); ReadIndex assumes nothing.
    const electionTicks = this.leaseReads ? 10 : this.prng.pick([10, 10, 15, 40]);
    const sn: SimNode = {
      id,
      disk,
      node: undefined,
      up: false,
      joined,
      removed: false,
      inc: 0,
      tickMs: 10 * (0.96 + 0.08 * this.prng.next()),
      electionTicks,
      clockSkewMs: 0,
    };
    this.nodes.set(id, sn);
    return sn;
  }

  private at(t: number, f: () => void): void {
    this.q.push(Math.max(t, this.now), f);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.at(this.now + ms, r));
  }

  private fail(what: string): never {
    const e = new SimFailure(`t=${this.now}ms: ${what}`);
    this.failure ??= e;
    throw e;
  }

  // ───────────────────────── nodes ─────────────────────────

  private start(s: SimNode): void {
    if (s.removed) return;
    s.inc++;
    const inc = s.inc;
    s.up = true;
    s.node = undefined;
    this.log(`t=${this.now} start node ${s.id} (incarnation ${inc})`);
    const opening = s.disk instanceof SimDisk ? Promise.resolve(s.disk.open()) : s.disk.open();
    opening
      .then((local) => {
        if (s.inc !== inc || !s.up) return undefined;
        return ClusterNode.open({
          id: s.id,
          local,
          prng: this.prng.fork(),
          clock: { nowMs: () => 1_700_000_000_000 + this.now + s.clockSkewMs },
          send: (m) => this.send(m),
          ...(s.joined ? {} : { bootstrap: this.bootstrapIds }),
          raft: {
            electionTicks: s.electionTicks,
            heartbeatTicks: 2,
            leaseReads: this.leaseReads,
            checkQuorum: this.checkQuorum,
          },
          compactAfterEntries: this.compactAfterEntries,
          // In a third of the seeds the Ready loop yields between nearly every applied entry
          // (derived from a value already drawn, so the seed's random stream is unchanged).
          ...(this.compactAfterEntries % 3 === 0 ? { applyYieldBytes: 64 } : {}),
          // In half of them the MVCC layer resolves (and recovers) one intent per slice, yielding between
          // slices, as a very large transaction does with the default slice size.
          ...(this.compactAfterEntries % 2 === 0 ? { resolveSliceKeys: 1 } : {}),
          onFatal: (e) => {
            this.failure ??= new SimFailure(`t=${this.now}ms: node ${s.id} failed: ${(e as Error).stack ?? String(e)}`);
          },
        });
      })
      .then(
        (node) => {
          if (node === undefined) return;
          if (s.inc !== inc || !s.up) {
            node.kill();
            return;
          }
          s.node = node;
          this.scheduleTick(s, inc);
        },
        (e: unknown) => {
          if (s.inc === inc && s.up)
            this.failure ??= new SimFailure(`node ${s.id} failed to open: ${(e as Error).stack ?? String(e)}`);
        },
      );
  }

  private scheduleTick(s: SimNode, inc: number): void {
    this.at(this.now + Math.max(1, Math.round(s.tickMs)), () => {
      if (s.inc !== inc || !s.up || s.node === undefined) return;
      s.node.tick();
      this.noteServing(s);
      this.scheduleTick(s, inc);
    });
  }

  private noteServing(s: SimNode): void {
    const st = s.node?.status();
    if (st === undefined || !st.serving) return;
    const prev = this.servingTerm.get(st.term);
    if (prev !== undefined && prev !== s.id)
      this.fail(`nodes ${prev} and ${s.id} both serve transactions in term ${st.term}`);
    this.servingTerm.set(st.term, s.id);
  }

  private crash(s: SimNode): void {
    if (!s.up) return;
    this.crashes++;
    this.log(`t=${this.now} crash node ${s.id}`);
    s.up = false;
    s.node?.kill();
    s.node = undefined;
    if (s.disk instanceof SimDisk) s.disk.crash(this.prng);
    else s.disk.crash();
    s.inc++;
  }

  private send(m: Message): void {
    const from = this.nodes.get(m.from);
    if (from === undefined || !from.up) return;
    if (this.cut.has(`${m.from}->${m.to}`) || this.prng.chance(this.dropP)) return;
    const copies = this.prng.chance(this.dupP) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.at(this.now + 1 + this.prng.int(8), () => {
        const to = this.nodes.get(m.to);
        if (to === undefined || !to.up || to.node === undefined || this.cut.has(`${m.from}->${m.to}`)) return;
        to.node.step(m);
        this.noteServing(to);
      });
    }
  }

  // ───────────────────────── faults ─────────────────────────

  private scheduleFault(afterMs = 50 + this.prng.int(250)): void {
    this.at(this.now + afterMs, () => {
      if (!this.faulting) return;
      this.scheduleFault(this.fault());
    });
  }

  /** Injects one fault; returns the ms until the next one. */
  private fault(): number {
    const next = 50 + this.prng.int(250);
    const p = this.prng;
    const up = [...this.nodes.values()].filter((s) => s.up);
    const leader = up.find((s) => s.node?.status().role === 'leader');
    const r = p.int(100);
    if (r < 22) {
      const victim = leader !== undefined && p.chance(0.5) ? leader : up.length > 0 ? p.pick(up) : undefined;
      if (victim === undefined) return next;
      this.crash(victim);
      this.at(this.now + 20 + p.int(500), () => {
        if (!victim.up && this.faulting) this.start(victim);
      });
    } else if (r < 34) {
      // Partition into two random sides.
      this.cut.clear();
      const side = new Set(this.ids.filter(() => p.chance(0.5)));
      for (const a of this.ids) for (const b of this.ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
      this.log(`t=${this.now} partition ${[...side].join(',')} | ${this.ids.filter((i) => !side.has(i)).join(',')}`);
    } else if (r < 52 && leader !== undefined) {
      this.cut.clear();
      for (const b of this.ids) {
        if (b === leader.id) continue;
        this.cut.add(`${leader.id}->${b}`);
        this.cut.add(`${b}->${leader.id}`);
      }
      this.log(`t=${this.now} isolate leader ${leader.id}`);
      // Hold it long enough for a new leader to serve while the old one may still believe it leads.
      return 1000 + this.prng.int(1000);
    } else if (r < 58) {
      const a = p.pick(this.ids);
      const b = p.pick(this.ids);
      if (a !== b) this.cut.add(`${a}->${b}`);
    } else if (r < 75) {
      this.cut.clear();
      this.log(`t=${this.now} heal`);
    } else if (r < 88) {
      this.dropP = p.pick([0, 0, 0.05, 0.2]);
      this.dupP = p.pick([0, 0, 0.05, 0.2]);
    } else if (r < 91) {
      const s = p.pick([...this.nodes.values()]);
      s.clockSkewMs = p.range(-400, 400);
    } else if (r < 94 && !this.membershipChanged && leader !== undefined) {
      this.membershipChanged = true;
      void this.replaceNode(leader.id);
    } else {
      // LSM seeds: move a memtable to an SSTable, so reads and crashes meet both.
      const s = up.length > 0 ? p.pick(up) : undefined;
      if (s !== undefined && s.disk instanceof LsmSimDisk) s.disk.current?.flush().catch(() => undefined);
    }
    return next;
  }

  /**
   * A membership change under faults: a follower is removed (and stays down
   * for good), then a fresh node with a new id joins empty — as a learner,
   * promoted by whichever node leads once it caught up. Both changes are
   * retried on whatever node serves until its configuration shows them.
   */
  private async replaceNode(leaderId: NodeId): Promise<void> {
    const victim = this.ids.find((id) => id !== leaderId && this.nodes.get(id)?.up === true);
    if (victim === undefined) return;
    const newId = Math.max(...this.nodes.keys()) + 1;
    this.log(`t=${this.now} membership: replace node ${victim} by node ${newId}`);
    const conf = (): { voters: readonly NodeId[]; learners: readonly NodeId[] } | undefined =>
      this.serving()?.raft.status().conf;
    while (conf()?.voters.includes(victim) !== false || conf()?.learners.includes(victim) === true) {
      try {
        this.serving()?.removeNode(victim);
      } catch {
        // busy or not leader: retry
      }
      await this.sleep(20);
    }
    const gone = this.nodes.get(victim)!;
    this.crash(gone);
    gone.removed = true;
    this.ids = [...this.ids.filter((id) => id !== victim), newId];
    this.start(this.addSimNode(newId, true));
    while (conf()?.voters.includes(newId) !== true) {
      const c = conf();
      if (c !== undefined && !c.learners.includes(newId)) {
        try {
          this.serving()?.addNode(newId);
        } catch {
          // busy or not leader: retry
        }
      }
      await this.sleep(20);
    }
    this.log(`t=${this.now} membership: node ${newId} is a voter`);
    this.replaced = true;
  }

  // ───────────────────────── clients ─────────────────────────

  private pickNode(guess: NodeId): ClusterNode | undefined {
    const s = this.nodes.get(guess);
    if (s?.up === true && s.node !== undefined) return s.node;
    const up = [...this.nodes.values()].filter((x) => x.up && x.node !== undefined);
    return up.length === 0 ? undefined : this.prng.pick(up).node;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    p.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // Short timeouts send clients to other nodes while a deposed leader may
      // still believe it leads: that is where stale reads would show.
      this.at(this.now + this.prng.range(CLIENT_OP_TIMEOUT_MS_MIN, CLIENT_OP_TIMEOUT_MS), () => {
        if (settled) return;
        settled = true;
        reject(new TimedOut('client timeout'));
      });
      p.then(
        (v) => {
          if (settled) return;
          settled = true;
          resolve(v);
        },
        (e: unknown) => {
          if (settled) return;
          settled = true;
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private async client(c: number): Promise<void> {
    let guess: NodeId = NONE;
    while (this.clientsActive && this.failure === undefined) {
      const node = this.pickNode(guess);
      if (node === undefined) {
        await this.sleep(10);
        continue;
      }
      // Reader clients only read: unlike writers, they are never stuck behind a
      // commit on a deposed leader, so they probe its reads while it still believes it leads.
      const r = c >= this.clients ? 45 + this.prng.int(15) + (this.prng.chance(0.7) ? 35 : 0) : this.prng.int(100);
      try {
        if (r < 45) await this.withTimeout(this.transfer(node));
        else if (r < 60) await this.withTimeout(this.audit(node));
        else if (r < 80) await this.withTimeout(this.registerPut(node, c));
        else await this.withTimeout(this.registerGet(node, c));
        guess = node.id;
      } catch (e) {
        if (e instanceof SimFailure) throw e;
        if (e instanceof NotLeaderError && e.leader !== NONE) guess = e.leader;
        else guess = NONE;
        await this.sleep(1 + this.prng.int(20));
      }
      await this.sleep(this.prng.int(5));
    }
  }

  /** 'failed' only for errors that promise nothing was committed. */
  private classify(e: unknown): 'failed' | 'ambiguous' {
    if (e instanceof NextDbError) {
      if (e.code === STATEMENT_COMPLETION_UNKNOWN) return 'ambiguous';
      if (e.code === SqlState.serializationFailure || e.code === SqlState.deadlockDetected) return 'failed';
    }
    return 'ambiguous';
  }

  private async transfer(node: ClusterNode): Promise<void> {
    const p = this.prng;
    const from = p.int(this.accounts);
    let to = p.int(this.accounts - 1);
    if (to >= from) to++;
    const id = this.nextXfer++;
    const t: Transfer = { from, to, amount: 1 + p.int(30), outcome: 'pending' };
    this.transfers.set(id, t);
    if (this.sqlMode) return this.sqlTransfer(node, id, t);
    let txn: Txn | undefined;
    try {
      txn = await node.begin({ isolation: 'serializable' });
      const a = num(await txn.get(acctKey(from)));
      const b = num(await txn.get(acctKey(to)));
      if (a < 0 || b < 0) this.fail(`negative balance read: ${a}, ${b}`);
      if (a < t.amount) {
        await txn.rollback();
        t.outcome = 'noop';
        return;
      }
      await txn.put(acctKey(from), Buffer.from(String(a - t.amount)));
      await txn.put(acctKey(to), Buffer.from(String(b + t.amount)));
      await txn.put(xferKey(id), Buffer.from(`${from}:${to}:${t.amount}`));
      await txn.commit();
      t.outcome = 'acked';
    } catch (e) {
      if (e instanceof SimFailure) throw e;
      this.noteFailure(t, node, e);
      if (txn !== undefined && txn.state === 'active') await txn.rollback().catch(() => undefined);
      throw e;
    } finally {
      // A timeout leaves the outcome pending: treated as ambiguous at the end.
    }
  }

  private noteFailure(t: Transfer, node: ClusterNode, e: unknown): void {
    t.outcome = this.classify(e);
    t.error = `${(e as Error).stack} / cause: ${((e as Error).cause as Error | undefined)?.stack}`;
    t.node = node.id;
    t.at = this.now;
  }

  // ─── the same bank through SQL (SqlEngine over ClusterTxnManager) ───

  private sqlEngine(node: ClusterNode): Promise<SqlEngine> {
    let p = this.sqlEngines.get(node);
    if (p === undefined) {
      p = SqlEngine.open({
        engine: node.engine,
        txnManager: new ClusterTxnManager(node),
        clock: { nowMs: () => 1_700_000_000_000 + this.now },
        seed: 1,
      });
      this.sqlEngines.set(node, p);
      // A node that did not lead when asked opens again next time.
      p.catch(() => this.sqlEngines.delete(node));
    }
    return p;
  }

  /** Runs `steps` in one SQL session; each step is one simple-query message. */
  private async inSql<T>(
    node: ClusterNode,
    steps: (q: (text: string) => Promise<StatementResult[]>) => Promise<T>,
  ): Promise<T> {
    const engine = await this.sqlEngine(node);
    const session = engine.createSession({ user: 'postgres', database: 'postgres' });
    try {
      return await steps((text) => session.simpleQuery(text));
    } finally {
      await session.close().catch(() => undefined);
    }
  }

  private async sqlTransfer(node: ClusterNode, id: number, t: Transfer): Promise<void> {
    try {
      const outcome = await this.inSql(node, async (q) => {
        await q('BEGIN ISOLATION LEVEL SERIALIZABLE');
        const debit = await q(
          `UPDATE acct SET balance = balance - ${t.amount} WHERE id = ${t.from} AND balance >= ${t.amount}`,
        );
        if (debit[0]?.commandTag === 'UPDATE 0') {
          await q('ROLLBACK');
          return 'noop' as const;
        }
        await q(`UPDATE acct SET balance = balance + ${t.amount} WHERE id = ${t.to}`);
        await q(`INSERT INTO xfer VALUES (${id}, ${t.from}, ${t.to}, ${t.amount})`);
        const c = await q('COMMIT');
        if (c[0]?.commandTag !== 'COMMIT') throw new Error(`COMMIT answered ${c[0]?.commandTag}`);
        return 'acked' as const;
      });
      t.outcome = outcome;
    } catch (e) {
      if (e instanceof SimFailure) throw e;
      this.noteFailure(t, node, e);
      throw e;
    }
  }

  private async sqlBalances(
    node: ClusterNode,
    withMarkers: boolean,
  ): Promise<{ balances: number[]; markers: Map<number, string> }> {
    return this.inSql(node, async (q) => {
      await q('BEGIN ISOLATION LEVEL SERIALIZABLE');
      const accts = await q('SELECT id, balance FROM acct ORDER BY id');
      const markers = new Map<number, string>();
      if (withMarkers) {
        const x = await q('SELECT id, src, dst, amount FROM xfer');
        for (const r of x[0]?.rows ?? [])
          markers.set(Number(String(r[0])), `${String(r[1])}:${String(r[2])}:${String(r[3])}`);
      }
      await q('COMMIT');
      return { balances: (accts[0]?.rows ?? []).map((r) => Number(String(r[1]))), markers };
    });
  }

  private async sqlSetup(node: ClusterNode): Promise<void> {
    const values = Array.from({ length: this.accounts }, (_, i) => `(${i}, ${INITIAL_BALANCE})`).join(', ');
    try {
      await this.inSql(node, async (q) => {
        await q('BEGIN');
        await q('CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL)');
        await q('CREATE TABLE xfer (id int PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL)');
        await q(`INSERT INTO acct VALUES ${values}`);
        await q('COMMIT');
      });
    } catch (e) {
      // An ambiguous first attempt may have committed: then the tables are there, loaded.
      const { balances } = await this.sqlBalances(node, false);
      if (balances.length !== this.accounts) throw e;
    }
  }

  private async audit(node: ClusterNode): Promise<void> {
    let balances: number[];
    if (this.sqlMode) {
      balances = (await this.sqlBalances(node, false)).balances;
    } else {
      const txn = await node.begin({ isolation: 'serializable', readOnly: true });
      const rows = await txn.scan({ start: ACCT_START, end: ACCT_END });
      await txn.commit();
      balances = rows.map((r) => num(r.value));
    }
    if (balances.length !== this.accounts) this.fail(`audit saw ${balances.length} accounts`);
    let sum = 0;
    for (const v of balances) {
      if (v < 0) this.fail(`audit saw a negative balance ${v}`);
      sum += v;
    }
    if (sum !== this.accounts * INITIAL_BALANCE)
      this.fail(`audit on node ${node.id} saw total ${sum}, expected ${this.accounts * INITIAL_BALANCE}`);
    this.audits++;
  }

  private async registerPut(node: ClusterNode, c: number): Promise<void> {
    const key = this.prng.int(REGISTER_KEYS);
    const value = `v${this.nextValue++}`;
    const op: { kind: 'put'; key: string; value: string; call: number; ret: number; client: number } = {
      kind: 'put',
      key: `r${key}`,
      value,
      call: this.now,
      ret: Infinity,
      client: c,
    };
    this.history.push(op);
    try {
      const txn = await node.begin({ isolation: 'serializable' });
      await txn.put(regKey(key), Buffer.from(value));
      await txn.commit();
      op.ret = this.now;
    } catch (e) {
      if (this.classify(e) === 'failed') this.history.splice(this.history.indexOf(op), 1);
      throw e;
    }
  }

  private async registerGet(node: ClusterNode, c: number): Promise<void> {
    const key = this.prng.int(REGISTER_KEYS);
    const call = this.now;
    const txn = await node.begin({ isolation: 'serializable', readOnly: true });
    const v = await txn.get(regKey(key));
    await txn.commit();
    this.history.push({
      kind: 'get',
      key: `r${key}`,
      value: v === undefined ? null : v.toString(),
      call,
      ret: this.now,
      client: c,
    });
  }

  // ───────────────────────── the run ─────────────────────────

  private async runUntil(cond: () => boolean, limitMs: number): Promise<boolean> {
    const end = this.now + limitMs;
    while (!cond()) {
      if (this.failure !== undefined) throw this.failure;
      const ev = this.q.pop();
      if (ev === undefined || ev.t > end) {
        if (ev !== undefined) this.q.push(ev.t, ev.e);
        return cond();
      }
      this.now = ev.t;
      this.events++;
      ev.e();
      await drain();
    }
    if (this.failure !== undefined) throw this.failure;
    return true;
  }

  private serving(): ClusterNode | undefined {
    for (const s of this.nodes.values()) if (s.up && s.node?.status().serving === true) return s.node;
    return undefined;
  }

  /** Runs `op` on whichever node serves, retrying (after 10 ms) until it succeeds. */
  private async onLeader<T>(op: (leader: ClusterNode) => Promise<T>): Promise<T> {
    for (;;) {
      const leader = this.serving();
      if (leader !== undefined) {
        try {
          return await this.withTimeout(op(leader));
        } catch {
          // retried below
        }
      }
      await this.sleep(10);
    }
  }

  /** Loads the accounts through whichever node serves first (the load is idempotent, so retries are safe). */
  private async setup(): Promise<void> {
    await this.onLeader(async (leader) => {
      if (this.sqlMode) return this.sqlSetup(leader);
      const txn = await leader.begin();
      for (let i = 0; i < this.accounts; i++) await txn.put(acctKey(i), Buffer.from(String(INITIAL_BALANCE)));
      await txn.commit();
    });
  }

  async run(): Promise<ClusterSimResult> {
    let setupDone = false;
    for (const s of this.nodes.values()) this.start(s);
    void this.setup().then(() => (setupDone = true));
    if (!(await this.runUntil(() => setupDone, 10_000)))
      this.fail(`no leader loaded the accounts within 10 s: ${this.describe()}`);
    const faultEnd = this.now + this.faultMs;
    this.scheduleFault();
    let clientsFinished = 0;
    for (let c = 0; c < this.clients + this.readers; c++) {
      const p = this.client(c).then(
        () => void clientsFinished++,
        (e: unknown) => {
          clientsFinished++;
          this.failure ??= e instanceof Error ? e : new Error(String(e));
        },
      );
      this.clientsDone.push(p);
    }
    await this.runUntil(() => false, faultEnd - this.now);
    // Heal everything, restart everyone; clients keep going for a while.
    this.faulting = false;
    this.cut.clear();
    this.dropP = 0;
    this.dupP = 0;
    for (const s of this.nodes.values()) if (!s.up) this.start(s);
    this.log(`t=${this.now} heal all`);
    const healedAt = this.now;
    await this.runUntil(() => false, 500);
    this.clientsActive = false;
    if (!(await this.runUntil(() => clientsFinished === this.clients + this.readers, CLIENT_OP_TIMEOUT_MS + 2000)))
      this.fail('clients did not finish');

    // Final state through the leader, then convergence of every replica.
    const final = await this.finalRead(healedAt);
    const converged = (): boolean => {
      const leader = this.serving();
      if (leader === undefined) return false;
      const ls = leader.status();
      if (leader.engine.overlaySize !== 0 || leader.engine.pendingProposals !== 0) return false;
      for (const s of this.nodes.values()) {
        if (s.removed) continue;
        const st = s.node?.status();
        if (st === undefined || st.applied !== ls.commit || st.applied !== ls.lastIndex) return false;
      }
      return true;
    };
    if (!(await this.runUntil(converged, this.livenessMs)))
      this.fail(`replicas did not converge within ${this.livenessMs} ms of healing: ${this.describe()}`);
    this.checkReplicasAgree();
    this.checkBank(final);
    const lin = checkLinearizable(this.history);
    if (lin.ok === false) this.fail(`register history not linearizable on key ${lin.key}: ${lin.reason}`);
    const t = [...this.transfers.values()];
    return {
      seed: this.seed,
      nodes: this.ids.length,
      simMs: this.now,
      events: this.events,
      crashes: this.crashes,
      terms: this.servingTerm.size,
      transfers: {
        acked: t.filter((x) => x.outcome === 'acked').length,
        failed: t.filter((x) => x.outcome === 'failed').length,
        ambiguous: t.filter((x) => x.outcome === 'ambiguous' || x.outcome === 'pending').length,
        ambiguousCommitted: final.ambiguousCommitted,
      },
      audits: this.audits,
      registerOps: this.history.length,
      linearizability: lin.ok === true ? 'ok' : 'unknown',
      appliedIndex: this.serving()?.status().applied ?? 0,
      leaseReads: this.leaseReads,
      checkQuorum: this.checkQuorum,
      disk: this.lsm ? 'lsm' : 'memory',
      bank: this.sqlMode ? 'sql' : 'kv',
      replaced: this.replaced,
    };
  }

  private describe(): string {
    return [...this.nodes.values()]
      .map((s) => {
        const st = s.node?.status();
        return st === undefined
          ? `${s.id}:down`
          : `${s.id}:${st.role}/t${st.term}/c${st.commit}/a${st.applied}/l${st.lastIndex}${st.serving ? '/serving' : ''}`;
      })
      .join(' ');
  }

  private async finalRead(
    healedAt: number,
  ): Promise<{ balances: number[]; markers: Map<number, string>; ambiguousCommitted: number }> {
    let result: { balances: number[]; markers: Map<number, string> } | undefined;
    const attempt = async (): Promise<void> => {
      result = await this.onLeader(async (leader) => {
        if (this.sqlMode) return this.sqlBalances(leader, true);
        const txn = await leader.begin({ isolation: 'serializable', readOnly: true });
        const accts = await txn.scan({ start: ACCT_START, end: ACCT_END });
        const xfers = await txn.scan({ start: XFER_START, end: XFER_END });
        await txn.commit();
        const markers = new Map<number, string>();
        for (const x of xfers) markers.set(Number(x.key.toString().slice(5)), x.value.toString());
        return { balances: accts.map((r) => num(r.value)), markers };
      });
    };
    let done = false;
    void attempt().then(() => (done = true));
    if (!(await this.runUntil(() => done, this.livenessMs)))
      this.fail(
        `no leader served a read within ${this.livenessMs} ms of healing (healed at ${healedAt}): ${this.describe()}`,
      );
    const r = result!;
    let ambiguousCommitted = 0;
    for (const [id, t] of this.transfers)
      if ((t.outcome === 'ambiguous' || t.outcome === 'pending') && r.markers.has(id)) ambiguousCommitted++;
    return { ...r, ambiguousCommitted };
  }

  private checkBank(final: { balances: number[]; markers: Map<number, string> }): void {
    if (final.balances.length !== this.accounts) this.fail(`final scan saw ${final.balances.length} accounts`);
    const expected = Array.from({ length: this.accounts }, () => INITIAL_BALANCE);
    for (const [id, m] of final.markers) {
      const t = this.transfers.get(id);
      if (t === undefined) this.fail(`marker of unknown transfer ${id}`);
      if (m !== `${t.from}:${t.to}:${t.amount}`) this.fail(`marker of transfer ${id} reads ${m}`);
      if (t.outcome === 'failed')
        this.fail(
          `transfer ${id} failed with a definite error on node ${t.node} at ${t.at}, yet it committed: ${t.error}`,
        );
      if (t.outcome === 'noop') this.fail(`transfer ${id} was rolled back, yet it committed`);
      expected[t.from]! -= t.amount;
      expected[t.to]! += t.amount;
    }
    for (const [id, t] of this.transfers)
      if (t.outcome === 'acked' && !final.markers.has(id)) this.fail(`acknowledged transfer ${id} was lost`);
    for (let i = 0; i < this.accounts; i++) {
      if (final.balances[i] !== expected[i])
        this.fail(`account ${i} holds ${final.balances[i]}, committed transfers say ${expected[i]}`);
    }
  }

  private checkReplicasAgree(): void {
    let reference: string | undefined;
    let refId = 0;
    for (const s of this.nodes.values()) {
      if (s.removed) continue;
      const snap = s.node!.staleSnapshot();
      const parts: string[] = [];
      try {
        for (const [k, v] of snap.scan()) parts.push(`${k.toString('hex')}=${v.toString('hex')}`);
      } finally {
        snap.release();
      }
      const content = parts.join(',');
      if (reference === undefined) {
        reference = content;
        refId = s.id;
      } else if (content !== reference) {
        this.fail(`replicas ${refId} and ${s.id} differ after applying index ${s.node!.status().applied}`);
      }
    }
  }
}

export function runClusterSim(seed: number, options: ClusterSimOptions = {}): Promise<ClusterSimResult> {
  return new ClusterSim(seed, options).run();
}

/**
 * A small deterministic cluster for ClusterNode unit tests: N nodes over
 * SimDisk (crashable) disks, a FIFO network with per-node isolation, and a
 * `round()` that delivers every queued message, completes fsyncs, ticks
 * every node and lets promise chains settle. Tests script the faults.
 */

import { ClusterNode, type ClusterNodeOptions } from '../../src/kv/cluster-node.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { Prng } from '../../src/util/prng.ts';
import { SimDisk } from '../sim/cluster-disk.ts';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

export class Harness {
  readonly prng: Prng;
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly disks = new Map<NodeId, SimDisk>();
  readonly nodes = new Map<NodeId, ClusterNode>();
  readonly isolated = new Set<NodeId>();
  private queue: Message[] = [];
  private fsyncs: (() => void)[] = [];
  readonly fatal: unknown[] = [];

  constructor(
    readonly ids: readonly NodeId[],
    private readonly extra: Partial<ClusterNodeOptions> = {},
    seed = 1,
  ) {
    this.prng = new Prng(seed);
    for (const id of ids) this.disks.set(id, new SimDisk((complete) => this.fsyncs.push(complete)));
  }

  /** Opens node `id` from its disk; `join` opens a node outside the bootstrap list (it starts empty). */
  async start(id: NodeId, join = false): Promise<ClusterNode> {
    let disk = this.disks.get(id);
    if (disk === undefined) this.disks.set(id, (disk = new SimDisk((complete) => this.fsyncs.push(complete))));
    const opening = ClusterNode.open({
      id,
      local: disk.open(),
      prng: this.prng.fork(),
      clock: this.clock,
      send: (m) => this.queue.push(m),
      ...(join ? {} : { bootstrap: this.ids }),
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      onFatal: (e) => this.fatal.push(e),
      ...this.extra,
    });
    let node: ClusterNode | undefined;
    void opening.then((n) => (node = n));
    while (node === undefined) await this.flushIo();
    this.nodes.set(id, node);
    return node;
  }

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.start(id);
  }

  crash(id: NodeId): void {
    this.nodes.get(id)?.kill();
    this.nodes.delete(id);
    this.disks.get(id)!.crash(this.prng);
  }

  private async flushIo(): Promise<void> {
    await settle();
    const f = this.fsyncs;
    this.fsyncs = [];
    for (const c of f) c();
    await settle();
  }

  /** Delivers queued messages (dropping those to or from isolated nodes), completes fsyncs, ticks everyone. */
  async round(tick = true): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue;
        this.nodes.get(m.to)?.step(m);
      }
      await this.flushIo();
    }
    if (tick) {
      this.clock.advance(10);
      for (const n of this.nodes.values()) n.tick();
    }
    await this.flushIo();
  }

  async until(cond: () => boolean, maxRounds = 500): Promise<void> {
    for (let i = 0; i < maxRounds; i++) {
      if (cond()) return;
      await this.round();
    }
    throw new Error(`condition not reached in ${maxRounds} rounds: ${this.describe()}`);
  }

  /** Runs rounds while the promise is pending (it must settle within maxRounds). */
  async drive<T>(p: Promise<T>, maxRounds = 500): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    await this.until(() => done, maxRounds);
    return p;
  }

  serving(): ClusterNode | undefined {
    for (const n of this.nodes.values()) if (n.status().serving && !this.isolated.has(n.id)) return n;
    return undefined;
  }

  async leader(): Promise<ClusterNode> {
    await this.until(() => this.serving() !== undefined);
    return this.serving()!;
  }

  /** Hex dump of the replicated keyspace of a replica's applied state. */
  content(id: NodeId): string {
    const snap = this.nodes.get(id)!.staleSnapshot();
    try {
      return [...snap.scan()].map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).join(',');
    } finally {
      snap.release();
    }
  }

  /** Waits until every live node applied the same index as the leader's last index. */
  async converge(): Promise<void> {
    await this.until(() => {
      const l = this.serving();
      if (l === undefined || l.engine.overlaySize !== 0) return false;
      const last = l.status().lastIndex;
      return [...this.nodes.values()].every((n) => n.status().applied === last);
    });
  }

  describe(): string {
    return [...this.nodes.values()]
      .map((n) => {
        const s = n.status();
        return `${s.id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}${s.serving ? '/serving' : ''}`;
      })
      .join(' ');
  }
}

/**
 * The interpreter behind the golden Raft scripts (test/raft/scripts/*.txt).
 *
 * A script drives a small cluster of real RaftNodes by hand: messages are
 * queued per recipient and only move on `deliver` / `stabilize`, time only
 * moves on `tick`, and every Ready is processed at once (persisted to an
 * in-memory "disk", messages queued, committed entries applied to a tiny
 * key=value map). Everything a node does is printed, one event per line, so
 * the expected output of a script states the behaviour line by line.
 *
 * Commands (ids are node numbers; `[ids]` defaults to all live nodes):
 *   cluster nodes=N [learners=A,B] [joining=A,B] [prevote=bool] [checkquorum=bool]
 *           [lease=bool] [election=T] [heartbeat=T] [inflight=N] [chunk=BYTES] [seed=S]
 *   campaign ID                  start a (pre-)election now
 *   tick [ids] [n=K]             K ticks on each node
 *   propose ID key=value         client write at ID
 *   conf ID add-learner|add-voter|remove NODE
 *   transfer ID TO               leadership transfer
 *   read ID CTX | lease-read ID CTX
 *   deliver [ids]                deliver the queued messages once (replies stay queued)
 *   stabilize [ids]              deliver until nothing is queued
 *   partition A,B[,C]            cut A,B.. off from the rest (both directions)
 *   cut A->B                     drop messages from A to B only
 *   heal                         repair every link
 *   crash ID | restart ID        lose volatile state / come back from the disk
 *   add-node ID                  start a fresh (joining) node
 *   compact ID                   snapshot the state machine at its applied index
 *   drop [ids]                   discard messages queued for ids
 *   status [ids] | log [ids] | kv [ids]
 */

import { Prng } from '../../src/util/prng.ts';
import { decodeConfChange } from '../../src/raft/codec.ts';
import { RaftNode, bootstrapState, joiningState } from '../../src/raft/raft-node.ts';
import type { RaftConfig } from '../../src/raft/raft-node.ts';
import { EntryType } from '../../src/raft/types.ts';
import type { Entry, HardState, Message, NodeId, RaftInitialState, Snapshot, SoftState } from '../../src/raft/types.ts';

interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

interface HNode {
  readonly id: NodeId;
  raft: RaftNode;
  disk: Disk;
  kv: Map<string, string>;
  up: boolean;
  soft: SoftState;
  pendingReads: { ctx: number; index: number }[];
}

const dec = new TextDecoder();
const enc = new TextEncoder();

export function describeEntry(e: Entry): string {
  const body =
    e.type === EntryType.confChange ? describeConf(e.data) : e.data.length === 0 ? 'noop' : dec.decode(e.data);
  return `${e.index}@${e.term} ${body}`;
}

function describeConf(data: Uint8Array): string {
  const cc = decodeConfChange(data);
  if (cc.type === 'set') return `conf set voters=${cc.conf.voters.join(',')} learners=${cc.conf.learners.join(',')}`;
  return `conf ${cc.type} ${cc.node}`;
}

export function describeMessage(m: Message): string {
  switch (m.kind) {
    case 'vote':
      return `${m.preVote ? 'prevote' : 'vote'} term=${m.term} last=${m.lastIndex}@${m.lastTerm}${m.force ? ' force' : ''}`;
    case 'voteResp':
      return `${m.preVote ? 'prevoteResp' : 'voteResp'} term=${m.term} ${m.reject ? 'rejected' : 'granted'}`;
    case 'append':
      return `append term=${m.term} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit} [${m.entries.map((e) => `${e.index}@${e.term}`).join(' ')}]`;
    case 'appendResp':
      return m.reject
        ? `appendResp term=${m.term} reject=${m.index} hint=${m.hintIndex}@${m.hintTerm}`
        : `appendResp term=${m.term} match=${m.index}`;
    case 'heartbeat':
      return `heartbeat term=${m.term} commit=${m.commit} seq=${m.seq}`;
    case 'heartbeatResp':
      return `heartbeatResp term=${m.term} seq=${m.seq}`;
    case 'snapshot':
      return `snapshot term=${m.term} snap=${m.meta.index}@${m.meta.term} offset=${m.offset} bytes=${m.chunk.length}${m.done ? ' done' : ''}`;
    case 'snapshotResp':
      return `snapshotResp term=${m.term} snap=${m.snapIndex}@${m.snapTerm} offset=${m.offset}`;
    case 'timeoutNow':
      return `timeoutNow term=${m.term}`;
  }
}

function describeSoft(s: SoftState): string {
  const role = s.role === 'follower' ? `follower(${s.leader === 0 ? '' : `n${s.leader}`})` : s.role;
  return `${role}@${s.term}`;
}

export class ScriptCluster {
  private readonly nodes = new Map<NodeId, HNode>();
  private readonly inbox = new Map<NodeId, Message[]>();
  private readonly cut = new Set<string>();
  private out: string[] = [];
  private config: Omit<RaftConfig, 'id' | 'group' | 'prng'> = {};
  private seed = 1;

  /** Runs one command block and returns its output. */
  run(command: string): string {
    this.out = [];
    const [name, ...rest] = command.trim().split(/\s+/);
    // `name=value` options are lower-case words; everything else is positional (`propose` reads its raw token).
    const isOption = (a: string): boolean => /^[a-z]+=/.test(a) && name !== 'propose';
    const args = rest.filter((a) => !isOption(a));
    const kv = new Map(rest.filter(isOption).map((a) => a.split('=') as [string, string]));
    switch (name) {
      case 'cluster':
        this.cmdCluster(kv);
        break;
      case 'campaign':
        this.node(num(args[0])).raft.campaign();
        this.processAll();
        break;
      case 'tick': {
        const n = Number(kv.get('n') ?? 1);
        for (let i = 0; i < n; i++) {
          for (const id of this.ids(args)) {
            this.node(id).raft.tick();
            this.process(id);
          }
        }
        break;
      }
      case 'propose':
        this.guard(() => {
          const pos = this.node(num(args[0])).raft.propose(enc.encode(rest[1] ?? ''));
          this.emit(`n${args[0]} proposed ${pos.index}@${pos.term}`);
        });
        this.processAll();
        break;
      case 'conf':
        this.guard(() => {
          const type = { 'add-learner': 'addLearner', 'add-voter': 'addVoter', remove: 'removeNode' }[args[1] ?? ''];
          if (type === undefined) throw new Error(`bad conf change ${args[1]}`);
          const pos = this.node(num(args[0])).raft.proposeConfChange({
            type: type as 'addLearner',
            node: num(args[2]),
          });
          this.emit(`n${args[0]} proposed ${pos.index}@${pos.term}`);
        });
        this.processAll();
        break;
      case 'transfer':
        this.guard(() => this.node(num(args[0])).raft.transferLeadership(num(args[1])));
        this.processAll();
        break;
      case 'read':
      case 'lease-read':
        this.guard(() => {
          const r = this.node(num(args[0])).raft;
          if (name === 'read') r.readIndex(num(args[1]));
          else r.leaseRead(num(args[1]));
        });
        this.processAll();
        break;
      case 'deliver':
        this.deliver(this.ids(args));
        break;
      case 'stabilize':
        for (let round = 0; round < 1000; round++) {
          if (!this.deliver(this.ids(args))) break;
        }
        break;
      case 'partition': {
        const side = new Set((args[0] ?? '').split(',').map(num));
        for (const a of this.nodes.keys()) {
          for (const b of this.nodes.keys()) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
        }
        this.emit(
          `partitioned ${[...side].map((n) => `n${n}`).join(' ')} | ${[...this.nodes.keys()]
            .filter((n) => !side.has(n))
            .map((n) => `n${n}`)
            .join(' ')}`,
        );
        break;
      }
      case 'cut':
        this.cut.add(args[0] ?? '');
        this.emit(`cut ${args[0]}`);
        break;
      case 'heal':
        this.cut.clear();
        this.emit('healed');
        break;
      case 'crash': {
        const n = this.node(num(args[0]));
        n.up = false;
        this.inbox.set(n.id, []);
        this.emit(`n${n.id} crashed`);
        break;
      }
      case 'restart':
        this.start(num(args[0]), {
          hardState: this.node(num(args[0])).disk.hardState,
          snapshot: this.node(num(args[0])).disk.snapshot,
          entries: this.node(num(args[0])).disk.entries,
        });
        this.statusOf([num(args[0])]);
        break;
      case 'add-node':
        this.start(num(args[0]), joiningState());
        this.statusOf([num(args[0])]);
        break;
      case 'compact': {
        const n = this.node(num(args[0]));
        const applied = n.raft.status().applied;
        const snap = n.raft.compact(applied, enc.encode(JSON.stringify([...n.kv])));
        n.disk.snapshot = snap;
        n.disk.entries = n.disk.entries.filter((e) => e.index > applied);
        this.emit(`n${n.id} compacted to ${snap.meta.index}@${snap.meta.term}`);
        break;
      }
      case 'drop':
        for (const id of this.ids(args)) this.inbox.set(id, []);
        this.emit('dropped');
        break;
      case 'status':
        this.statusOf(this.ids(args));
        break;
      case 'log':
        for (const id of this.ids(args)) {
          const d = this.node(id).disk;
          this.emit(
            `n${id} snapshot=${d.snapshot.meta.index}@${d.snapshot.meta.term} ${d.entries.length === 0 ? '(no entries)' : ''}`.trimEnd(),
          );
          for (const e of d.entries) this.emit(`  ${describeEntry(e)}`);
        }
        break;
      case 'kv':
        for (const id of this.ids(args)) {
          const n = this.node(id);
          this.emit(
            `n${id} ${[...n.kv]
              .sort()
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`.trimEnd(),
          );
        }
        break;
      default:
        throw new Error(`unknown command ${name}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private cmdCluster(kv: Map<string, string>): void {
    const bool = (k: string, d: boolean): boolean => (kv.has(k) ? kv.get(k) === 'true' : d);
    const n = Number(kv.get('nodes') ?? 3);
    const learners = (kv.get('learners') ?? '').split(',').filter(Boolean).map(Number);
    const joining = (kv.get('joining') ?? '').split(',').filter(Boolean).map(Number);
    this.seed = Number(kv.get('seed') ?? 1);
    this.config = {
      preVote: bool('prevote', true),
      checkQuorum: bool('checkquorum', true),
      leaseReads: bool('lease', false),
      electionTicks: Number(kv.get('election') ?? 10),
      heartbeatTicks: Number(kv.get('heartbeat') ?? 1),
      maxInflight: Number(kv.get('inflight') ?? 256),
      snapshotChunkBytes: Number(kv.get('chunk') ?? 65536),
    };
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    for (const id of voters) this.start(id, bootstrapState(voters, learners));
    for (const id of learners) this.start(id, bootstrapState(voters, learners));
    for (const id of joining) this.start(id, joiningState());
    this.statusOf(this.ids([]));
  }

  private start(id: NodeId, init: RaftInitialState): void {
    const raft = new RaftNode({ ...this.config, id, group: 1, prng: new Prng(this.seed * 1000 + id) }, init);
    const kv = new Map<string, string>();
    if (init.snapshot.data.length > 0)
      for (const [k, v] of JSON.parse(dec.decode(init.snapshot.data)) as [string, string][]) kv.set(k, v);
    const disk: Disk = { hardState: init.hardState, snapshot: init.snapshot, entries: [...init.entries] };
    this.nodes.set(id, { id, raft, disk, kv, up: true, soft: raft.softState(), pendingReads: [] });
    this.inbox.set(id, []);
  }

  private node(id: NodeId): HNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private ids(args: readonly string[]): NodeId[] {
    const given = args
      .flatMap((a) => a.split(','))
      .filter(Boolean)
      .map(num);
    return given.length > 0 ? given : [...this.nodes.keys()].filter((id) => this.node(id).up).sort((a, b) => a - b);
  }

  private emit(line: string): void {
    this.out.push(line);
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.emit(`error: ${(e as Error).message}`);
    }
  }

  private statusOf(ids: NodeId[]): void {
    for (const id of ids) {
      const n = this.node(id);
      if (!n.up) {
        this.emit(`n${id} down`);
        continue;
      }
      const s = n.raft.status();
      let line = `n${id}@${s.term} ${describeSoft(n.raft.softState()).replace(/@\d+$/, '')} last=${s.lastIndex}@${s.lastTerm} commit=${s.commit} applied=${s.applied}`;
      line += ` voters=${s.conf.voters.join(',')}`;
      if (s.conf.learners.length > 0) line += ` learners=${s.conf.learners.join(',')}`;
      if (s.role === 'leader') {
        const prs = [...s.progress]
          .filter(([p]) => p !== id)
          .map(([p, pr]) => `${p}:${pr.match}→${pr.next}${pr.state === 'replicate' ? '' : ` ${pr.state}`}`);
        line += ` progress={${prs.join(' ')}}`;
      }
      this.emit(line);
    }
  }

  private processAll(): void {
    for (const id of this.ids([])) this.process(id);
  }

  /** Handles every Ready of node `id` the way a driver would: persist, send, apply, advance. */
  private process(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    while (n.raft.hasReady()) {
      const rd = n.raft.ready();
      const soft = rd.softState;
      if (soft.role !== n.soft.role || soft.leader !== n.soft.leader || soft.term !== n.soft.term) {
        this.emit(`n${id} ${describeSoft(n.soft)} ⇨ ${describeSoft(soft)}`);
        n.soft = soft;
      }
      if (rd.snapshot !== undefined) {
        n.disk.snapshot = rd.snapshot;
        n.disk.entries = [];
        n.kv = new Map(JSON.parse(dec.decode(rd.snapshot.data)) as [string, string][]);
        const c = rd.snapshot.meta.conf;
        this.emit(
          `n${id} install snapshot ${rd.snapshot.meta.index}@${rd.snapshot.meta.term} voters=${c.voters.join(',')} learners=${c.learners.join(',')}`,
        );
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0]!.index;
        n.disk.entries = n.disk.entries.filter((e) => e.index < first).concat(rd.entries);
        for (const e of rd.entries) this.emit(`n${id} append ${describeEntry(e)}`);
      }
      if (rd.hardState !== undefined) n.disk.hardState = rd.hardState;
      for (const m of rd.messages) {
        const to = this.nodes.get(m.to);
        const dropped = to === undefined || !to.up || this.cut.has(`${m.from}->${m.to}`);
        this.emit(`n${id} ${dropped ? '⇥' : '→'} n${m.to} ${describeMessage(m)}${dropped ? ' (dropped)' : ''}`);
        if (!dropped) this.inbox.get(m.to)!.push(m);
      }
      for (const e of rd.committedEntries) {
        this.emit(`n${id} apply ${describeEntry(e)}`);
        if (e.type === EntryType.normal && e.data.length > 0) {
          const [k, v] = dec.decode(e.data).split('=');
          n.kv.set(k ?? '', v ?? '');
        }
      }
      n.pendingReads.push(...rd.readStates);
      n.raft.advance(rd);
      const applied = n.raft.status().applied;
      n.pendingReads = n.pendingReads.filter((r) => {
        if (r.index > applied) return true;
        this.emit(`n${id} read ctx=${r.ctx} index=${r.index} served`);
        return false;
      });
    }
  }

  /** One delivery round; returns false when nothing was queued. */
  private deliver(ids: NodeId[]): boolean {
    let any = false;
    for (const id of ids) {
      const n = this.node(id);
      const msgs = this.inbox.get(id) ?? [];
      this.inbox.set(id, []);
      if (!n.up) continue;
      for (const m of msgs) {
        any = true;
        n.raft.step(m);
      }
      this.process(id);
    }
    return any;
  }
}

function num(s: string | undefined): number {
  const n = Number(s);
  if (!Number.isInteger(n)) throw new Error(`expected a number, got ${s}`);
  return n;
}

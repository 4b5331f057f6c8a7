/**
 * A replicated NextDB node: what `nextdb server` runs when it is part of a
 * cluster (src/cli/server.ts calls startClusterServer). The LSM engine in
 * the data directory, the Raft TCP transport on its own port (the
 * documented second port, default SQL port + 10), a ClusterNode (src/kv)
 * driven by a real-time ticker, and the SQL engine served over the
 * PostgreSQL protocol and HTTP on the SQL port.
 *
 * How a node comes to be a member (decided once, remembered in
 * DIR/cluster.json = {"nodeId", "bootstrap"}):
 *   - `--cluster`: a new single-node cluster; this node (id --node-id or 1)
 *     is its only voter.
 *   - `--join HOST:PORT,...`: asks a member (HTTP, POST /api/cluster/join on
 *     its SQL port; a follower answers 421 naming the leader, and the
 *     joiner follows) to add it. The leader assigns the id (unless
 *     --node-id), records the node's addresses in the replicated member
 *     registry (src/kv/cluster-members.ts), adds it as a learner; the node
 *     starts empty, catches up by snapshot and log, and the leader promotes
 *     it to voter once it caught up (ClusterNode.promoteCaughtUp).
 *   - `--peers 1=host:port,...` (tests, benchmarks): a static group whose
 *     voters every member bootstraps identically on first start.
 *   - restart: cluster.json exists; flags naming a membership are ignored.
 * Every node keeps its own entry of the registry current (it re-registers
 * when its addresses changed) and dials the others at the addresses there.
 *
 * HTTP (same port as SQL): GET /api/cluster (members, roles, applied
 * index, health; shape in docs/operating/cluster.md), POST
 * /api/cluster/join {nodeId?, raftAddress, sqlAddress}, POST
 * /api/cluster/remove {nodeId}; /metrics carries nextdb_cluster_*.
 *
 * SQL on any node: every connection gets a ClusterSession
 * (cluster-session.ts), which runs statements in this node's SQL engine
 * while it serves and otherwise forwards the session to the leader over
 * the PostgreSQL protocol (remote-session.ts), retrying implicit
 * statements across leader changes when nothing of them committed.
 * The SQL engine opens the first time this node leads and then stays open
 * across terms (its transactions begin through ClusterTxnManager, which
 * follows the current term).
 *
 * stop(): a leader first hands leadership to its most caught-up voter,
 * then everything closes.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { ClusterNode } from '../kv/cluster-node.ts';
import { memberBatch, nextMemberId, parseHostPort, readMembers, type MemberRecord } from '../kv/cluster-members.ts';
import { ClusterTxnManager } from '../kv/cluster-txn-manager.ts';
import { StaleTxnManager } from '../kv/stale-txn-manager.ts';
import { NotLeaderError, RaftBusyError } from '../raft/errors.ts';
import { NONE, type NodeId } from '../raft/types.ts';
import type { Engine } from '../storage/engine.ts';
import { openLsmEngine } from '../storage/lsm/index.ts';
import { SqlEngine } from '../sql/index.ts';
import { systemClock } from '../util/clock.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import { NextDbServer, type HttpReply, type HttpRoute, type ServerOptions } from './pg-server.ts';
import { RaftTransport, type PeerAddress } from './raft-transport.ts';
import type { Session } from '../sql/api.ts';
import { ClusterSession } from './cluster-session.ts';
import type { ClusterMemberView, ClusterView, Logger, SessionProvider, StartupInfo } from './server-types.ts';

export interface ClusterServerOptions {
  readonly dir: string;
  /** Listen address of both ports; also the address other nodes are told to use. */
  readonly host: string;
  readonly raftPort: number;
  /** SQL/HTTP port (0: any free port, tests). */
  readonly pgPort: number;
  /** --node-id: required with `peers`, optional otherwise. */
  readonly id?: NodeId | undefined;
  /** Static group: every member with its Raft address, self included. */
  readonly peers?: ReadonlyMap<NodeId, PeerAddress> | undefined;
  /** SQL/HTTP addresses (host:port) of members to ask for admission. */
  readonly join?: readonly string[] | undefined;
  /** Start a new single-node cluster when the data directory holds none. */
  readonly newCluster?: boolean | undefined;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Snapshot the state machine and truncate the Raft log every this many applied entries (default COMPACT_AFTER_ENTRIES). */
  readonly compactAfterEntries?: number | undefined;
  readonly logger: Logger;
  /** Everything else of the SQL/HTTP listener (TLS, limits, auth, socket dir). */
  readonly server?: Omit<ServerOptions, 'provider' | 'engine' | 'logger' | 'host' | 'port' | 'routes'>;
  /** How long a join keeps asking (default 30 s). */
  readonly joinTimeoutMs?: number;
  /** Called once when the other members say this node is no longer a member (it was removed). */
  readonly onRemoved?: () => void;
}

export interface RunningClusterServer {
  readonly node: ClusterNode;
  readonly server: NextDbServer;
  readonly id: NodeId;
  /** Hands leadership away (if leading), then stops everything. */
  stop(): Promise<void>;
  /** Stops without a handoff. */
  close(): Promise<void>;
}

/** DIR/cluster.json: which node this directory is, and how its group was created. */
interface NodeFile {
  readonly nodeId: NodeId;
  /** Voters this node bootstraps with (new cluster, static peers); null when it joined. */
  readonly bootstrap: readonly NodeId[] | null;
}

const NODE_FILE = 'cluster.json';
/** How often a node re-reads the member registry (dial addresses, own registration). */
const MEMBER_REFRESH_MS = 300;
/** How long a clean shutdown of a leader waits for its handoff (longer when elections are slower). */
const HANDOFF_WAIT_MS = 5_000;
/** How long conf changes are retried while the Raft core is busy with another one. */
const CONF_CHANGE_RETRY_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function addressOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startClusterServer(o: ClusterServerOptions): Promise<RunningClusterServer> {
  await mkdir(o.dir, { recursive: true });
  const nodeFilePath = join(o.dir, NODE_FILE);
  let file = existsSync(nodeFilePath) ? await readNodeFile(nodeFilePath) : undefined;
  if (file !== undefined && o.id !== undefined && o.id !== file.nodeId)
    throw new NextDbError(
      SqlState.invalidParameterValue,
      `${o.dir} belongs to node ${file.nodeId}, not --node-id ${o.id}`,
    );
  const local = await openLsmEngine({ dir: o.dir });
  const closeLocal = async (): Promise<void> => {
    await local.close().catch(() => undefined);
  };
  try {
    const raftAddress = addressOf(o.host, o.raftPort);
    const initialPeers = new Map<NodeId, PeerAddress>();
    if (file === undefined) {
      if (o.peers !== undefined) {
        if (o.id === undefined || !o.peers.has(o.id))
          throw new NextDbError(SqlState.invalidParameterValue, '--peers needs --node-id naming one of the peers');
        file = { nodeId: o.id, bootstrap: [...o.peers.keys()].sort((a, b) => a - b) };
      } else if (o.join !== undefined && o.join.length > 0) {
        // The SQL port must be known before asking; a port 0 listener is not supported for joiners.
        const joined = await requestJoin(
          o.join,
          {
            ...(o.id === undefined ? {} : { nodeId: o.id }),
            raftAddress,
            sqlAddress: addressOf(o.host, o.pgPort),
          },
          o.joinTimeoutMs ?? 30_000,
        );
        file = { nodeId: joined.nodeId, bootstrap: null };
        for (const m of joined.members)
          if (m.id !== joined.nodeId) initialPeers.set(m.id, parseHostPort(m.raftAddress, `member ${m.id}`));
      } else if (o.newCluster === true) {
        const id = o.id ?? 1;
        file = { nodeId: id, bootstrap: [id] };
      } else {
        throw new NextDbError(
          SqlState.invalidParameterValue,
          `${o.dir} holds no cluster node: start a new cluster with --cluster, or join one with --join HOST:PORT`,
        );
      }
      await writeNodeFile(nodeFilePath, file);
    }
    const id = file.nodeId;
    if (o.peers !== undefined) for (const [pid, a] of o.peers) if (pid !== id) initialPeers.set(pid, a);
    for (const m of readMembers(local).values())
      if (m.id !== id && !initialPeers.has(m.id))
        initialPeers.set(m.id, parseHostPort(m.raftAddress, `member ${m.id}`));
    return await run(o, local, id, file.bootstrap, initialPeers);
  } catch (e) {
    await closeLocal();
    throw e;
  }
}

async function run(
  o: ClusterServerOptions,
  local: Engine,
  id: NodeId,
  bootstrap: readonly NodeId[] | null,
  initialPeers: Map<NodeId, PeerAddress>,
): Promise<RunningClusterServer> {
  const ref: { node?: ClusterNode } = {};
  const dialed = new Map<NodeId, string>();
  for (const [pid, a] of initialPeers) dialed.set(pid, addressOf(a.host, a.port));
  const transport = await RaftTransport.listen({
    nodeId: id,
    host: o.host,
    port: o.raftPort,
    peers: initialPeers,
    onMessage: (m) => ref.node?.step(m),
  });
  let node: ClusterNode;
  try {
    node = await ClusterNode.open({
      id,
      local,
      prng: new Prng((id * 2654435761 + Date.now()) >>> 0),
      clock: systemClock,
      send: (m) => transport.send(m),
      ...(bootstrap === null ? {} : { bootstrap }),
      raft: { electionTicks: o.electionTicks, heartbeatTicks: 1 },
      ...(o.compactAfterEntries === undefined ? {} : { compactAfterEntries: o.compactAfterEntries }),
      schedule: setImmediate,
      onFatal: (e) => {
        process.stderr.write(`node ${id}: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    });
  } catch (e) {
    await transport.close();
    throw e;
  }
  ref.node = node;
  const ticker = setInterval(() => node.tick(), o.tickMs);

  let sql: Promise<SqlEngine> | undefined;
  /** A session of this node's own SQL engine; only while it serves. */
  const localSession = async (startup: StartupInfo): Promise<Session> => {
    const st = node.status();
    if (!st.serving) throw new NotLeaderError(node.group, node.id, st.leader === node.id ? NONE : st.leader);
    sql ??= SqlEngine.open({
      engine: node.engine,
      txnManager: new ClusterTxnManager(node),
      checkpoint: (dir) => node.backup(dir),
    });
    // A failed open (lost leadership while bootstrapping the catalog) is retried by the next session.
    return sessionOf(sql, startup, () => (sql = undefined));
  };
  // Stale reads: one SQL engine per node over its own replica (opened on first use).
  let staleSql: Promise<SqlEngine> | undefined;
  const stale = {
    session: async (startup: StartupInfo): Promise<Session> => {
      staleSql ??= SqlEngine.open({ engine: node.engine, txnManager: new StaleTxnManager(node) });
      return sessionOf(staleSql, startup, () => (staleSql = undefined)); // failed open: no catalog replicated yet
    },
    /** The replica is at most about one election timeout behind: this node leads, or heard from the leader that recently. */
    fresh: (): boolean => {
      const st = node.status();
      if (st.serving) return true;
      if (st.leader === NONE || st.leader === node.id) return false;
      const since = node.ticksSinceHeard(st.leader);
      return since !== undefined && since <= o.electionTicks;
    },
    served: () => counters.staleReads.inc(),
  };
  const provider: SessionProvider = {
    createSession: (startup) =>
      ClusterSession.open(
        {
          node,
          local: localSession,
          addressOf: (mid) => readMembers(node.engine).get(mid)?.sqlAddress,
          tickMs: o.tickMs,
          electionTicks: o.electionTicks,
          stale,
          retried: () => counters.retries.inc(),
        },
        startup,
      ),
  };

  const counters = {
    staleReads: new Counter({
      name: 'nextdb_cluster_stale_reads_total',
      help: 'Statements served from this replica under read_consistency = stale',
      registers: [],
    }),
    retries: new Counter({
      name: 'nextdb_cluster_statement_retries_total',
      help: 'Implicit statements retried by this node after a 40001',
      registers: [],
    }),
  };
  const cluster = new ClusterControl(node, transport, dialed, o, id);
  const server = new NextDbServer({
    ...o.server,
    provider,
    engine: node.engine,
    logger: o.logger,
    host: o.host,
    port: o.pgPort,
    routes: cluster.routes(),
    trustedAddress: (address) => cluster.isMemberHost(address),
    clusterStatus: () => cluster.view(false),
  });
  registerClusterMetrics(server, node);
  server.metrics.registry.registerMetric(counters.staleReads);
  server.metrics.registry.registerMetric(counters.retries);
  let bound: number;
  try {
    bound = await server.start();
  } catch (e) {
    clearInterval(ticker);
    await node.close();
    await transport.close();
    throw e;
  }
  cluster.sqlAddress = addressOf(o.host, bound);
  const refresher = setInterval(() => cluster.refresh(), MEMBER_REFRESH_MS);
  cluster.refresh();

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(refresher);
    clearInterval(ticker);
    await server.stop();
    if (sql !== undefined) await (await sql.catch(() => undefined))?.close();
    if (staleSql !== undefined) await (await staleSql.catch(() => undefined))?.close();
    await node.close();
    await transport.close();
    await local.close();
  };
  return {
    node,
    server,
    id,
    close,
    stop: async () => {
      await cluster.handOff();
      await close();
    },
  };
}

// ───────────────────────── membership control ─────────────────────────

interface JoinRequest {
  readonly nodeId?: NodeId;
  readonly raftAddress: string;
  readonly sqlAddress: string;
}

interface JoinAnswer {
  readonly nodeId: NodeId;
  readonly members: readonly MemberRecord[];
}

/**
 * A session of a lazily opened SQL engine: `forget` drops a failed open so the next call retries;
 * a database created on another node since this engine read its catalog (3D000) is found after a refresh.
 */
async function sessionOf(opening: Promise<SqlEngine>, startup: StartupInfo, forget: () => void): Promise<Session> {
  let engine: SqlEngine;
  try {
    engine = await opening;
  } catch (e) {
    forget();
    throw e;
  }
  try {
    return engine.createSession(startup);
  } catch (err) {
    if (!(err instanceof NextDbError) || err.code !== '3D000') throw err;
    await engine.refresh();
    return engine.createSession(startup);
  }
}

class ClusterControl {
  sqlAddress = '';
  private registering = false;
  /** Since when this node has known no leader (ms), and whether a membership check is running. */
  private leaderlessSinceMs: number | undefined;
  private checkingRemoval = false;
  private removed = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly transport: RaftTransport,
    private readonly dialed: Map<NodeId, string>,
    private readonly o: ClusterServerOptions,
    private readonly id: NodeId,
  ) {}

  routes(): ReadonlyMap<string, HttpRoute> {
    return new Map<string, HttpRoute>([
      ['/api/cluster', async (req) => ({ status: 200, body: await this.view(req.query.get('local') === '1') })],
      ['/api/cluster/join', (req) => this.guard(req.method, () => this.join(req.body))],
      ['/api/cluster/remove', (req) => this.guard(req.method, () => this.remove(req.body))],
    ]);
  }

  /** True when `address` (an IP) is the host of a registered member: its forwarded sessions are trusted. */
  isMemberHost(address: string): boolean {
    for (const m of readMembers(this.node.engine).values()) {
      if (m.id === this.id) continue;
      const host = parseHostPort(m.sqlAddress, 'member').host;
      if (host === address) return true;
    }
    return false;
  }

  /** Dials members at their registered addresses; re-registers this node when its own entry is missing or stale. */
  refresh(): void {
    if (this.node.isDead) return;
    this.checkRemoved();
    const members = readMembers(this.node.engine);
    for (const m of members.values()) {
      // Addresses given with --peers are how this node reaches those members (they may be proxies): they win.
      if (m.id === this.id || this.dialed.get(m.id) === m.raftAddress || this.o.peers?.has(m.id) === true) continue;
      try {
        this.transport.setPeer(m.id, parseHostPort(m.raftAddress, `member ${m.id}`));
        this.dialed.set(m.id, m.raftAddress);
      } catch {
        // A malformed record is ignored; its member re-registers.
      }
    }
    const mine = members.get(this.id);
    const raftAddress = addressOf(this.o.host, this.o.raftPort);
    if (this.sqlAddress === '' || (mine?.raftAddress === raftAddress && mine.sqlAddress === this.sqlAddress)) return;
    if (this.registering || !this.configured().includes(this.id)) return;
    this.registering = true;
    const req: JoinRequest = { nodeId: this.id, raftAddress, sqlAddress: this.sqlAddress };
    const done = (): void => {
      this.registering = false;
    };
    if (this.node.status().serving) void this.join(req).then(done, done);
    else {
      const leader = this.leaderAddress();
      if (leader === undefined) done();
      else void postJson(leader, '/api/cluster/join', req, 2000).then(done, done);
    }
  }

  /**
   * A removed node usually never learns of its removal (the entry that
   * removes it commits without it), so it only sees that no leader talks to
   * it. After a few election timeouts without a leader it asks the members
   * it knows; when one of them knows a leader and its membership lacks this
   * node, the node was removed: onRemoved (the CLI stops the process).
   */
  private checkRemoved(): void {
    const now = Date.now();
    if (this.node.status().leader !== NONE) {
      this.leaderlessSinceMs = undefined;
      return;
    }
    this.leaderlessSinceMs ??= now;
    if (this.removed || this.checkingRemoval || now - this.leaderlessSinceMs < this.o.tickMs * this.o.electionTicks * 4)
      return;
    this.checkingRemoval = true;
    const others = [...readMembers(this.node.engine).values()].filter((m) => m.id !== this.id);
    void (async () => {
      for (const m of others) {
        try {
          const r = await fetch(`http://${m.sqlAddress}/api/cluster?local=1`, { signal: AbortSignal.timeout(1000) });
          const v = (await r.json()) as ClusterView;
          if (v.leaderId !== null && v.leaderId === v.nodeId && !v.members.some((x) => x.id === this.id)) {
            this.removed = true;
            this.o.logger.warn(
              { nodeId: this.id, leaderId: v.leaderId },
              `node ${this.id} is no longer a member of the cluster (removed)`,
            );
            this.o.onRemoved?.();
            return;
          }
        } catch {
          // unreachable member: ask the next one
        }
      }
    })().finally(() => {
      this.checkingRemoval = false;
      this.leaderlessSinceMs = Date.now();
    });
  }

  /**
   * Clean shutdown of a leader: hand leadership to the most caught-up voter and wait until it leads
   * (at most HANDOFF_WAIT_MS or two election timeouts, whichever is longer: a loaded target may need
   * the time to catch up before the transfer's TimeoutNow goes out).
   */
  async handOff(): Promise<void> {
    const st = this.node.raft.status();
    if (st.role !== 'leader') return;
    const candidates = st.conf.voters.filter((v) => v !== this.id);
    if (candidates.length === 0) return;
    const best = candidates.reduce((a, b) =>
      (st.progress.get(b)?.match ?? 0) > (st.progress.get(a)?.match ?? 0) ? b : a,
    );
    try {
      this.node.transferLeadership(best);
    } catch {
      return; // best effort: the peers elect a leader anyway
    }
    const deadline = Date.now() + Math.max(HANDOFF_WAIT_MS, this.o.tickMs * this.o.electionTicks * 2);
    while (Date.now() < deadline && this.node.status().role === 'leader') {
      await sleep(this.o.tickMs);
      // Raft abandons a transfer after one election timeout; ask again (a no-op while one is running).
      try {
        if (this.node.status().role === 'leader') this.node.transferLeadership(best);
      } catch {
        return;
      }
    }
  }

  // ───────── handlers ─────────

  private async guard(method: string, fn: () => Promise<unknown>): Promise<HttpReply> {
    if (method !== 'POST') return { status: 405, body: { error: 'use POST' } };
    try {
      return { status: 200, body: await fn() };
    } catch (e) {
      if (
        e instanceof NotLeaderError ||
        (e instanceof NextDbError && e.code === SqlState.serializationFailure && !this.node.status().serving)
      ) {
        const leaderId = this.node.status().leader;
        return {
          status: 421,
          body: {
            error: e.message,
            leaderId: leaderId === NONE ? null : leaderId,
            leaderAddress: this.leaderAddress() ?? null,
          },
        };
      }
      if (e instanceof RetryLater) return { status: 503, body: { error: e.message } };
      if (e instanceof NextDbError && e.code === SqlState.invalidParameterValue)
        return { status: 400, body: { error: e.message } };
      return { status: 500, body: { error: e instanceof Error ? e.message : String(e) } };
    }
  }

  private requireServing(): void {
    const st = this.node.status();
    if (!st.serving) {
      if (st.role === 'leader') throw new RetryLater(`node ${this.id} just became the leader; retry shortly`);
      throw new NotLeaderError(this.node.group, this.id, st.leader);
    }
  }

  /** Leader: records the member's addresses and adds it as a learner (idempotent). */
  private async join(body: unknown): Promise<JoinAnswer> {
    const req = parseJoin(body);
    this.requireServing();
    const engine = this.node.engine;
    const members = readMembers(engine);
    let id = req.nodeId;
    if (id === undefined) {
      // A joiner that asks again (it crashed before saving its id, or the answer was lost) gets the same id back.
      id =
        [...members.values()].find((m) => m.raftAddress === req.raftAddress)?.id ??
        nextMemberId(engine, this.configured());
    }
    // The leader's own record goes in first if it is missing: the joiner must be able to answer the
    // leader before it has replicated anything (else it never catches up).
    const self = { id: this.id, raftAddress: addressOf(this.o.host, this.o.raftPort), sqlAddress: this.sqlAddress };
    const mine = members.get(this.id);
    let wrote = false;
    if (
      id !== this.id &&
      this.sqlAddress !== '' &&
      (mine === undefined || mine.raftAddress !== self.raftAddress || mine.sqlAddress !== self.sqlAddress)
    ) {
      engine.write(memberBatch(self, nextMemberId(engine, this.configured())));
      wrote = true;
    }
    const old = members.get(id);
    if (old === undefined || old.raftAddress !== req.raftAddress || old.sqlAddress !== req.sqlAddress) {
      engine.write(
        memberBatch(
          { id, raftAddress: req.raftAddress, sqlAddress: req.sqlAddress },
          nextMemberId(engine, this.configured()),
        ),
      );
      wrote = true;
    }
    if (wrote) await engine.sync();
    if (id !== this.id && this.o.peers?.has(id) !== true) {
      this.transport.setPeer(id, parseHostPort(req.raftAddress, 'raftAddress'));
      this.dialed.set(id, req.raftAddress);
    }
    const joinId = id;
    if (!this.configured().includes(joinId))
      await this.confChange(
        () => this.node.addNode(joinId),
        () => this.configured().includes(joinId),
      );
    const conf = new Set([...this.configured(), joinId]);
    return { nodeId: joinId, members: [...readMembers(engine).values()].filter((m) => conf.has(m.id)) };
  }

  /** Leader: removes a member (a leader asked to remove itself first hands leadership away). */
  private async remove(body: unknown): Promise<{ removed: NodeId }> {
    const o = (typeof body === 'object' && body !== null ? body : {}) as { nodeId?: unknown };
    const id = o.nodeId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1)
      throw new NextDbError(SqlState.invalidParameterValue, 'nodeId must be a positive integer');
    this.requireServing();
    if (!this.configured().includes(id))
      throw new NextDbError(SqlState.invalidParameterValue, `node ${id} is not a member`);
    const voters = this.node.raft.status().conf.voters;
    if (voters.length === 1 && voters[0] === id)
      throw new NextDbError(
        SqlState.invalidParameterValue,
        `node ${id} is the last voter; a cluster cannot remove its last voter`,
      );
    if (id === this.id) {
      await this.handOff();
      throw new RetryLater(`node ${id} leads; it handed leadership away, ask again`);
    }
    await this.confChange(
      () => this.node.removeNode(id),
      () => !this.configured().includes(id),
    );
    return { removed: id };
  }

  /** Proposes a conf change (retrying while another is pending), then waits until `done()`. */
  private async confChange(propose: () => void, done: () => boolean): Promise<void> {
    const deadline = Date.now() + CONF_CHANGE_RETRY_MS;
    for (;;) {
      try {
        propose();
        break;
      } catch (e) {
        if (!(e instanceof RaftBusyError) || Date.now() > deadline) throw e;
        await sleep(this.o.tickMs);
      }
    }
    while (!done()) {
      if (Date.now() > deadline) throw new RetryLater('the membership change did not commit in time; ask again');
      this.requireServing();
      await sleep(this.o.tickMs);
    }
  }

  // ───────── views ─────────

  private configured(): NodeId[] {
    const c = this.node.raft.status().conf;
    return [...c.voters, ...c.learners];
  }

  private leaderAddress(): string | undefined {
    const leader = this.node.status().leader;
    if (leader === NONE) return undefined;
    if (leader === this.id) return this.sqlAddress;
    return readMembers(this.node.engine).get(leader)?.sqlAddress;
  }

  /**
   * GET /api/cluster. The leader knows every member's progress; a follower
   * asks the leader for that part (unless `localOnly`) and puts in its own
   * figures, falling back to what it knows itself.
   */
  async view(localOnly: boolean): Promise<ClusterView> {
    const st = this.node.status();
    const rs = this.node.raft.status();
    const members = readMembers(this.node.engine);
    const learners = new Set(rs.conf.learners);
    const leaderId = st.leader === NONE ? null : st.leader;
    const healthyTicks = this.o.electionTicks;
    const self = (): ClusterMemberView => ({
      id: this.id,
      address: this.sqlAddress,
      role: learners.has(this.id) ? 'learner' : st.role,
      voter: rs.conf.voters.includes(this.id),
      applied: st.applied,
      healthy: true,
    });
    if (!localOnly && st.role !== 'leader' && leaderId !== null) {
      const addr = this.leaderAddress();
      if (addr !== undefined) {
        try {
          const r = await fetch(`http://${addr}/api/cluster?local=1`, { signal: AbortSignal.timeout(500) });
          const v = (await r.json()) as ClusterView;
          if (v.leaderId === leaderId)
            return {
              nodeId: this.id,
              leaderId,
              term: st.term,
              members: v.members.map((m) => (m.id === this.id ? self() : m)),
            };
        } catch {
          // fall back to local knowledge
        }
      }
    }
    const out: ClusterMemberView[] = [];
    for (const mid of [...rs.conf.voters, ...rs.conf.learners].sort((a, b) => a - b)) {
      if (mid === this.id) {
        out.push(self());
        continue;
      }
      const since = this.node.ticksSinceHeard(mid);
      const heard = since !== undefined && since <= healthyTicks;
      const role: ClusterMemberView['role'] = mid === leaderId ? 'leader' : learners.has(mid) ? 'learner' : 'follower';
      out.push({
        id: mid,
        address: members.get(mid)?.sqlAddress ?? null,
        role,
        voter: !learners.has(mid),
        // A leader knows how far each log matches and hears from every member; a
        // follower hears only from the leader and knows nothing of its peers: unknown.
        applied: st.role === 'leader' ? (rs.progress.get(mid)?.match ?? 0) : null,
        healthy: st.role === 'leader' || mid === leaderId ? heard : null,
      });
    }
    return { nodeId: this.id, leaderId, term: st.term, members: out };
  }
}

class RetryLater extends Error {}

function parseJoin(body: unknown): JoinRequest {
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { nodeId, raftAddress, sqlAddress } = o;
  if (nodeId !== undefined && (typeof nodeId !== 'number' || !Number.isInteger(nodeId) || nodeId < 1))
    throw new NextDbError(SqlState.invalidParameterValue, 'nodeId must be a positive integer');
  if (typeof raftAddress !== 'string' || typeof sqlAddress !== 'string')
    throw new NextDbError(SqlState.invalidParameterValue, 'raftAddress and sqlAddress (host:port) are required');
  parseHostPort(raftAddress, 'raftAddress');
  parseHostPort(sqlAddress, 'sqlAddress');
  return { ...(nodeId === undefined ? {} : { nodeId: nodeId as number }), raftAddress, sqlAddress };
}

// ───────────────────────── HTTP helpers (also used by the CLI) ─────────────────────────

async function postJson(
  address: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`http://${address}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  let parsed: unknown;
  try {
    parsed = await r.json();
  } catch {
    parsed = {};
  }
  return { status: r.status, body: parsed };
}

/**
 * POSTs to the leader: tries `addresses` in turn, follows 421 answers to the
 * leader they name, and retries 503 answers and unreachable nodes until
 * `timeoutMs` passes. Resolves with the leader's 200 answer; rejects with
 * the last error otherwise (a 400 at once: asking again would not help).
 */
export async function postToLeader(
  addresses: readonly string[],
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no member answered';
  let queue = [...addresses];
  for (;;) {
    const addr = queue.shift();
    if (addr === undefined) {
      if (Date.now() > deadline) throw new Error(`${path}: ${last}`);
      await sleep(200);
      queue = [...addresses];
      continue;
    }
    try {
      const r = await postJson(addr, path, body, 15_000);
      const b = (r.body ?? {}) as { error?: string; leaderAddress?: string | null };
      if (r.status === 200) return r.body;
      last = `${addr} answered ${r.status}: ${b.error ?? ''}`;
      if (r.status === 400 || r.status === 404 || r.status === 405) throw new FinalError(last);
      if (r.status === 421 && typeof b.leaderAddress === 'string' && b.leaderAddress !== addr)
        queue.unshift(b.leaderAddress);
      else if (r.status === 503 || r.status === 421) await sleep(100);
    } catch (e) {
      if (e instanceof FinalError) throw new Error(`${path}: ${e.message}`);
      last = `${addr}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}

class FinalError extends Error {}

async function requestJoin(addresses: readonly string[], req: JoinRequest, timeoutMs: number): Promise<JoinAnswer> {
  for (const a of addresses) parseHostPort(a, '--join');
  const answer = (await postToLeader(addresses, '/api/cluster/join', req, timeoutMs)) as Partial<JoinAnswer>;
  if (typeof answer.nodeId !== 'number' || !Array.isArray(answer.members))
    throw new Error('join: malformed answer from the leader');
  return { nodeId: answer.nodeId, members: answer.members };
}

async function readNodeFile(path: string): Promise<NodeFile> {
  const o = JSON.parse(await readFile(path, 'utf8')) as Partial<NodeFile>;
  if (typeof o.nodeId !== 'number' || (o.bootstrap !== null && !Array.isArray(o.bootstrap)))
    throw new NextDbError(SqlState.dataCorrupted, `${path} is not a valid cluster node file`);
  return { nodeId: o.nodeId, bootstrap: o.bootstrap ?? null };
}

async function writeNodeFile(path: string, f: NodeFile): Promise<void> {
  await writeFile(path + '.tmp', JSON.stringify(f) + '\n');
  await rename(path + '.tmp', path);
}

/** True when `dir` already holds a cluster node (so `nextdb server --data dir` resumes it). */
export function isClusterDir(dir: string): boolean {
  return existsSync(join(dir, NODE_FILE));
}

// ───────────────────────── metrics and digests ─────────────────────────

/**
 * Cluster figures on the server's /metrics (read at scrape time), which
 * `nextdb cluster status` reads from every node:
 *
 *   nextdb_cluster_node                   gauge {id, group}        1
 *   nextdb_cluster_role{role}             gauge                    1 for the current role
 *   nextdb_cluster_term / _leader / _commit_index / _applied_index / _last_index / _serving
 *   nextdb_cluster_snapshot_index         gauge                    the log starts after it (0: never compacted)
 *   nextdb_cluster_snapshots_taken / _snapshots_installed
 *                                         gauge                    since the process started: log compactions /
 *                                                                  InstallSnapshots received from a leader
 *   nextdb_cluster_peer_match_index{peer} gauge (leader only)      how far each peer's log matches
 */
function registerClusterMetrics(server: NextDbServer, node: ClusterNode): void {
  const registers = [server.metrics.registry];
  const status = (): ReturnType<ClusterNode['status']> => node.status();
  new Gauge({
    name: 'nextdb_cluster_node',
    help: 'This node: id and Raft group (value 1)',
    labelNames: ['id', 'group'],
    registers,
    collect() {
      this.reset();
      this.set({ id: String(node.id), group: String(node.group) }, 1);
    },
  });
  new Gauge({
    name: 'nextdb_cluster_role',
    help: 'Raft role of this node (1 for the current role)',
    labelNames: ['role'],
    registers,
    collect() {
      this.reset();
      this.set({ role: status().role }, 1);
    },
  });
  const simple: [string, string, (s: ReturnType<ClusterNode['status']>) => number][] = [
    ['nextdb_cluster_term', 'Raft term', (s) => s.term],
    ['nextdb_cluster_leader', 'Leader node id known to this node (0: none)', (s) => s.leader],
    ['nextdb_cluster_commit_index', 'Raft commit index', (s) => s.commit],
    ['nextdb_cluster_applied_index', 'Index applied to the state machine', (s) => s.applied],
    ['nextdb_cluster_last_index', 'Last Raft log index', (s) => s.lastIndex],
    ['nextdb_cluster_serving', '1 when this node leads and serves transactions', (s) => (s.serving ? 1 : 0)],
    [
      'nextdb_cluster_snapshot_index',
      'Index of the latest state-machine snapshot; the Raft log starts after it (0: never compacted)',
      (s) => s.snapshotIndex,
    ],
    [
      'nextdb_cluster_snapshots_taken',
      'Snapshots of the state machine taken by this process (log compactions)',
      (s) => s.snapshotsTaken,
    ],
    [
      'nextdb_cluster_snapshots_installed',
      'Snapshots received from a leader (InstallSnapshot) and installed by this process',
      (s) => s.snapshotsInstalled,
    ],
  ];
  for (const [name, help, read] of simple) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(status()));
      },
    });
  }
  new Gauge({
    name: 'nextdb_cluster_peer_match_index',
    help: 'Leader only: last log index known to match on each peer',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      for (const [peer, p] of node.raft.status().progress) this.set({ peer: String(peer) }, p.match);
    },
  });
}

/** SHA-256 over the replicated keyspace of this replica's applied state. */
export function replicaDigest(node: ClusterNode): { applied: number; digest: string } {
  const snap = node.staleSnapshot();
  const applied = node.status().applied;
  const h = createHash('sha256');
  try {
    for (const [k, v] of snap.scan()) {
      const len = Buffer.allocUnsafe(8);
      len.writeUInt32BE(k.length, 0);
      len.writeUInt32BE(v.length, 4);
      h.update(len).update(k).update(v);
    }
  } finally {
    snap.release();
  }
  return { applied, digest: h.digest('hex') };
}

/** Parses `--peers 1=host:port,2=host:port,...`. */
export function parsePeers(spec: string): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const id = Number(part.slice(0, eq));
    if (eq < 1 || !Number.isInteger(id) || id < 1)
      throw new NextDbError(
        SqlState.invalidParameterValue,
        `--peers: bad entry ${JSON.stringify(part)} (want id=host:port)`,
      );
    peers.set(id, parseHostPort(part.slice(eq + 1), '--peers'));
  }
  return peers;
}

/**
 * A replicated NextDB node as a process: the LSM engine in a data
 * directory, the Raft TCP transport on its own port (the documented second
 * port), a ClusterNode (src/kv) driven by a real-time ticker, and the SQL
 * engine served over the PostgreSQL protocol.
 *
 *   node --import tsx src/server/cluster-server.ts --id 1 --dir D \
 *     --raft-port 19200 --pg-port 19210 --peers 1=127.0.0.1:19200,2=...,3=...
 *
 * Cluster state is exported on the node's /metrics (nextdb_cluster_*).
 *
 * `--peers` lists every member (self included); they are the voters of a
 * new group, bootstrapped identically by every member on first start. Prints
 * "ready <id>" once both ports listen. SIGUSR2 prints
 * "digest <id> <applied index> <sha256 of the replicated keyspace>", which
 * tests compare across replicas. SIGTERM/SIGINT: hand leadership to a peer
 * if leading, stop, exit 0.
 *
 * SQL runs on the leader: a connection to another node is refused at
 * startup with NotLeaderError (40001, "leader is node X"); forwarding comes
 * later. The SQL engine opens the first time this node leads and then stays
 * open across terms (its transactions begin through ClusterTxnManager, which
 * follows the current term).
 *
 * This is the first process-level wiring of the cluster core; `nextdb server
 * --join` (membership changes) and `nextdb cluster status` build on it (see
 * docs/internals/cluster.md).
 */

import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { Gauge } from 'prom-client';
import { ClusterNode } from '../kv/cluster-node.ts';
import { ClusterTxnManager } from '../kv/cluster-txn-manager.ts';
import { NotLeaderError } from '../raft/errors.ts';
import type { NodeId } from '../raft/types.ts';
import { openLsmEngine } from '../storage/lsm/index.ts';
import { SqlEngine } from '../sql/index.ts';
import { systemClock } from '../util/clock.ts';
import { NextDbError } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import { NextDbServer } from './pg-server.ts';
import { RaftTransport, type PeerAddress } from './raft-transport.ts';
import type { SessionProvider } from './server-types.ts';

export interface ClusterServerOptions {
  readonly id: NodeId;
  readonly dir: string;
  readonly host: string;
  readonly raftPort: number;
  readonly pgPort: number;
  /** Every member, self included, with its Raft address. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly tickMs: number;
  readonly electionTicks: number;
}

export interface RunningClusterServer {
  readonly node: ClusterNode;
  stop(): Promise<void>;
}

export async function startClusterServer(o: ClusterServerOptions): Promise<RunningClusterServer> {
  await mkdir(o.dir, { recursive: true });
  const local = await openLsmEngine({ dir: o.dir });
  const ref: { node?: ClusterNode } = {};
  const others = new Map([...o.peers].filter(([id]) => id !== o.id));
  const transport = await RaftTransport.listen({
    nodeId: o.id,
    host: o.host,
    port: o.raftPort,
    peers: others,
    onMessage: (m) => ref.node?.step(m),
  });
  const node = await ClusterNode.open({
    id: o.id,
    local,
    prng: new Prng((o.id * 2654435761 + Date.now()) >>> 0),
    clock: systemClock,
    send: (m) => transport.send(m),
    bootstrap: [...o.peers.keys()].sort((a, b) => a - b),
    raft: { electionTicks: o.electionTicks, heartbeatTicks: 1 },
    schedule: setImmediate,
    onFatal: (e) => {
      process.stderr.write(`node ${o.id}: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  });
  ref.node = node;
  const ticker = setInterval(() => node.tick(), o.tickMs);

  let sql: Promise<SqlEngine> | undefined;
  const provider: SessionProvider = {
    createSession: async (startup) => {
      const st = node.status();
      if (!st.serving) throw new NotLeaderError(node.group, node.id, st.leader === node.id ? 0 : st.leader);
      sql ??= SqlEngine.open({ engine: node.engine, txnManager: new ClusterTxnManager(node) });
      let engine: SqlEngine;
      try {
        engine = await sql;
      } catch (e) {
        sql = undefined; // lost leadership while bootstrapping the catalog: the next session retries
        throw e;
      }
      try {
        return engine.createSession(startup);
      } catch (err) {
        if (!(err instanceof NextDbError) || err.code !== '3D000') throw err;
        await engine.refresh();
        return engine.createSession(startup);
      }
    },
  };
  const server = new NextDbServer({
    provider,
    engine: node.engine,
    logger: pino({ level: 'warn' }, pino.destination(2)),
    host: o.host,
    port: o.pgPort,
    auth: { local: 'trust', remote: 'trust' },
    engineDescription: `cluster node ${o.id}, lsm ${o.dir}`,
  });
  registerClusterMetrics(server, node);
  await server.start();

  return {
    node,
    stop: async () => {
      clearInterval(ticker);
      await server.stop();
      if (sql !== undefined) await (await sql.catch(() => undefined))?.close();
      await node.close();
      await transport.close();
      await local.close();
    },
  };
}

/**
 * Cluster figures on the server's /metrics (read at scrape time), which
 * `nextdb cluster status` reads from every node:
 *
 *   nextdb_cluster_node                   gauge {id, group}        1
 *   nextdb_cluster_role{role}             gauge                    1 for the current role
 *   nextdb_cluster_term / _leader / _commit_index / _applied_index / _last_index / _serving
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

function parseArgs(argv: readonly string[]): ClusterServerOptions {
  const get = (name: string, def?: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : def;
    if (v === undefined) throw new Error(`missing --${name}`);
    return v;
  };
  const peers = new Map<NodeId, PeerAddress>();
  for (const spec of get('peers').split(',')) {
    const [id, addr] = spec.split('=');
    const [host, port] = (addr ?? '').split(':');
    if (id === undefined || port === undefined) throw new Error(`bad peer ${spec} (want id=host:port)`);
    peers.set(Number(id), { host: host ?? '127.0.0.1', port: Number(port) });
  }
  return {
    id: Number(get('id')),
    dir: get('dir'),
    host: get('host', '127.0.0.1'),
    raftPort: Number(get('raft-port')),
    pgPort: Number(get('pg-port')),
    peers,
    tickMs: Number(get('tick-ms', '50')),
    electionTicks: Number(get('election-ticks', '10')),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = parseArgs(process.argv.slice(2));
  const running = await startClusterServer(o);
  process.stdout.write(`ready ${o.id}\n`);
  process.on('SIGUSR2', () => {
    const d = replicaDigest(running.node);
    process.stdout.write(`digest ${o.id} ${d.applied} ${d.digest}\n`);
  });
  const shutdown = (): void => {
    const st = running.node.status();
    if (st.role === 'leader') {
      const peer = [...o.peers.keys()].find((p) => p !== o.id);
      if (peer !== undefined) {
        try {
          running.node.transferLeadership(peer);
        } catch {
          // best effort: the peers elect a leader anyway
        }
      }
    }
    setTimeout(() => {
      running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }, o.tickMs * 4);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * Helpers for tests and benchmarks that run replicated nodes as real
 * processes (`nextdb server --peers ...`, run from source through
 * test/server/run-cli.ts): spawn one and wait until it is ready,
 * find the leader (the only node that accepts SQL), compare the
 * replicas' digests (SIGUSR2) once they applied the same index, read a
 * node's stale-read count, and stop them all.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';

const root = join(import.meta.dirname, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ClusterProc {
  readonly id: number;
  readonly child: ChildProcess;
  /** Everything the process printed on stdout since the last reset. */
  out: string;
}

export interface ClusterProcOptions {
  readonly id: number;
  readonly dir: string;
  readonly raftPort: number;
  readonly pgPort: number;
  /** `id=host:port,...` for every member, self included. */
  readonly peers: string;
  readonly tickMs: number;
  readonly electionTicks: number;
}

/** Spawns one static-membership node (`--peers`); resolves once it logged that it is ready. */
export function spawnClusterNode(o: ClusterProcOptions): Promise<ClusterProc> {
  return spawnServer(o.id, [
    String(o.pgPort),
    '--data',
    o.dir,
    '--node-id',
    String(o.id),
    '--raft-port',
    String(o.raftPort),
    '--peers',
    o.peers,
    '--tick-ms',
    String(o.tickMs),
    '--election-ticks',
    String(o.electionTicks),
  ]);
}

/**
 * Spawns nodes `ids` of one static-membership cluster in parallel (peers:
 * each other on `raftPort(id)`). Each process is pushed to `procs` as soon
 * as it is up, so the caller's finally block stops it even if another one
 * fails to start; the first failure is thrown once all have settled.
 */
export async function spawnCluster(
  o: {
    readonly ids: readonly number[];
    readonly dir: string;
    readonly pgPort: (id: number) => number;
    readonly raftPort: (id: number) => number;
    readonly tickMs: number;
    readonly electionTicks: number;
  },
  procs: ClusterProc[],
): Promise<void> {
  const peers = o.ids.map((id) => `${id}=127.0.0.1:${o.raftPort(id)}`).join(',');
  const started = await Promise.allSettled(
    o.ids.map(async (id) => {
      const p = await spawnClusterNode({
        id,
        dir: join(o.dir, `n${id}`),
        raftPort: o.raftPort(id),
        pgPort: o.pgPort(id),
        peers,
        tickMs: o.tickMs,
        electionTicks: o.electionTicks,
      });
      procs.push(p);
    }),
  );
  for (const r of started) if (r.status === 'rejected') throw r.reason;
}

/**
 * Spawns `nextdb server ARGS...` (cluster mode) and resolves once it logged
 * "cluster node <id> ready"; `id` undefined accepts any id (a joining node
 * learns its id from the cluster) and fills it in.
 */
export function spawnServer(id: number | undefined, args: readonly string[]): Promise<ClusterProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/server/run-cli.ts'), 'server', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const p: { id: number; child: ChildProcess; out: string } = { id: id ?? 0, child, out: '' };
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      p.out += c.toString();
      const m = /cluster node (\d+) ready/.exec(p.out);
      if (m !== null && (id === undefined || Number(m[1]) === id)) {
        p.id = Number(m[1]);
        resolve(p);
      }
    });
    child.once('exit', (code) => reject(new Error(`node ${id ?? '(joining)'} exited with ${code} before ready`)));
  });
}

/** The node's count of reads served by its own replica (nextdb_cluster_stale_reads_total on /metrics). */
export async function staleCount(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nextdb_cluster_stale_reads_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Kills every process (SIGKILL) and waits until each has exited, so its data directory can be removed. */
export async function stopProcs(procs: Iterable<ClusterProc>): Promise<void> {
  const exits: Promise<unknown>[] = [];
  for (const { child } of procs) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    exits.push(new Promise((r) => child.once('exit', r)));
    child.kill('SIGKILL');
  }
  await Promise.all(exits);
}

/** Polls `fn` every 100 ms until it returns a value; fails after `ms` with the last error seen. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await sleep(100);
  }
}

/**
 * Asks every node for its digest until all report the same applied index
 * (for about `attempts` half-seconds); returns that index and whether the digests
 * are equal, or undefined if they never reached one index.
 */
export async function sameIndexDigests(
  procs: Iterable<ClusterProc>,
  attempts = 40,
): Promise<{ applied: number; equal: boolean } | undefined> {
  const all = [...procs];
  // A time budget (half a second per attempt), so a cluster that never settles fails here, not by the test's timeout.
  const deadline = Date.now() + attempts * 500;
  while (Date.now() < deadline) {
    for (const p of all) p.out = '';
    for (const p of all) p.child.kill('SIGUSR2');
    // Every node answers with one digest line; a loaded node may take a while (up to 3 s).
    const digests = (): (RegExpExecArray | null)[] =>
      all.map((p) => new RegExp(`digest ${p.id} (\\d+) ([0-9a-f]+)`).exec(p.out));
    let d = digests();
    for (let waited = 0; waited < 3000 && Date.now() < deadline && d.some((m) => m === null); waited += 50) {
      await sleep(50);
      d = digests();
    }
    if (d.some((m) => m === null)) continue;
    const first = d[0]!;
    if (d.every((m) => m![1] === first[1]))
      return { applied: Number(first[1]), equal: d.every((m) => m![2] === first[2]) };
    await sleep(200); // still applying: ask again
  }
  return undefined;
}

/**
 * Connects to the leader: asks the nodes' GET /api/cluster (on `ports`) who
 * leads and where, and connects there (any node accepts SQL and forwards
 * it, but the process tests and the benchmark want the leader itself).
 * Retries until `deadlineMs` passes. The caller owns the returned client.
 */
export async function connectLeader(
  ports: readonly number[],
  deadlineMs: number,
): Promise<{ client: pg.Client; port: number }> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    for (const port of ports) {
      let leaderPort: number | undefined;
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/cluster?local=1`, { signal: AbortSignal.timeout(500) });
        const v = (await r.json()) as {
          nodeId: number;
          leaderId: number | null;
          members: { id: number; address: string | null; role: string }[];
        };
        const m = v.members.find((x) => x.id === v.leaderId && x.id === v.nodeId && x.role === 'leader');
        if (m !== undefined && m.address !== null) leaderPort = Number(m.address.split(':').at(-1));
      } catch {
        continue;
      }
      if (leaderPort === undefined || !ports.includes(leaderPort)) continue;
      const client = new pg.Client({
        host: '127.0.0.1',
        port: leaderPort,
        user: 'postgres',
        database: 'postgres',
        connectionTimeoutMillis: 500,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return { client, port: leaderPort };
      } catch {
        await client.end().catch(() => undefined);
      }
    }
    if (Date.now() > end) throw new Error('no cluster node accepted a SQL connection as the leader');
    await sleep(50);
  }
}

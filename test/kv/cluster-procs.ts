/**
 * Helpers for tests and benchmarks that run replicated nodes as real
 * processes (src/server/cluster-server.ts): spawn one and wait for "ready",
 * find the leader (the only node that accepts SQL), and compare the
 * replicas' digests (SIGUSR2) once they applied the same index.
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

/** Spawns one node; resolves once it printed "ready <id>". */
export function spawnClusterNode(o: ClusterProcOptions): Promise<ClusterProc> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/server/cluster-server.ts'),
      '--id',
      String(o.id),
      '--dir',
      o.dir,
      '--raft-port',
      String(o.raftPort),
      '--pg-port',
      String(o.pgPort),
      '--peers',
      o.peers,
      '--tick-ms',
      String(o.tickMs),
      '--election-ticks',
      String(o.electionTicks),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const p: ClusterProc = { id: o.id, child, out: '' };
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      p.out += c.toString();
      if (p.out.includes(`ready ${o.id}`)) resolve(p);
    });
    child.once('exit', (code) => reject(new Error(`node ${o.id} exited with ${code} before ready`)));
  });
}

/**
 * Asks every node for its digest until all report the same applied index
 * (at most `attempts` times); returns that index and whether the digests
 * are equal, or undefined if they never reached one index.
 */
export async function sameIndexDigests(
  procs: Iterable<ClusterProc>,
  attempts = 40,
): Promise<{ applied: number; equal: boolean } | undefined> {
  const all = [...procs];
  for (let i = 0; i < attempts; i++) {
    for (const p of all) p.out = '';
    for (const p of all) p.child.kill('SIGUSR2');
    await sleep(250);
    const d = all.map((p) => new RegExp(`digest ${p.id} (\\d+) ([0-9a-f]+)`).exec(p.out));
    if (d.some((m) => m === null)) continue;
    const first = d[0]!;
    if (d.every((m) => m![1] === first[1]))
      return { applied: Number(first[1]), equal: d.every((m) => m![2] === first[2]) };
  }
  return undefined;
}

/**
 * Connects to whichever node accepts SQL (the leader; the others refuse at
 * startup), trying `ports` in turn until `deadlineMs` passes. The caller
 * owns the returned client.
 */
export async function connectLeader(ports: readonly number[], deadlineMs: number): Promise<{ client: pg.Client; port: number }> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    for (const port of ports) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 500 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return { client, port };
      } catch {
        await client.end().catch(() => undefined);
      }
    }
    if (Date.now() > end) throw new Error('no cluster node accepted a SQL connection');
    await sleep(50);
  }
}

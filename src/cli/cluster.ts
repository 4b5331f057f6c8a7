/**
 * `nextdb cluster ...`: conveniences around replicated nodes
 * (`nextdb server` in cluster mode, src/server/cluster-server.ts).
 *
 * - `start --nodes N [--port P] [--data DIR]` runs N local nodes as child
 *   `nextdb server` processes: node 1 starts a new cluster (`--cluster`),
 *   the others join it (`--join 127.0.0.1:P`), one after the other. Node i
 *   serves SQL/HTTP on P+i-1 and Raft on P+10+i-1, with its data in
 *   DIR/node<i>; a second start with the same DIR resumes the same
 *   cluster. It prints how to connect and stops them all on Ctrl-C
 *   (SIGTERM to each, which hands leadership away first).
 * - `status [host:port,...]` reads nextdb_cluster_* from every node's
 *   /metrics and prints members, roles, terms, indexes and lag.
 * - `remove NODE [--nodes host:port,...]` asks the leader (found through
 *   any listed node) to remove member NODE from the Raft configuration.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { postToLeader } from '../server/cluster-server.ts';

export interface ClusterStartOptions {
  readonly nodes?: string;
  readonly port?: string;
  readonly data?: string;
}

/** How to run `nextdb` again: the script this process was started with (bin/nextdb.js, or run-cli.ts from source). */
function nextdbCommand(): string[] {
  return [...process.execArgv, process.argv[1]!];
}

export async function runClusterStart(opts: ClusterStartOptions): Promise<void> {
  const n = Number(opts.nodes ?? '3');
  const base = Number(opts.port ?? '8080');
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error('--nodes must be between 1 and 9');
  if (!Number.isInteger(base) || base < 1 || base + 10 + n > 65535)
    throw new Error('--port must leave room for P..P+N-1 and P+10..P+10+N-1');
  const dir = resolve(opts.data ?? 'nextdb-cluster');
  await mkdir(dir, { recursive: true });
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children.values()) c.kill('SIGTERM');
    let left = children.size;
    if (left === 0) process.exit(code);
    for (const c of children.values()) {
      c.once('exit', () => {
        if (--left === 0) process.exit(code);
      });
    }
    setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL');
      process.exit(code);
    }, 5000).unref();
  };
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
  const startNode = (id: number): Promise<void> =>
    new Promise<void>((ready, fail) => {
      const args = [
        ...nextdbCommand(),
        'server',
        String(base + id - 1),
        '--data',
        join(dir, `node${id}`),
        '--raft-port',
        String(base + 10 + id - 1),
        '--node-id',
        String(id),
        ...(id === 1 ? ['--cluster'] : ['--join', `127.0.0.1:${base}`]),
      ];
      // The nodes' logs (stdout) are read here for the ready line and not shown; errors go to stderr.
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      children.set(id, child);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes(`cluster node ${id} ready`)) ready();
      });
      child.once('exit', (code) => {
        if (!stopping) {
          process.stderr.write(`nextdb cluster: node ${id} exited (code ${code}); stopping the others\n`);
          fail(new Error(`node ${id} exited`));
          stopAll(1);
        }
      });
    });
  // Node 1 first (it founds the cluster, or resumes it); the others join it one at a time
  // (membership changes are one at a time anyway).
  for (const id of ids) await startNode(id);
  const addrs = ids.map((id) => `127.0.0.1:${base + id - 1}`);
  process.stdout.write(
    `NextDB cluster of ${n} node${n > 1 ? 's' : ''} running, data in ${dir}\n` +
      ids
        .map((id) => `  node ${id}: SQL/HTTP 127.0.0.1:${base + id - 1}, Raft 127.0.0.1:${base + 10 + id - 1}\n`)
        .join('') +
      `Connect to any node:\n` +
      `  psql -h 127.0.0.1 -p ${base} -U postgres postgres\n` +
      `Status: nextdb cluster status ${addrs.join(',')}  (or GET http://${addrs[0]}/api/cluster)\n` +
      `Ctrl-C stops every node.\n`,
  );
}

interface NodeFigures {
  readonly address: string;
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly serving: boolean;
}

/** Parses the nextdb_cluster_* lines of a Prometheus text exposition. */
export function parseClusterMetrics(address: string, text: string): NodeFigures | undefined {
  let id = 0;
  let role = '';
  const num = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('nextdb_cluster_')) continue;
    const m = /^(nextdb_cluster_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m === null) continue;
    const [, name, labels = '', value] = m;
    if (name === 'nextdb_cluster_node') id = Number(/id="(\d+)"/.exec(labels)?.[1] ?? 0);
    else if (name === 'nextdb_cluster_role' && Number(value) === 1) role = /role="([^"]+)"/.exec(labels)?.[1] ?? '';
    else if (labels === '') num.set(name!, Number(value));
  }
  if (id === 0) return undefined;
  return {
    address,
    id,
    role,
    term: num.get('nextdb_cluster_term') ?? 0,
    leader: num.get('nextdb_cluster_leader') ?? 0,
    commit: num.get('nextdb_cluster_commit_index') ?? 0,
    applied: num.get('nextdb_cluster_applied_index') ?? 0,
    serving: num.get('nextdb_cluster_serving') === 1,
  };
}

export async function runClusterStatus(nodes: string): Promise<void> {
  const addresses = nodes
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const figures = await Promise.all(
    addresses.map(async (a) => {
      try {
        const r = await fetch(`http://${a}/metrics`, { signal: AbortSignal.timeout(2000) });
        return parseClusterMetrics(a, await r.text());
      } catch {
        return undefined;
      }
    }),
  );
  const leader = figures.find((f) => f?.serving === true) ?? figures.find((f) => f?.role === 'leader');
  const header = ['node', 'address', 'role', 'term', 'leader', 'commit', 'applied', 'lag'];
  const rows = addresses.map((a, i) => {
    const f = figures[i];
    if (f === undefined) return ['?', a, 'unreachable', '', '', '', '', ''];
    const lag = leader === undefined ? '' : String(Math.max(0, leader.commit - f.applied));
    return [
      String(f.id),
      a,
      f.serving ? 'leader (serving)' : f.role,
      String(f.term),
      f.leader === 0 ? '-' : String(f.leader),
      String(f.commit),
      String(f.applied),
      lag,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: readonly string[]): string =>
    r
      .map((x, c) => x.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  process.stdout.write([fmt(header), ...rows.map(fmt)].join('\n') + '\n');
  if (leader === undefined) process.stdout.write('no leader reachable\n');
}

/** `nextdb cluster remove NODE`: asks the leader, through any of `nodes`, to remove member NODE. */
export async function runClusterRemove(node: string, nodes: string): Promise<void> {
  const id = Number(node);
  if (!Number.isInteger(id) || id < 1)
    throw new Error(`node must be a positive integer id, got ${JSON.stringify(node)}`);
  const addresses = nodes
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  await postToLeader(addresses, '/api/cluster/remove', { nodeId: id }, 30_000);
  process.stdout.write(`node ${id} removed from the cluster; stop its process (its data directory can be deleted)\n`);
}

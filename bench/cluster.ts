// Cluster benchmark: pgbench against a 3-node replicated NextDB cluster
// (`nextdb server --peers`, LSM on disk) — on the leader — and against a
// single `nextdb server --data` node, same machine, same run; then
// select-only through a follower (forwarded to the leader, and with
// nextdb.read_consistency = 'stale' served by the follower's replica, with
// the simple and with the extended protocol); then the failover time after
// kill -9 of the leader.
//   bench <workload> cluster=<tps> single=<tps> ratio=<cluster/single>
//   bench select-only-c8 via-follower=<tps> stale-follower=<tps> leader-simple=<tps>
//   bench select-only-c8-prepared stale-follower=<tps> leader=<tps> ratio=<stale/leader>
//   failover writes-again-after=<ms>
// Ports 16460-16462 (SQL) and 16470-16472 (Raft).
// Usage: npm run bench:cluster -- [--quick] [--scale N] [--seconds S]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { connectLeader, spawnClusterNode, stopProcs, type ClusterProc } from '../test/kv/cluster-procs.ts';
import { startServerProcess } from '../test/server/server-process.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const scale = flag('--scale', 1);
const seconds = flag('--seconds', quick ? 2 : 15);
const ids = [1, 2, 3];
const sqlPort = (id: number): number => 16459 + id;
const raftPort = (id: number): number => 16469 + id;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pgbench(port: number, extra: readonly string[], env: Record<string, string> = {}): Promise<number> {
  const { stdout } = await run(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-n', '-T', String(seconds), ...extra, 'postgres'],
    {
      maxBuffer: 64 << 20,
      env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env },
    },
  );
  return Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN);
}

/**
 * pgbench's tables (-I dtp: drop, create, primary keys), then the rows in
 * statements of ROWS_PER_STATEMENT: one `pgbench -i -I G` statement inserts
 * 100 000 rows per scale unit in one go, and a statement that long keeps a
 * node's event loop (and with it its Raft heartbeats) busy past the election
 * timeout — see docs/internals/cluster.md, "Known problems".
 */
const ROWS_PER_STATEMENT = 2000;

async function init(port: number): Promise<void> {
  await run(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-i', '-I', 'dtp', '-s', String(scale), 'postgres'],
    { maxBuffer: 64 << 20 },
  );
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    await c.query(`INSERT INTO pgbench_branches (bid, bbalance) SELECT b, 0 FROM generate_series(1, ${scale}) AS b`);
    await c.query(
      `INSERT INTO pgbench_tellers (tid, bid, tbalance) SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, ${10 * scale}) AS t`,
    );
    for (let from = 1; from <= 100_000 * scale; from += ROWS_PER_STATEMENT) {
      const to = Math.min(from + ROWS_PER_STATEMENT - 1, 100_000 * scale);
      await c.query(
        `INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT a, (a - 1) / 100000 + 1, 0, '' FROM generate_series(${from}, ${to}) AS a`,
      );
    }
  } finally {
    await c.end();
  }
}

async function leaderPort(deadlineMs: number): Promise<number> {
  const { client, port } = await connectLeader(ids.map(sqlPort), deadlineMs);
  await client.end();
  return port;
}

const workloads: readonly { name: string; args: readonly string[] }[] = [
  { name: 'select-only-c8', args: ['-S', '-M', 'prepared', '-c', '8', '-j', '2'] },
  { name: 'tpcb-c8', args: ['-M', 'prepared', '-c', '8', '-j', '2', '--max-tries', '10'] },
];

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 2) : 'n/a');

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-cluster-bench-'));
  const peers = ids.map((id) => `${id}=127.0.0.1:${raftPort(id)}`).join(',');
  const procs = new Map<number, ClusterProc>();
  // Generous timeouts: a long statement blocks a node's event loop, and with
  // it its heartbeats (see docs/internals/cluster.md, "Known problems").
  const start = async (id: number): Promise<void> => {
    procs.set(
      id,
      await spawnClusterNode({
        id,
        dir: join(dir, `n${id}`),
        raftPort: raftPort(id),
        pgPort: sqlPort(id),
        peers,
        tickMs: 100,
        electionTicks: 30,
      }),
    );
  };
  // The single node and the cluster start, and load their data, at the same time: the
  // loads were most of a --quick run's wall time when done one after the other.
  const [singleStart, ...nodeStarts] = await Promise.allSettled([
    startServerProcess(['0', '--data', join(dir, 'single')]),
    ...ids.map(start),
  ]);
  const single = singleStart.status === 'fulfilled' ? singleStart.value : undefined;
  try {
    if (single === undefined) throw (singleStart as PromiseRejectedResult).reason;
    for (const s of nodeStarts) if (s.status === 'rejected') throw s.reason;
    const leader = await leaderPort(20_000);
    await Promise.all([init(single.port), init(leader)]);
    for (const w of workloads) {
      const c = await pgbench(leader, w.args);
      const s = await pgbench(single.port, w.args);
      console.log(`bench ${w.name} cluster=${fmt(c)} single=${fmt(s)} ratio=${(c / s).toFixed(2)}`);
    }
    // Through a follower: forwarded (extended protocol, linearizable), and stale
    // reads served by the follower itself (simple protocol; PGOPTIONS sets the
    // session's read consistency), with the leader's simple-protocol figure beside them.
    const follower = ids.map(sqlPort).find((p) => p !== leader)!;
    const selectOnly = workloads[0]!.args;
    const viaFollower = await pgbench(follower, selectOnly);
    const simple = ['-S', '-M', 'simple', '-c', '8', '-j', '2'];
    const staleFollower = await pgbench(follower, simple, { PGOPTIONS: '-c nextdb.read_consistency=stale' });
    const leaderSimple = await pgbench(leader, simple);
    console.log(
      `bench select-only-c8 via-follower=${fmt(viaFollower)} stale-follower=${fmt(staleFollower)} leader-simple=${fmt(leaderSimple)}`,
    );
    // Stale reads with the extended protocol (-M prepared) on the follower, beside the leader's own
    // prepared select-only figure (the first workload's, measured again here, next to it in time).
    const stalePrepared = await pgbench(follower, selectOnly, { PGOPTIONS: '-c nextdb.read_consistency=stale' });
    const leaderPrepared = await pgbench(leader, selectOnly);
    console.log(
      `bench select-only-c8-prepared stale-follower=${fmt(stalePrepared)} leader=${fmt(leaderPrepared)} ratio=${(stalePrepared / leaderPrepared).toFixed(2)}`,
    );
    // Failover: kill -9 the leader, time until an UPDATE succeeds on the new one.
    const victim = ids.find((id) => sqlPort(id) === leader)!;
    procs.get(victim)!.child.kill('SIGKILL');
    const killedAt = Date.now();
    for (;;) {
      const port = await leaderPort(30_000).catch(() => undefined);
      if (port !== undefined) {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
        c.on('error', () => undefined);
        try {
          await c.connect();
          await c.query('UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1');
          await c.end();
          break;
        } catch {
          await c.end().catch(() => undefined);
        }
      }
      if (Date.now() - killedAt > 30_000) throw new Error('no write succeeded within 30 s of the kill');
      await sleep(20);
    }
    console.log(`failover writes-again-after=${Date.now() - killedAt}ms`);
    return 0;
  } finally {
    await stopProcs(procs.values());
    await single?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());

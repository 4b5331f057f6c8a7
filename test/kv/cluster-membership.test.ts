// Real processes, `nextdb server` in cluster mode on ports 16300-16302
// (SQL/HTTP) and 16310-16312 (Raft):
// - node 1 founds a cluster (--cluster); node 2 joins through node 1, node
//   3 through node 2 (a follower, which names the leader); ids are assigned
//   by the cluster; GET /api/cluster on every node lists three voters with
//   their SQL addresses and one leader;
// - SQL on a follower (forwarded to the leader): DDL, INSERT, extended
//   protocol, a transaction block;
// - SET nextdb.read_consistency = 'stale' on a follower: reads served from its
//   replica (nextdb_cluster_stale_reads_total grows), a write still reaches
//   the leader, RESET goes back to linearizable reads;
// - kill -9 of the leader while a client on a follower keeps inserting over
//   the same connection: every insert succeeds or fails with 40001/40003, the
//   connection keeps working after the failover, an open block fails with
//   40001 and ROLLBACK ends it; every acknowledged row is there;
// - the killed node restarts from its directory alone (no --join) and
//   catches up: all replicas report one digest;
// - `nextdb cluster remove` of a follower leaves two members, and the
//   removed node stops by itself; the admin page shows the cluster;
// - SIGTERM of the leader hands leadership to the other voter first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sameIndexDigests, spawnServer, type ClusterProc, waitFor, stopProcs } from './cluster-procs.ts';

const root = join(import.meta.dirname, '..', '..');
const sqlPort = (i: number): number => 16299 + i;
const raftPort = (i: number): number => 16309 + i;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface View {
  nodeId: number;
  leaderId: number | null;
  term: number;
  members: {
    id: number;
    address: string | null;
    role: string;
    voter: boolean;
    applied: number | null;
    healthy: boolean | null;
  }[];
}

async function view(port: number): Promise<View> {
  const r = await fetch(`http://127.0.0.1:${port}/api/cluster`, { signal: AbortSignal.timeout(3000) });
  return (await r.json()) as View;
}

test(
  'cluster membership: --cluster, --join, /api/cluster, SQL on any node, failover through a follower, restart, remove',
  { timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-h5-join-'));
    const procs = new Map<number, ClusterProc>(); // by slot 1..3 (the port block)
    const timing = ['--tick-ms', '30', '--election-ticks', '10'];
    const start = async (slot: number, extra: string[]): Promise<ClusterProc> => {
      const p = await spawnServer(undefined, [
        String(sqlPort(slot)),
        '--data',
        join(dir, `n${slot}`),
        '--raft-port',
        String(raftPort(slot)),
        ...timing,
        ...extra,
      ]);
      procs.set(slot, p);
      return p;
    };
    const clients: pg.Client[] = [];
    const connect = async (port: number): Promise<pg.Client> => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    };
    try {
      const n1 = await start(1, ['--cluster']);
      assert.equal(n1.id, 1);
      const n2 = await start(2, ['--join', `127.0.0.1:${sqlPort(1)}`]);
      assert.equal(n2.id, 2, 'ids are assigned in order');
      const n3 = await start(3, ['--join', `127.0.0.1:${sqlPort(2)}`]); // through a follower
      assert.equal(n3.id, 3);

      // Every node answers /api/cluster with the same three voters and one leader.
      for (const slot of [1, 2, 3]) {
        const v = await waitFor(`three voters seen by node ${slot}`, async () => {
          const v = await view(sqlPort(slot));
          // applied is null for peers a follower knows nothing of (it could not reach the leader this time).
          return v.members.length === 3 &&
            v.members.every((m) => m.voter && m.address !== null && m.applied !== null) &&
            v.leaderId !== null
            ? v
            : undefined;
        });
        assert.equal(v.nodeId, slot);
        assert.deepEqual(
          v.members.map((m) => [m.id, m.address]),
          [1, 2, 3].map((i) => [i, `127.0.0.1:${sqlPort(i)}`]),
        );
        assert.equal(v.members.filter((m) => m.role === 'leader').length, 1);
        assert.equal(v.members.find((m) => m.role === 'leader')!.id, v.leaderId);
        assert.equal(typeof v.term, 'number');
        for (const m of v.members) assert.equal(typeof m.applied, 'number');
      }
      const v0 = await view(sqlPort(1));
      const leader = v0.leaderId!;
      const followers = [1, 2, 3].filter((i) => i !== leader);

      // SQL on a follower.
      const f = await connect(sqlPort(followers[0]!));
      await f.query('CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)');
      await f.query('INSERT INTO acct VALUES ($1, $2), ($3, $4)', [1, 10, 2, 20]);
      await f.query('BEGIN');
      await f.query('UPDATE acct SET v = v + 1 WHERE id = 1');
      await f.query('COMMIT');
      const named = { name: 'get', text: 'SELECT v FROM acct WHERE id = $1' };
      assert.equal((await f.query({ ...named, values: [1] })).rows[0].v, 11);
      assert.equal((await f.query({ ...named, values: [2] })).rows[0].v, 20);
      await assert.rejects(f.query('INSERT INTO acct VALUES (1, 0)'), (e: { code?: string }) => e.code === '23505');
      // An error in the extended protocol (the leader skips to Sync), then the connection goes on.
      await assert.rejects(
        f.query('SELECT v / $1 FROM acct WHERE id = 1', [0]),
        (e: { code?: string }) => e.code === '22012',
      );
      await assert.rejects(
        f.query({ name: 'nope', text: 'SELECT * FROM missing_table WHERE x = $1', values: [1] }),
        (e: { code?: string }) => e.code === '42P01',
      );
      assert.equal((await f.query({ ...named, values: [2] })).rows[0].v, 20);
      // COPY TO STDOUT through the follower (simple protocol).
      const copied = await f.query('COPY (SELECT id, v FROM acct ORDER BY id) TO STDOUT');
      assert.equal(copied.command, 'COPY');

      // Stale reads on a follower: served from its replica (counted in /metrics), writes still go to the leader.
      const staleCount = async (port: number): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return Number(/^nextdb_cluster_stale_reads_total (\d+)/m.exec(text)?.[1] ?? 0);
      };
      const sPort = sqlPort(followers[1]!);
      const s = await connect(sPort);
      assert.equal((await s.query('SHOW nextdb.read_consistency')).rows[0]['nextdb.read_consistency'], 'linearizable');
      await s.query("SET nextdb.read_consistency = 'stale'");
      assert.equal((await s.query('SHOW nextdb.read_consistency')).rows[0]['nextdb.read_consistency'], 'stale');
      await assert.rejects(
        s.query("SET nextdb.read_consistency = 'sometimes'"),
        (e: { code?: string }) => e.code === '22023',
      );
      const served0 = await staleCount(sPort);
      const staleRows = await waitFor('the follower replica to show both rows', async () => {
        const r = await s.query('SELECT id, v FROM acct ORDER BY id');
        return r.rows.length === 2 ? r.rows : undefined;
      });
      assert.deepEqual(staleRows, [
        { id: 1, v: 11 },
        { id: 2, v: 20 },
      ]);
      assert.ok((await staleCount(sPort)) > served0, 'the read was served from the replica');
      await s.query('INSERT INTO acct VALUES (3, 30)'); // a write under stale: runs on the leader
      await waitFor('the stale reader to see its own write', async () =>
        (await s.query('SELECT v FROM acct WHERE id = 3')).rows.length === 1 ? true : undefined,
      );
      // The setting can come with the connection (PGOPTIONS / the options startup parameter).
      const o = new pg.Client({
        host: '127.0.0.1',
        port: sPort,
        user: 'postgres',
        database: 'postgres',
        options: '-c nextdb.read_consistency=stale',
      });
      o.on('error', () => undefined);
      await o.connect();
      clients.push(o);
      assert.equal((await o.query('SHOW nextdb.read_consistency')).rows[0]['nextdb.read_consistency'], 'stale');
      await s.query('RESET nextdb.read_consistency');
      const before = await staleCount(sPort);
      await s.query('SELECT count(*) FROM acct');
      assert.equal(await staleCount(sPort), before, 'linearizable reads are not served from the replica');

      // Failover seen through a follower's connection (the follower that survives).
      await f.query('CREATE TABLE w (k int PRIMARY KEY)');
      await f.query('SET extra_float_digits = 2'); // carried over when the connection's target changes
      const g = await connect(sqlPort(followers[1]!));
      await g.query('BEGIN');
      await g.query('INSERT INTO acct VALUES (100, 0)');
      const acked: number[] = [];
      const codes = new Map<string, number>();
      let stop = false;
      let next = 0;
      const writer = (async () => {
        while (!stop) {
          const k = next++;
          try {
            await f.query('INSERT INTO w VALUES ($1)', [k]);
            acked.push(k);
          } catch (e) {
            const code = (e as { code?: string }).code ?? String(e);
            codes.set(code, (codes.get(code) ?? 0) + 1);
            await sleep(20);
          }
        }
      })();
      await sleep(500);
      const beforeKill = acked.length;
      procs.get(leader)!.child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor(
        'writes after the failover',
        async () => (acked.length > beforeKill + 20 ? true : undefined),
        30_000,
      );
      console.log(
        `failover through follower ${followers[0]}: ${acked.length - beforeKill} inserts after kill -9 of leader ${leader}; first writes again within ${Date.now() - killedAt} ms; errors ${JSON.stringify([...codes])}`,
      );
      stop = true;
      await writer;
      assert.equal(
        (await f.query('SHOW extra_float_digits')).rows[0].extra_float_digits,
        '2',
        'SET survives the switch to the new leader',
      );
      for (const code of codes.keys())
        assert.ok(code === '40001' || code === '40003', `only retryable / unknown-outcome errors, got ${code}`);
      // The block that was open on the dead leader fails with 40001; ROLLBACK ends it.
      await assert.rejects(g.query('INSERT INTO acct VALUES (101, 0)'), (e: { code?: string }) => e.code === '40001');
      await g.query('ROLLBACK');
      assert.equal((await g.query('SELECT count(*)::int AS n FROM acct WHERE id >= 100')).rows[0].n, 0);
      const rows = new Set((await g.query('SELECT k FROM w')).rows.map((r: { k: number }) => r.k));
      for (const k of acked) assert.ok(rows.has(k), `acknowledged row ${k} present`);

      // The killed node restarts from its directory alone and catches up.
      procs.delete(leader);
      await start(leader, []);
      const same = await sameIndexDigests(procs.values(), 60);
      assert.ok(same !== undefined, 'replicas reached one applied index');
      assert.ok(same.equal, 'replicas identical');

      // Remove a follower through the CLI.
      const newLeader = (await view(sqlPort(followers[0]!))).leaderId!;
      const victim = [1, 2, 3].find((i) => i !== newLeader)!;
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'test/server/run-cli.ts'),
          'cluster',
          'remove',
          String(victim),
          '--nodes',
          `127.0.0.1:${sqlPort(victim)}`,
        ],
        { cwd: root, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      const after = await view(sqlPort(newLeader));
      assert.deepEqual(
        after.members.map((m) => m.id).sort(),
        [1, 2, 3].filter((i) => i !== victim),
      );
      // The removed node notices (its former peers' leader no longer lists it) and stops by itself.
      const victimProc = procs.get(victim)!;
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        new Promise<number | null>((resolve) =>
          victimProc.child.exitCode !== null
            ? resolve(victimProc.child.exitCode)
            : victimProc.child.once('exit', resolve),
        ),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), 20_000))),
      ]);
      clearTimeout(timer);
      assert.equal(code, 0, 'the removed node exits cleanly');
      procs.delete(victim);
      // The admin page shows the cluster.
      const page = await (await fetch(`http://127.0.0.1:${sqlPort(newLeader)}/`)).text();
      assert.match(page, /Cluster \(term \d+, leader \d+\)/);

      // A clean shutdown (SIGTERM) of the leader hands leadership over first: of the two voters left,
      // the survivor could not win an election alone, so it leads only through the transfer.
      const survivor = [1, 2, 3].find((i) => i !== victim && i !== newLeader)!;
      await waitFor('two voters in step', async () => {
        const v = await view(sqlPort(newLeader));
        return v.members.length === 2 && v.members.every((m) => m.voter && m.healthy) ? true : undefined;
      });
      const termBefore = (await view(sqlPort(survivor))).term;
      const leaderProc = procs.get(newLeader)!;
      const exited = new Promise<number | null>((resolve) => leaderProc.child.once('exit', resolve));
      leaderProc.child.kill('SIGTERM');
      assert.equal(await exited, 0);
      procs.delete(newLeader);
      // Alone, the survivor's pre-votes fail, so its term can only have grown by the transfer's election
      // (it may already have stepped down again for lack of a quorum).
      const local = (await (await fetch(`http://127.0.0.1:${sqlPort(survivor)}/api/cluster?local=1`)).json()) as View;
      assert.ok(
        local.term > termBefore,
        `leadership was handed to the survivor on shutdown (term ${termBefore} -> ${local.term})`,
      );
    } finally {
      for (const c of clients) await c.end().catch(() => undefined);
      await stopProcs(procs.values());
      await rm(dir, { recursive: true, force: true });
    }
  },
);

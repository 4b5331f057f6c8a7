// Stale reads through the extended protocol (src/server/cluster-session.ts),
// with three real `nextdb server --peers` processes on loopback: SQL on
// ports 16400-16402, Raft on 16410-16412. A client (node-postgres) on a
// follower, under SET nextdb.read_consistency = 'stale':
// - unnamed parameterized SELECTs and named prepared statements are served
//   by the follower's replica (nextdb_cluster_stale_reads_total grows), with
//   the right rows;
// - a named statement prepared while stale, then used after RESET, runs on
//   the leader (the counter stays) with the right rows, and again on the
//   replica after SET 'stale'; one prepared while linearizable is served by
//   the replica after SET 'stale';
// - INSERT/UPDATE with parameters (unnamed and named, the named one twice)
//   still go to the leader: the leader's connection sees the rows; an
//   UPDATE/DELETE of a row the leader just inserted (which the replica may
//   not have yet) affects it, with both protocols;
// - statements inside a block opened by the simple or by the extended
//   protocol are not served by the replica; an error (22012) leaves the
//   connection working;
// - a SET search_path before (and after) the stale session opened applies
//   to stale reads too;
// - pgbench -M prepared (a point-SELECT script) through the follower under
//   'stale' (when pgbench is installed) completes without errors and is
//   served by the replica.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectLeader, spawnCluster, type ClusterProc, waitFor, stopProcs, staleCount } from './cluster-procs.ts';

const ids = [1, 2, 3];
const pgPort = (id: number): number => 16399 + id;
const raftPort = (id: number): number => 16409 + id;

test(
  'cluster: stale reads through the extended protocol (prepared and parameterized), writes still on the leader',
  { timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-h5-stale-ext-'));
    const procs: ClusterProc[] = [];
    const clients: pg.Client[] = [];
    try {
      // Each process is remembered as soon as it is up, so the finally block stops it even if another fails to start.
      await spawnCluster({ ids, dir, pgPort, raftPort, tickMs: 30, electionTicks: 10 }, procs);
      const { client: leader, port: leaderPort } = await connectLeader(ids.map(pgPort), 20_000);
      clients.push(leader);
      await leader.query('CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)');
      await leader.query('INSERT INTO acct VALUES (1, 10), (2, 20)');
      await leader.query('CREATE SCHEMA other');
      await leader.query('CREATE TABLE other.acct (id int PRIMARY KEY, v int NOT NULL)');
      await leader.query('INSERT INTO other.acct VALUES (1, 1000)');
      const fPort = ids.map(pgPort).find((p) => p !== leaderPort)!;
      const s = new pg.Client({ host: '127.0.0.1', port: fPort, user: 'postgres', database: 'postgres' });
      s.on('error', () => undefined);
      await s.connect();
      clients.push(s);
      const get = { name: 'get', text: 'SELECT v FROM acct WHERE id = $1' };
      const v = async (q: { name?: string; text: string }, id: number): Promise<number | undefined> => {
        const r = await s.query<{ v: number }>({ ...q, values: [id] });
        return r.rows[0]?.v;
      };

      // Linearizable (the default): prepared statements are not served by the replica.
      const c0 = await staleCount(fPort);
      assert.equal(await v(get, 1), 10);
      assert.equal(await staleCount(fPort), c0, 'a linearizable prepared read is not served by the replica');

      await s.query("SET nextdb.read_consistency = 'stale'");
      // Wait until the follower's replica has the rows (it may lag a heartbeat).
      await waitFor('the replica to have both rows', async () =>
        (await s.query('SELECT count(*)::int AS n FROM acct')).rows[0].n === 2 ? true : undefined,
      );

      // An unnamed parameterized SELECT (Parse/Bind/Describe/Execute/Sync) is served by the replica.
      let before = await staleCount(fPort);
      assert.equal(await v({ text: 'SELECT v FROM acct WHERE id = $1' }, 2), 20);
      assert.equal(await staleCount(fPort), before + 1, 'an unnamed extended-protocol read is served by the replica');

      // A statement prepared while linearizable ('get') is served by the replica now.
      before = await staleCount(fPort);
      assert.equal(await v(get, 2), 20);
      assert.equal(await v(get, 1), 10);
      assert.equal(
        await staleCount(fPort),
        before + 2,
        'a statement prepared before SET stale is served by the replica',
      );

      // A statement first used while stale, then after RESET (leader), then stale again.
      const get2 = { name: 'get2', text: 'SELECT v, id FROM acct WHERE id = $1' };
      before = await staleCount(fPort);
      assert.equal(await v(get2, 1), 10);
      assert.equal(await staleCount(fPort), before + 1);
      await s.query('RESET nextdb.read_consistency');
      await leader.query('UPDATE acct SET v = 11 WHERE id = 1');
      before = await staleCount(fPort);
      assert.equal(await v(get2, 1), 11, 'after RESET the prepared statement reads linearizably (the new value)');
      assert.equal(await v(get2, 2), 20);
      assert.equal(await staleCount(fPort), before, 'after RESET the prepared statement runs on the leader');
      await s.query("SET nextdb.read_consistency = 'stale'");
      before = await staleCount(fPort);
      await waitFor('the replica to show the update', async () => ((await v(get2, 1)) === 11 ? true : undefined));
      assert.ok((await staleCount(fPort)) > before, 'stale again: served by the replica');

      // Writes with parameters under 'stale' go to the leader (unnamed and named; the named one twice).
      await s.query('INSERT INTO acct VALUES ($1, $2)', [3, 30]);
      const bump = { name: 'bump', text: 'UPDATE acct SET v = v + $2 WHERE id = $1' };
      const r1 = await s.query({ ...bump, values: [3, 1] });
      assert.equal(r1.rowCount, 1);
      const r2 = await s.query({ ...bump, values: [3, 1] });
      assert.equal(r2.rowCount, 1);
      const onLeader = await leader.query<{ v: number }>('SELECT v FROM acct WHERE id = 3');
      assert.deepEqual(
        onLeader.rows.map((r) => r.v),
        [32],
        'the leader has the row written and updated twice through the extended protocol',
      );
      // A write that would match nothing on a lagging replica still reaches the leader (it is never judged by
      // the replica: an UPDATE of a row the replica has not applied yet must update it), in both protocols.
      for (let k = 10; k < 15; k++) {
        await leader.query('INSERT INTO acct VALUES ($1, 0)', [k]);
        assert.equal((await s.query({ ...bump, values: [k, 1] })).rowCount, 1, 'extended UPDATE of a fresh row');
        assert.equal((await s.query(`UPDATE acct SET v = v + 1 WHERE id = ${k}`)).rowCount, 1, 'simple UPDATE');
        assert.equal((await s.query('DELETE FROM acct WHERE id = $1', [k])).rowCount, 1, 'extended DELETE');
      }
      // INSERT ... RETURNING with parameters: a write that returns rows.
      const ret = await s.query<{ id: number }>('INSERT INTO acct VALUES ($1, $2) RETURNING id', [4, 40]);
      assert.deepEqual(
        ret.rows.map((r) => r.id),
        [4],
      );
      assert.equal((await leader.query('SELECT v FROM acct WHERE id = 4')).rows[0].v, 40);
      await waitFor('the replica to show the writes', async () => ((await v(get, 3)) === 32 ? true : undefined));

      // Inside blocks (opened by the simple or the extended protocol) nothing is served by the replica.
      await s.query('BEGIN');
      before = await staleCount(fPort);
      assert.equal(await v(get, 3), 32);
      assert.equal(await v({ text: 'SELECT v FROM acct WHERE id = $1' }, 4), 40);
      assert.equal(await staleCount(fPort), before, 'no stale reads inside a block');
      await s.query('COMMIT');
      await s.query({ name: 'begin', text: 'BEGIN' });
      before = await staleCount(fPort);
      assert.equal(await v(get, 1), 11);
      await s.query({ name: 'ins', text: 'INSERT INTO acct VALUES ($1, $2)', values: [5, 50] });
      assert.equal(await v(get, 5), 50, 'the block reads its own write');
      assert.equal(await staleCount(fPort), before, 'no stale reads inside a block opened by the extended protocol');
      await s.query({ name: 'commit', text: 'COMMIT' });
      assert.equal((await leader.query('SELECT v FROM acct WHERE id = 5')).rows[0].v, 50);

      // An error on the replica ends that statement only.
      await assert.rejects(
        s.query('SELECT v / $1 FROM acct WHERE id = 1', [0]),
        (e: { code?: string }) => e.code === '22012',
      );
      assert.equal(await v(get, 1), 11);

      // The session's settings apply to stale reads: search_path set now (the stale session is open) ...
      await s.query('SET search_path = other, public');
      before = await staleCount(fPort);
      assert.equal(await v({ text: 'SELECT v FROM acct WHERE id = $1' }, 1), 1000, 'search_path reaches the replica');
      assert.equal((await s.query('SELECT v FROM acct WHERE id = 1')).rows[0].v, 1000);
      assert.equal(await staleCount(fPort), before + 2);
      // ... and set before the stale session opened (a new connection).
      const o = new pg.Client({ host: '127.0.0.1', port: fPort, user: 'postgres', database: 'postgres' });
      o.on('error', () => undefined);
      await o.connect();
      clients.push(o);
      await o.query('SET search_path = other, public');
      await o.query("SET nextdb.read_consistency = 'stale'");
      before = await staleCount(fPort);
      assert.equal((await o.query('SELECT v FROM acct WHERE id = $1', [1])).rows[0].v, 1000);
      assert.equal(await staleCount(fPort), before + 1);

      // pgbench -M prepared (a point SELECT script) through the follower under 'stale'.
      if (spawnSync('pgbench', ['--version']).status === 0) {
        const script = join(dir, 'select.sql');
        await writeFile(script, '\\set id random(1, 4)\nSELECT v FROM public.acct WHERE id = :id;\n');
        before = await staleCount(fPort);
        const run = spawnSync(
          'pgbench',
          ['-n', '-M', 'prepared', '-f', script, '-c', '2', '-t', '200', '-h', '127.0.0.1', '-p', String(fPort)],
          {
            env: {
              ...process.env,
              PGUSER: 'postgres',
              PGDATABASE: 'postgres',
              PGOPTIONS: '-c nextdb.read_consistency=stale',
            },
            encoding: 'utf8',
          },
        );
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /number of transactions actually processed: 400\/400/);
        assert.ok((await staleCount(fPort)) - before >= 400, 'pgbench -M prepared was served by the replica');
      }
    } finally {
      for (const c of clients) await c.end().catch(() => undefined);
      await stopProcs(procs);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

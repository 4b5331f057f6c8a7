// Stale reads and functions that write (src/server/cluster-session.ts, with
// the SQL layer's read-only check in src/sql/exec/modify.ts and session.ts):
// three real `nextdb server --peers` processes on loopback, SQL on ports
// 16480-16482, Raft on 16483-16485. A client on a follower, under
// SET nextdb.read_consistency = 'stale':
// - a SELECT calling a PL/pgSQL function that UPDATEs (simple and extended
//   protocol, also when the row does not exist anywhere or is not on the
//   replica yet) is refused by the replica's read-only transaction (25006
//   before anything ran) and runs on the leader: its write is visible
//   afterwards, and the replica's stale-read counter does not move;
// - so does one whose EXCEPTION WHEN OTHERS handler catches that 25006
//   (the stale session counts refused writes: Session.writesRefused);
// - a SELECT of a LANGUAGE sql function calling nextval() likewise;
// - a pure SELECT (also of a function that only reads) is still served by
//   the replica.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectLeader, spawnCluster, type ClusterProc, waitFor, stopProcs, staleCount } from './cluster-procs.ts';

const ids = [1, 2, 3];
const pgPort = (id: number): number => 16479 + id;
const raftPort = (id: number): number => 16482 + id;

test(
  'cluster: a stale SELECT of a function that writes runs on the leader; pure reads stay on the replica',
  {
    timeout: 180_000,
  },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-h5-stale-fn-'));
    const procs: ClusterProc[] = [];
    const clients: pg.Client[] = [];
    try {
      await spawnCluster({ ids, dir, pgPort, raftPort, tickMs: 30, electionTicks: 10 }, procs);
      const { client: leader, port: leaderPort } = await connectLeader(ids.map(pgPort), 20_000);
      clients.push(leader);
      await leader.query('CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)');
      await leader.query('INSERT INTO acct VALUES (1, 10), (2, 20)');
      await leader.query('CREATE SEQUENCE ids');
      await leader.query(
        'CREATE FUNCTION bump(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE acct SET v = v + 1 WHERE id = k; RETURN k; END $$',
      );
      await leader.query(
        'CREATE FUNCTION bump_caught(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE acct SET v = v + 1 WHERE id = k; RETURN k; EXCEPTION WHEN OTHERS THEN RETURN -1; END $$',
      );
      await leader.query("CREATE FUNCTION next_id() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('ids') $$");
      await leader.query(
        'CREATE FUNCTION read_v(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT v FROM acct WHERE id = k); END $$',
      );
      const fPort = ids.map(pgPort).find((p) => p !== leaderPort)!;
      const s = new pg.Client({ host: '127.0.0.1', port: fPort, user: 'postgres', database: 'postgres' });
      s.on('error', () => undefined);
      await s.connect();
      clients.push(s);
      await s.query("SET nextdb.read_consistency = 'stale'");
      await waitFor('the replica to have the rows and the functions', async () =>
        (await s.query('SELECT read_v(2) AS v').catch(() => undefined))?.rows[0]?.v === 20 ? true : undefined,
      );
      const leaderV = async (k: number): Promise<number | undefined> =>
        (await leader.query<{ v: number }>('SELECT v FROM acct WHERE id = $1', [k])).rows[0]?.v;

      // Pure reads: served by the replica (simple and extended protocol, a reading function too).
      let before = await staleCount(fPort);
      assert.equal((await s.query('SELECT v FROM acct WHERE id = 1')).rows[0].v, 10);
      assert.equal((await s.query('SELECT v FROM acct WHERE id = $1', [2])).rows[0].v, 20);
      assert.equal((await s.query('SELECT read_v(1) AS v')).rows[0].v, 10);
      assert.equal(await staleCount(fPort), before + 3, 'pure reads are served by the replica');

      // A function that writes: the leader runs it, whatever the replica holds.
      before = await staleCount(fPort);
      assert.equal((await s.query('SELECT bump(1) AS k')).rows[0].k, 1);
      assert.equal(await leaderV(1), 11, 'the write of a stale SELECT bump(1) reached the leader');
      assert.equal((await s.query('SELECT bump($1) AS k', [2])).rows[0].k, 2);
      assert.equal(await leaderV(2), 21, 'the write through the extended protocol reached the leader');
      assert.equal((await s.query({ name: 'b', text: 'SELECT bump($1) AS k', values: [2] })).rows[0].k, 2);
      assert.equal((await s.query({ name: 'b', text: 'SELECT bump($1) AS k', values: [2] })).rows[0].k, 2);
      assert.equal(await leaderV(2), 23, 'a named prepared SELECT bump($1), twice');
      // A row the leader just inserted (the replica may not have it yet): the UPDATE in the function must find it.
      for (let k = 10; k < 15; k++) {
        await leader.query('INSERT INTO acct VALUES ($1, 0)', [k]);
        await s.query(`SELECT bump(${k})`);
        await s.query('SELECT bump($1)', [k]);
        assert.equal(await leaderV(k), 2, `both updates of fresh row ${k} reached the leader`);
      }
      // A function that catches the replica's 25006 itself (EXCEPTION WHEN OTHERS): the refusal is still seen.
      assert.equal((await s.query('SELECT bump_caught(1) AS k')).rows[0].k, 1, 'simple protocol: run by the leader');
      assert.equal((await s.query('SELECT bump_caught($1) AS k', [1])).rows[0].k, 1, 'extended protocol');
      assert.equal(await leaderV(1), 13, 'both updates of bump_caught reached the leader');
      // A function whose UPDATE matches no row anywhere: still not served by the replica.
      assert.equal((await s.query('SELECT bump(99) AS k')).rows[0].k, 99);
      // nextval() inside a LANGUAGE sql function.
      const a = BigInt((await s.query<{ n: string }>('SELECT next_id() AS n')).rows[0]!.n);
      const b = BigInt((await s.query<{ n: string }>('SELECT next_id() AS n', [])).rows[0]!.n);
      assert.ok(b > a, 'nextval() advanced on the leader');
      assert.equal(
        await staleCount(fPort),
        before,
        'no statement calling a writing function was served by the replica',
      );
      await waitFor('the replica to show the function writes', async () =>
        (await s.query('SELECT sum(v)::int AS n FROM acct WHERE id IN (1, 2)')).rows[0].n === 36 ? true : undefined,
      );

      // Reads are still served by the replica afterwards (one statement's fall-back is not sticky).
      before = await staleCount(fPort);
      assert.equal((await s.query('SELECT v FROM acct WHERE id = $1', [2])).rows[0].v, 23);
      assert.ok((await staleCount(fPort)) > before, 'a pure SELECT after the writes is served by the replica');
    } finally {
      for (const c of clients) await c.end().catch(() => undefined);
      await stopProcs(procs);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

// Real processes, `nextdb server` in cluster mode with a small compaction
// threshold (--snapshot-entries 16) on ports 16330-16332 (SQL/HTTP) and
// 16340-16342 (Raft):
// - node 1 founds a cluster, node 2 joins it while the log is still whole;
//   statements go to whichever node leads;
// - three tables (one with a secondary index) get inserts, updates and
//   deletes until the leader's log is truncated well past its start
//   (nextdb_cluster_snapshot_index);
// - node 3 joins: it can only catch up by an InstallSnapshot of the whole
//   replica (nextdb_cluster_snapshots_installed on its /metrics), becomes
//   a voter, and a full scan of every table read from each node's own
//   replica (read_consistency = stale) equals the leader's; the replicated
//   keyspace digests are equal too;
// - kill -9 of node 3, more writes while it is down, restart from its
//   directory alone: identical again;
// - GET /api/cluster?local=1 on a follower: the other followers' applied
//   and healthy are null (unknown), not 0 / false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectLeader, sameIndexDigests, spawnServer, type ClusterProc, waitFor, stopProcs } from './cluster-procs.ts';

const sqlPort = (slot: number): number => 16329 + slot;
const raftPort = (slot: number): number => 16339 + slot;
const tables = ['acct ORDER BY id', 'item ORDER BY id', 'tag ORDER BY name'];

interface View {
  leaderId: number | null;
  members: { id: number; role: string; voter: boolean }[];
}

async function view(slot: number): Promise<View> {
  const r = await fetch(`http://127.0.0.1:${sqlPort(slot)}/api/cluster`, { signal: AbortSignal.timeout(3000) });
  return (await r.json()) as View;
}

async function metric(slot: number, name: string): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${sqlPort(slot)}/metrics`, { signal: AbortSignal.timeout(3000) })
  ).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  assert.ok(m !== null, `${name} on /metrics of node ${slot}`);
  return Number(m[1]);
}

test(
  'cluster: a node joining after log compaction catches up by InstallSnapshot; identical after kill -9 and restart',
  { timeout: 90_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-h5-snap-'));
    const procs = new Map<number, ClusterProc>();
    const clients: pg.Client[] = [];
    const start = async (slot: number, extra: string[]): Promise<ClusterProc> => {
      const p = await spawnServer(undefined, [
        String(sqlPort(slot)),
        '--data',
        join(dir, `n${slot}`),
        '--raft-port',
        String(raftPort(slot)),
        '--tick-ms',
        '30',
        '--election-ticks',
        '20',
        '--snapshot-entries',
        '16',
        ...extra,
      ]);
      procs.set(slot, p);
      return p;
    };
    const connect = async (slot: number, stale = false): Promise<pg.Client> => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: sqlPort(slot),
        user: 'postgres',
        database: 'postgres',
        ...(stale ? { options: '-c nextdb.read_consistency=stale' } : {}),
      });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    };
    /** Full scans of every table, as JSON. */
    const scan = async (c: pg.Client): Promise<string> => {
      const out: unknown[] = [];
      for (const t of tables) out.push((await c.query(`SELECT * FROM ${t}`)).rows);
      return JSON.stringify(out);
    };
    /** Every listed node's own replica (stale reads) shows what the leader shows. */
    const sameEverywhere = async (slots: number[], w: pg.Client): Promise<string> => {
      const want = await scan(w);
      for (const slot of slots) {
        const c = await connect(slot, true);
        await waitFor(`node ${slot}'s replica to match the leader`, async () =>
          (await scan(c)) === want ? true : undefined,
        );
        const served = await metric(slot, 'nextdb_cluster_stale_reads_total');
        assert.ok(served > 0, `node ${slot} served the scans from its replica`);
      }
      const same = await sameIndexDigests([...procs.values()], 60);
      assert.ok(same !== undefined, 'replicas reached one applied index');
      assert.ok(same.equal, `replicas identical at applied index ${same.applied}`);
      return want;
    };
    try {
      await start(1, ['--cluster']);
      await start(2, ['--join', `127.0.0.1:${sqlPort(1)}`]);
      await waitFor('two voters', async () => {
        const v = await view(1);
        return v.members.length === 2 && v.members.every((m) => m.voter) && v.leaderId === 1 ? true : undefined;
      });
      // Writes go to whichever node leads. Under load a leader change may fail a statement (40001/40003,
      // outcome unknown): the test moves on with a connection to the new leader, as it compares the
      // replicas with each other, not with a model.
      let w: pg.Client;
      let leaderSlot: number;
      const reconnect = async (): Promise<void> => {
        const { client, port } = await connectLeader(
          [1, 2, 3].map(sqlPort).filter((_, i) => procs.has(i + 1)),
          20_000,
        );
        clients.push(client);
        w = client;
        leaderSlot = port - sqlPort(0);
      };
      await reconnect();
      let lost = 0;
      const exec = async (sql: string, params: unknown[] = []): Promise<void> => {
        try {
          await w.query(sql, params);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code !== undefined && code !== '40001' && code !== '40003' && !code.startsWith('08') && code !== '57P01')
            throw e;
          lost++;
          await reconnect();
        }
      };

      await exec('CREATE TABLE acct (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)');
      await exec('CREATE TABLE item (id int PRIMARY KEY, acct int NOT NULL, qty int NOT NULL, note text)');
      await exec('CREATE INDEX item_acct ON item (acct)');
      await exec('CREATE TABLE tag (name text PRIMARY KEY, weight float8)');
      for (let i = 0; i < 40; i++) await exec('INSERT INTO acct VALUES ($1, $2, $3)', [i, `owner-${i}`, i * 10]);
      for (let i = 0; i < 40; i++) {
        await exec('INSERT INTO item VALUES ($1, $2, $3, $4), ($5, $6, $7, NULL)', [
          2 * i,
          i,
          i + 1,
          `n${i}`,
          2 * i + 1,
          (i * 7) % 40,
          i,
        ]);
      }
      for (let i = 0; i < 20; i++) await exec('INSERT INTO tag VALUES ($1, $2)', [`t${i}`, i / 4]);
      for (let i = 0; i < 30; i++)
        await exec('UPDATE acct SET balance = balance + $1 WHERE id = $2', [i, (i * 3) % 40]);
      await exec(
        "BEGIN; UPDATE item SET qty = qty * 2, note = note || '!' WHERE acct < 10; DELETE FROM tag WHERE weight > 3; COMMIT",
      );
      for (let i = 0; i < 10; i++) await exec('DELETE FROM item WHERE id = $1', [i * 5]);
      await exec('DELETE FROM acct WHERE id >= 35');

      // The leader's log no longer starts at the beginning: a new member needs the snapshot.
      const snapIndex = await metric(leaderSlot!, 'nextdb_cluster_snapshot_index');
      assert.ok(snapIndex > 32, `the leader compacted its log (snapshot index ${snapIndex})`);
      assert.ok((await metric(leaderSlot!, 'nextdb_cluster_snapshots_taken')) >= 1);

      const n3 = await start(3, ['--join', `127.0.0.1:${sqlPort(2)}`]);
      assert.equal(n3.id, 3);
      await waitFor('node 3 to become a voter', async () => {
        const v = await view(leaderSlot!);
        return v.members.length === 3 && v.members.every((m) => m.voter) ? true : undefined;
      });
      assert.ok((await metric(3, 'nextdb_cluster_snapshots_installed')) >= 1, 'node 3 caught up by InstallSnapshot');
      assert.ok((await metric(3, 'nextdb_cluster_snapshot_index')) >= snapIndex);
      // A follower answering from its own knowledge (?local=1, as when it cannot reach the leader)
      // reports the other followers' progress and health as unknown (null), the leader's health as it sees it.
      const follower = [1, 2, 3].find((s) => s !== leaderSlot!)!;
      const local = await waitFor('the follower to hear from the leader', async () => {
        const r = await fetch(`http://127.0.0.1:${sqlPort(follower)}/api/cluster?local=1`, {
          signal: AbortSignal.timeout(3000),
        });
        const v = (await r.json()) as {
          leaderId: number | null;
          members: { id: number; applied: number | null; healthy: boolean | null }[];
        };
        return v.leaderId === leaderSlot! && v.members.find((m) => m.id === leaderSlot!)?.healthy === true
          ? v
          : undefined;
      });
      for (const m of local.members) {
        if (m.id === follower) assert.ok(typeof m.applied === 'number' && m.healthy === true, JSON.stringify(m));
        else if (m.id === leaderSlot!) assert.equal(m.applied, null, JSON.stringify(m));
        else assert.deepEqual([m.applied, m.healthy], [null, null], JSON.stringify(m));
      }
      await exec('INSERT INTO tag VALUES ($1, $2)', ['after-join', 1.5]);
      const before = await sameEverywhere([1, 2, 3], w!);

      // kill -9 of the new node, writes while it is down (enough to compact again), restart from its directory.
      procs.get(3)!.child.kill('SIGKILL');
      procs.delete(3);
      if (leaderSlot! === 3) await reconnect();
      for (let i = 0; i < 30; i++) await exec('UPDATE item SET qty = qty + 1 WHERE id = $1', [i * 2 + 1]);
      await exec('DELETE FROM tag WHERE name = $1', ['t0']);
      await start(3, []);
      const after = await sameEverywhere([1, 2, 3], w!);
      if (lost > 0)
        console.log(
          `snapshot join: ${lost} statements failed across leader changes (outcome unknown; replicas compared with each other)`,
        );
      assert.notEqual(after, before, 'the writes while node 3 was down changed the tables');
    } finally {
      for (const c of clients) await c.end().catch(() => undefined);
      await stopProcs(procs.values());
      await rm(dir, { recursive: true, force: true });
    }
  },
);

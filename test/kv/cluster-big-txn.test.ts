// A very large transaction on a 3-node cluster of real processes (SQL on
// ports 16420-16422, Raft on 16430-16432, the default Raft timing: 50 ms
// ticks, 10-tick election timeout): one transaction inserts 30,000 rows and
// commits. The commit resolves its intents in slices that yield to the event
// loop (src/txn/txn-manager.ts), so the leader keeps sending heartbeats: the
// term and the leader are the same before and after, on every node. Then the
// leader is killed with SIGKILL right after another big commit: the new
// leader's MVCC recovery (also sliced) finishes it, and every row of both
// transactions is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectLeader, spawnClusterNode, type ClusterProc } from './cluster-procs.ts';

const ids = [1, 2, 3];
const pgPort = (id: number): number => 16419 + id;
const raftPort = (id: number): number => 16429 + id;
const peers = ids.map((id) => `${id}=127.0.0.1:${raftPort(id)}`).join(',');
const ROWS = 30_000;

interface View {
  nodeId: number;
  leaderId: number | null;
  term: number;
}

async function view(port: number): Promise<View> {
  const r = await fetch(`http://127.0.0.1:${port}/api/cluster?local=1`, { signal: AbortSignal.timeout(3000) });
  return (await r.json()) as View;
}

test('cluster: a 30,000-row transaction commits without a leader change', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-h5-bigtxn-'));
  const procs: ClusterProc[] = [];
  try {
    const started = await Promise.allSettled(
      ids.map(async (id) => {
        const p = await spawnClusterNode({
          id,
          dir: join(dir, `n${id}`),
          raftPort: raftPort(id),
          pgPort: pgPort(id),
          peers,
          tickMs: 50,
          electionTicks: 10,
        });
        procs.push(p);
      }),
    );
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const { client } = await connectLeader(ids.map(pgPort), 20_000);
    try {
      await client.query('CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL)');
      const before = await Promise.all(ids.map((id) => view(pgPort(id))));
      assert.ok(
        before.every((v) => v.term === before[0]!.term && v.leaderId === before[0]!.leaderId),
        `nodes disagree: ${JSON.stringify(before)}`,
      );
      await client.query('BEGIN');
      await client.query(`INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
      const t0 = Date.now();
      await client.query('COMMIT');
      console.log(`cluster big txn: COMMIT of ${ROWS} rows took ${Date.now() - t0} ms`);
      // Let the followers apply it all, then ask every node again.
      const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM big');
      assert.equal(count.rows[0]!.n, ROWS);
      const after = await Promise.all(ids.map((id) => view(pgPort(id))));
      for (const v of after)
        assert.deepEqual(
          { node: v.nodeId, term: v.term, leader: v.leaderId },
          { node: v.nodeId, term: before[0]!.term, leader: before[0]!.leaderId },
          'no election happened during the big commit',
        );
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(
      procs.map((p) => (p.child.exitCode === null ? new Promise((r) => p.child.once('exit', r)) : undefined)),
    );
    await rm(dir, { recursive: true, force: true });
  }
});

// Three replicated NextDB processes (src/server/cluster-server.ts) on
// loopback: Raft on ports 16200-16202, PostgreSQL protocol on 16210-16212
// (or 16220-16232, or 16440-16452, when a port there is taken).
// A client (node-postgres) writes rows continuously to whichever node
// leads; the leader is killed with SIGKILL mid-stream. Checks: writes
// succeed again (the time is measured and printed; target < 3 s), every
// acknowledged row is there, the killed node restarts from its directory
// and catches up, and all three replicas end with an identical digest of
// their replicated keyspace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import {
  connectLeader as connectLeaderProc,
  sameIndexDigests,
  spawnClusterNode,
  type ClusterProc,
  stopProcs,
} from './cluster-procs.ts';

const ids = [1, 2, 3];
/** First port of the block in use: 16200 unless something else holds a port there (then 16220, then 16440). */
let base = 16200;
const raftPort = (id: number): number => base - 1 + id;
const pgPort = (id: number): number => base + 9 + id;
const peers = (): string => ids.map((id) => `${id}=127.0.0.1:${raftPort(id)}`).join(',');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function chooseBase(): Promise<void> {
  for (const b of [16200, 16220, 16440]) {
    const ports = ids.flatMap((id) => [b - 1 + id, b + 9 + id]);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) {
      base = b;
      return;
    }
  }
  throw new Error('ports 16200-16212, 16220-16232 and 16440-16452 are all in use');
}

async function connectLeader(deadlineMs: number): Promise<{ client: pg.Client; id: number }> {
  const { client, port } = await connectLeaderProc(ids.map(pgPort), deadlineMs);
  return { client, id: ids.find((id) => pgPort(id) === port)! };
}

test(
  'cluster: 3 processes, SQL writes, kill -9 the leader, failover, catch-up, identical replicas',
  { timeout: 120_000 },
  async () => {
    await chooseBase();
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-kv-proc-'));
    const procs = new Map<number, ClusterProc>();
    const start = async (id: number): Promise<void> => {
      const peerList = peers();
      procs.set(
        id,
        await spawnClusterNode({
          id,
          dir: join(dir, `n${id}`),
          raftPort: raftPort(id),
          pgPort: pgPort(id),
          peers: peerList,
          tickMs: 30,
          electionTicks: 10,
        }),
      );
    };
    try {
      await Promise.all(ids.map(start));
      let { client, id: leader } = await connectLeader(20_000);
      await client.query('CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL)');

      const acked = new Set<number>();
      let next = 0;
      let killedAt = 0;
      let recoveredMs = -1;
      const writeUntil = async (untilMs: number): Promise<void> => {
        while (Date.now() < untilMs) {
          const k = next++;
          try {
            await client.query('INSERT INTO kv VALUES ($1, $2)', [k, k * 7]);
            acked.add(k);
            if (killedAt > 0 && recoveredMs < 0) recoveredMs = Date.now() - killedAt;
          } catch {
            await client.end().catch(() => undefined);
            ({ client, id: leader } = await connectLeader(20_000));
          }
        }
      };
      await writeUntil(Date.now() + 1500);
      assert.ok(acked.size > 10, `only ${acked.size} writes before the kill`);

      const victim = leader;
      procs.get(victim)!.child.kill('SIGKILL');
      killedAt = Date.now();
      await writeUntil(Date.now() + 4000);
      assert.ok(recoveredMs >= 0, 'writes never succeeded again after the kill');
      console.log(`cluster failover: writes succeeded again ${recoveredMs} ms after kill -9 of leader ${victim}`);

      await start(victim);
      await writeUntil(Date.now() + 1000);
      const rows = await client.query<{ k: number; v: number }>('SELECT k, v FROM kv ORDER BY k');
      const present = new Map(rows.rows.map((r) => [Number(r.k), Number(r.v)]));
      for (const k of acked) assert.equal(present.get(k), k * 7, `acknowledged row ${k} lost`);
      await client.end();

      // Every replica, once at the same applied index, has the same replicated keyspace.
      const same = await sameIndexDigests(procs.values());
      assert.ok(same !== undefined, 'replicas never reached the same applied index');
      assert.ok(same.equal, `replicas differ at applied index ${same.applied}`);
      console.log(`cluster: ${acked.size} acknowledged rows; 3 replicas identical at applied index ${same.applied}`);
    } finally {
      await stopProcs(procs.values());
      await rm(dir, { recursive: true, force: true });
    }
  },
);

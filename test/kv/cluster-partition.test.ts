// Partition test with real processes: three cluster-server processes whose
// Raft links all pass through fault-injecting TCP proxies in this test
// (loopback only; ports 16280-16292). The leader is cut off from both
// peers: the minority side stops leading (it serves no write itself; its SQL port forwards to the majority), the majority elects a
// leader and keeps committing, and after healing the old leader catches up
// and every replica reports the same digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectLeader, sameIndexDigests, spawnClusterNode, type ClusterProc, stopProcs } from './cluster-procs.ts';

const ids = [1, 2, 3];
const raftPort = (id: number): number => 16279 + id; // 16280-16282
const pgPort = (id: number): number => 16289 + id; // 16290-16292
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A one-direction link from node `from` to node `to`'s Raft port, which the test can cut. */
class Link {
  cut = false;
  private readonly sockets = new Set<net.Socket>();
  readonly server: net.Server;
  constructor(
    readonly from: number,
    readonly to: number,
    readonly port: number,
  ) {
    this.server = net.createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(raftPort(to), '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }
  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }
  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const s of this.sockets) s.destroy();
  }
  close(): void {
    this.setCut(true);
    this.server.close();
  }
}

async function tryWrite(id: number, k: number): Promise<boolean> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: pgPort(id),
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 500,
    query_timeout: 1500,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('INSERT INTO kv VALUES ($1, $2)', [k, k]);
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

test(
  'cluster: partition the leader away; minority stops leading, majority continues, healing converges',
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nextdb-kv-part-'));
    const links: Link[] = [];
    let port = 16283;
    for (const from of ids) for (const to of ids) if (from !== to) links.push(new Link(from, to, port++));
    await Promise.all(links.map((l) => l.listen()));
    const procs = new Map<number, ClusterProc>();
    const start = async (id: number): Promise<void> => {
      // Node `id` reaches every peer through its own outgoing proxy links.
      const peers = ids
        .map((p) => `${p}=127.0.0.1:${p === id ? raftPort(p) : links.find((l) => l.from === id && l.to === p)!.port}`)
        .join(',');
      procs.set(
        id,
        await spawnClusterNode({
          id,
          dir: join(dir, `n${id}`),
          raftPort: raftPort(id),
          pgPort: pgPort(id),
          peers,
          tickMs: 30,
          electionTicks: 10,
        }),
      );
    };
    try {
      await Promise.all(ids.map(start));
      // Find the leader (the node that accepts SQL) and create the table.
      const { client: c, port } = await connectLeader(ids.map(pgPort), 10_000);
      let leader = 0;
      try {
        await c.query('CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL)');
        leader = ids.find((id) => pgPort(id) === port) ?? 0;
      } finally {
        await c.end().catch(() => undefined);
      }
      assert.ok(leader > 0, 'no leader accepted the DDL');
      assert.ok(await tryWrite(leader, 1));

      // Cut the leader off in both directions.
      for (const l of links) if (l.from === leader || l.to === leader) l.setCut(true);
      const majority = ids.filter((id) => id !== leader);
      let k = 100;
      let majorityWrites = 0;
      const deadline = Date.now() + 15_000;
      while (majorityWrites < 5 && Date.now() < deadline) {
        for (const id of majority) if (await tryWrite(id, k++)) majorityWrites++;
        await sleep(50);
      }
      assert.ok(majorityWrites >= 5, 'the majority side never accepted writes');
      // The minority side (the old leader) has stepped down: it does not lead, so
      // it serves no write itself. (Its SQL port still forwards to the majority's
      // leader — only the Raft links are cut here — so a write sent to it may
      // succeed there; that one is on the majority side after healing.)
      const role = async (): Promise<string> => {
        const r = await fetch(`http://127.0.0.1:${pgPort(leader)}/api/cluster?local=1`, {
          signal: AbortSignal.timeout(2000),
        });
        const v = (await r.json()) as { nodeId: number; members: { id: number; role: string }[] };
        return v.members.find((m) => m.id === v.nodeId)?.role ?? 'unknown';
      };
      const stepDownBy = Date.now() + 3000; // check-quorum: within an election timeout or two
      while ((await role()) === 'leader' && Date.now() < stepDownBy) await sleep(50);
      assert.notEqual(await role(), 'leader', 'the cut-off old leader still leads');
      const forwarded = await tryWrite(leader, 10_000);

      // Heal: the old leader catches up; all replicas agree.
      for (const l of links) l.setCut(false);
      const same = await sameIndexDigests(procs.values(), 60);
      assert.ok(same !== undefined, 'replicas did not converge after healing');
      assert.ok(same.equal, `replicas differ at applied index ${same.applied}`);
      if (forwarded) {
        const { client: c2 } = await connectLeader(ids.map(pgPort), 10_000);
        try {
          assert.equal(
            (await c2.query('SELECT count(*)::int AS n FROM kv WHERE k = 10000')).rows[0].n,
            1,
            'the forwarded write is on the majority side',
          );
        } finally {
          await c2.end().catch(() => undefined);
        }
      }
    } finally {
      await stopProcs(procs.values());
      for (const l of links) l.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

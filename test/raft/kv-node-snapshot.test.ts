// The replicated KV node's snapshots (src/server/raft-kv-node.ts): three
// in-process nodes on loopback (ports 16150-16158) snapshot every 40 entries
// while puts keep arriving (a snapshot is encoded a slice per event-loop turn
// from a copy of the map, so later puts must not leak into it). A node stopped
// meanwhile comes back behind the leader's compacted log and catches up by the
// leader's snapshot; then every node restarts from its own disk (local
// snapshot + log) and must hold exactly the acknowledged map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import http2 from 'node:http2';
import { join } from 'node:path';
import { encodePut, startRaftKvNode } from '../../src/server/raft-kv-node.ts';
import type { RaftKvNode } from '../../src/server/raft-kv-node.ts';
import type { PeerAddress } from '../../src/server/raft-transport.ts';

const ids = [1, 2, 3];
const peers = new Map<number, PeerAddress>(ids.map((id) => [id, { host: '127.0.0.1', port: 16149 + id }]));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('kv node: snapshots under load, catch-up by snapshot, restart from local snapshots', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-h4-kvsnap-'));
  const nodes = new Map<number, RaftKvNode>();
  const start = async (id: number): Promise<void> => {
    nodes.set(
      id,
      await startRaftKvNode({
        id,
        dir: join(dir, `n${id}`),
        host: '127.0.0.1',
        raftPort: 16149 + id,
        httpPort: 16152 + id,
        h2Port: 16155 + id,
        peers,
        tickMs: 10,
        electionTicks: 10,
        snapshotEntries: 40,
      }),
    );
  };
  const expected = new Map<string, string>();
  // Puts with 8 in flight, retried on another node until acknowledged; values include multi-byte UTF-8.
  const putAll = async (from: number, to: number): Promise<void> => {
    let next = from;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < to) {
          const i = next++;
          const key = `k${i % 150}`;
          const value = `v${i}-ü€😀`;
          for (;;) {
            const leader = [...nodes.values()].find((n) => n.driver.node.status().role === 'leader');
            try {
              if (leader === undefined) throw new Error('no leader yet');
              await leader.driver.propose(encodePut(key, Buffer.from(value)));
              expected.set(key, value);
              break;
            } catch {
              await sleep(20);
            }
          }
        }
      }),
    );
  };
  const snapIndex = (id: number): number => nodes.get(id)!.driver.node.latestSnapshot().meta.index;
  const sameAsExpected = (id: number): boolean => {
    const kv = nodes.get(id)!.kv;
    return kv.size === expected.size && [...expected].every(([k, v]) => kv.get(k) === v);
  };
  try {
    for (const id of ids) await start(id);
    await putAll(0, 300);
    await waitUntil('a snapshot on every node', () => ids.every((id) => snapIndex(id) > 0));
    await nodes.get(3)!.close();
    nodes.delete(3);
    await putAll(300, 700);
    const leader = [...nodes.values()].find((n) => n.driver.node.status().role === 'leader')!;
    await waitUntil('the leader compacting past 700 entries', () => leader.driver.node.status().firstIndex > 400);
    await start(3);
    await waitUntil('node 3 catching up', () => sameAsExpected(3));
    assert.ok(snapIndex(3) > 400, `node 3 restored from the leader's snapshot (its snapshot index ${snapIndex(3)})`);
    for (const id of ids) await waitUntil(`node ${id} applying everything`, () => sameAsExpected(id));
    for (const id of ids) {
      await nodes.get(id)!.close();
      nodes.delete(id);
    }
    for (const id of ids) await start(id);
    for (const id of ids) {
      assert.ok(snapIndex(id) > 0, `node ${id} restarted from a local snapshot`);
      await waitUntil(`node ${id} holding the acknowledged map after restart`, () => sameAsExpected(id));
    }
    // The same API over HTTP/2 (--h2-port): a put and a linearizable get on the leader, 421 on a follower.
    await waitUntil('a leader after restart', () =>
      [...nodes.values()].some((n) => n.driver.node.status().role === 'leader'),
    );
    const leaderId = ids.find((id) => nodes.get(id)!.driver.node.status().role === 'leader')!;
    const followerId = ids.find((id) => id !== leaderId)!;
    await waitUntil(
      'the follower knowing the leader',
      () => nodes.get(followerId)!.driver.node.status().leader === leaderId,
    );
    const h2 = async (
      id: number,
      method: string,
      path: string,
      body?: string,
    ): Promise<{ status: number; body: string }> => {
      const session = http2.connect(`http://127.0.0.1:${16155 + id}`);
      try {
        return await new Promise((resolve, reject) => {
          const req = session.request({ ':method': method, ':path': path });
          let status = 0;
          const chunks: Buffer[] = [];
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
          req.on('error', reject);
          req.end(body);
        });
      } finally {
        session.close();
      }
    };
    assert.equal((await h2(leaderId, 'POST', '/put?key=over-h2', 'v-ü')).status, 200);
    assert.deepEqual(await h2(leaderId, 'GET', '/get?key=over-h2'), { status: 200, body: 'v-ü' });
    assert.deepEqual(await h2(followerId, 'POST', '/put?key=x', 'y'), {
      status: 421,
      body: JSON.stringify({ leader: leaderId }),
    });
  } finally {
    for (const n of nodes.values()) await n.close();
    await rm(dir, { recursive: true, force: true });
  }
});

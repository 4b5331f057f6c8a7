// The client library against a 3-node NextDB cluster (src/server/cluster-server.ts
// processes on loopback: Raft on 16451-16453, SQL on 16461-16463). Eight async
// workers run bank transfers through client.transaction while the leader is
// killed with SIGKILL, or, in the second test, drained with SIGTERM (it hands
// leadership to a peer, then closes its sessions and stops). Checks: no error reaches any worker (not-leader
// refusals, lost connections and commits of unknown outcome are all handled
// by the client, the last through the idempotent-transaction option), every
// acknowledged transfer is in the database exactly once, and money is
// conserved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '../../src/client/index.ts';
import { spawnClusterNode } from '../kv/cluster-procs.ts';

const ids = [1, 2, 3];
const raftPort = (id: number): number => 16450 + id;
const pgPort = (id: number): number => 16460 + id;
const peers = ids.map((id) => `${id}=127.0.0.1:${raftPort(id)}`).join(',');
const ACCOUNTS = 10;
const INITIAL = 1000;

// Killing the leader closes connections in the middle of transactions: this
// is also the regression test for the client's guard against postgres
// 3.4.9's write to a closed connection (TxSession in src/client/client.ts).
const stops = [
  { signal: 'SIGKILL', what: 'kill -9' },
  { signal: 'SIGTERM', what: 'drain (SIGTERM)' },
] as const;

for (const { signal, what } of stops)
  test(
    `client: 8 workers, ${what} the cluster leader, zero errors, every acknowledged transfer committed once`,
    { timeout: 180_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'nextdb-h6-client-cluster-'));
      const procs = new Map<number, ChildProcess>();
      let starting: Promise<void>[] = [];
      const start = async (id: number): Promise<void> => {
        const p = await spawnClusterNode({
          id,
          dir: join(dir, `n${id}`),
          raftPort: raftPort(id),
          pgPort: pgPort(id),
          peers,
          tickMs: 30,
          electionTicks: 10,
        });
        procs.set(id, p.child);
      };
      // One seed: the client learns the other members from GET /api/cluster.
      const client = createClient({
        hosts: [`127.0.0.1:${pgPort(1)}`],
        user: 'postgres',
        database: 'postgres',
        pool: { max: 8, acquireTimeoutMs: 60_000 },
        retry: { maxAttempts: 200, baseDelayMs: 10, maxDelayMs: 200 },
        healthCheckIntervalMs: 200,
        connectTimeoutMs: 1000,
      });
      try {
        starting = ids.map(start);
        await Promise.all(starting);
        await client.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)');
        await client.query('CREATE TABLE transfers (id text PRIMARY KEY, amount int NOT NULL)');
        const values = Array.from({ length: ACCOUNTS }, (_, i) => `(${i}, ${INITIAL})`).join(', ');
        await client.query(`INSERT INTO accounts VALUES ${values}`);

        // Nodes register their SQL addresses through the log after they start: ask until all three are listed.
        for (let i = 0; i < 300 && client.members().filter((m) => m.nodeId !== undefined).length < 3; i++) {
          await new Promise((r) => setTimeout(r, 100));
          await client.refreshMembers();
        }
        const known = client.members();
        assert.deepEqual(
          known.map((m) => [m.nodeId, m.port]).sort(),
          ids.map((id) => [id, pgPort(id)]),
          'discovered all three members from one seed',
        );
        assert.equal(known.filter((m) => m.role === 'leader').length, 1, 'one leader');

        const acked: string[] = [];
        // Figures printed at the end (no assertion on time: the machine may be loaded).
        let killedAt = 0;
        let longestMs = 0;
        let firstAfterKillMs: number | undefined;
        const errors: unknown[] = [];
        let stop = false;
        const worker = async (w: number): Promise<void> => {
          for (let i = 0; !stop; i++) {
            const id = `${w}-${i}`;
            const from = (w + i) % ACCOUNTS;
            const to = (w + 3 * i + 1) % ACCOUNTS;
            const amount = 1 + ((w * 31 + i) % 50);
            try {
              const startedAt = Date.now();
              await client.transaction(
                async (tx) => {
                  // The request id makes the transfer idempotent: a rerun after a
                  // commit of unknown outcome finds it and changes nothing.
                  const fresh = await tx.query(
                    'INSERT INTO transfers (id, amount) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id',
                    [id, amount],
                  );
                  if (fresh.rowCount === 0) return;
                  await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [amount, from]);
                  await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [amount, to]);
                },
                { idempotent: true },
              );
              acked.push(id);
              const now = Date.now();
              longestMs = Math.max(longestMs, now - startedAt);
              if (killedAt > 0 && startedAt >= killedAt) firstAfterKillMs ??= now - killedAt;
            } catch (err) {
              errors.push(err);
              return;
            }
          }
        };
        const workers = Array.from({ length: 8 }, (_, w) => worker(w));
        // Progress, not time, decides when to kill and when to stop: the machine may be slow.
        const waitFor = async (what: string, ok: () => boolean, maxMs: number): Promise<void> => {
          const until = Date.now() + maxMs;
          while (!ok() && errors.length === 0) {
            assert.ok(Date.now() < until, `${what} within ${maxMs} ms (${acked.length} acknowledged)`);
            await new Promise((r) => setTimeout(r, 50));
          }
        };
        await waitFor('20 transfers before the kill', () => acked.length >= 20, 60_000);
        const before = acked.length;
        const leader = client.members().find((m) => m.role === 'leader');
        assert.ok(leader?.preferred === true, 'the client routes to the leader');
        const victim = leader.nodeId;
        assert.ok(victim !== undefined && procs.has(victim), 'the leader is one of the nodes');
        procs.get(victim)!.kill(signal);
        killedAt = Date.now();
        // Run on for at least 5 s after the kill (the failover) and until 20 more transfers went through.
        await new Promise((r) => setTimeout(r, 5000));
        await waitFor('20 transfers after the kill', () => acked.length >= before + 20, 60_000);
        stop = true;
        await Promise.all(workers);
        const after = acked.length;
        console.log(
          `client cluster: ${before} transfers before ${what} of node ${victim}, ${after} in all, ${errors.length} errors; ${Date.now() - killedAt} ms observed after it`,
        );
        console.log(
          `client cluster: ${what}: first transfer started after it committed ${firstAfterKillMs ?? '-'} ms after it; longest transfer ${longestMs} ms`,
        );
        console.log(`client cluster: members after ${what}: ${JSON.stringify(client.members())}`);
        assert.deepEqual(errors, [], 'no error reached a worker');
        assert.ok(before > 0 && after > before, 'transfers ran before and after the failover');

        const t = await client.query<{ id: string }>('SELECT id FROM transfers');
        const stored = new Set(t.rows.map((r) => r.id));
        for (const id of acked) assert.ok(stored.has(id), `acknowledged transfer ${id} is committed`);
        assert.equal(t.rows.length, stored.size, 'no transfer twice');
        const sum = await client.query<{ total: string }>('SELECT sum(balance) AS total FROM accounts');
        assert.equal(Number(sum.rows[0]?.total), ACCOUNTS * INITIAL, 'money is conserved');
      } finally {
        // A node still starting when another failed to start is stopped too, not left behind.
        await Promise.allSettled(starting);
        await client.close(1000);
        for (const p of procs.values()) if (p.exitCode === null) p.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

// `nextdb cluster start --nodes 3` (run from source) on ports 16240-16242
// (SQL/HTTP) and 16250-16252 (Raft): node 1 founds the cluster, nodes 2
// and 3 join it; `nextdb cluster status` shows one serving leader and two
// followers in the same term, SQL works on the leader, `cluster remove 3`
// (asked through node 3 itself, a follower, which names the leader) leaves
// two members in GET /api/cluster, and Ctrl-C (SIGINT) stops every node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'test/server/run-cli.ts');
const nodes = '127.0.0.1:16240,127.0.0.1:16241,127.0.0.1:16242';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function runCli(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('nextdb cluster start / status / remove', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-kv-cli-'));
  const start = spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'cluster', 'start', '--nodes', '3', '--port', '16240', '--data', dir],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      start.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ctrl-C stops every node')) resolve();
      });
      start.once('exit', (code) => reject(new Error(`cluster start exited with ${code}: ${out}`)));
    });
    assert.match(out, /node 3: SQL\/HTTP 127\.0\.0\.1:16242, Raft 127\.0\.0\.1:16252/);

    let status = '';
    for (let i = 0; i < 60; i++) {
      status = runCli('cluster', 'status', nodes).out;
      if ((status.match(/leader \(serving\)/g) ?? []).length === 1 && (status.match(/follower/g) ?? []).length === 2)
        break;
      await sleep(250);
    }
    const lines = status.trim().split('\n');
    assert.match(lines[0]!, /^node\s+address\s+role\s+term\s+leader\s+commit\s+applied\s+lag$/);
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
    assert.equal(rows.filter((r) => r[2] === 'leader (serving)').length, 1, status);
    assert.equal(rows.filter((r) => r[2] === 'follower').length, 2, status);
    assert.equal(new Set(rows.map((r) => r[3])).size, 1, `all in one term: ${status}`);
    const leaderRow = rows.find((r) => r[2] === 'leader (serving)')!;

    const client = new pg.Client({
      host: '127.0.0.1',
      port: Number(leaderRow[1]!.split(':')[1]),
      user: 'postgres',
      database: 'postgres',
    });
    await client.connect();
    const r = await client.query('SELECT 40 + 2 AS answer');
    assert.equal(Number(r.rows[0].answer), 42);
    await client.end();

    const bad = runCli('cluster', 'remove', '7', '--nodes', nodes);
    assert.notEqual(bad.status, 0);
    assert.match(bad.err, /node 7 is not a member/);
    const removed = runCli('cluster', 'remove', '3', '--nodes', '127.0.0.1:16242');
    assert.equal(removed.status, 0, removed.err);
    assert.match(removed.out, /node 3 removed/);
    const view = (await (await fetch('http://127.0.0.1:16240/api/cluster')).json()) as { members: { id: number }[] };
    assert.deepEqual(
      view.members.map((m) => m.id),
      [1, 2],
    );

    start.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => start.once('exit', resolve));
    assert.equal(code, 0);
    const after = runCli('cluster', 'status', nodes).out;
    assert.equal((after.match(/unreachable/g) ?? []).length, 3, after);
  } finally {
    start.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

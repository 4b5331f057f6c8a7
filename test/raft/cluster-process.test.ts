// Three real Raft processes (src/server/raft-kv-node.ts) on loopback, ports
// 19001-19003 (raft) and 19011-19013 (HTTP). Clients write continuously;
// the leader is killed with SIGKILL mid-stream. Checks: a new leader within
// 2 s (measured and printed), every acknowledged write present on both
// survivors, and the killed node, restarted from its data directory, catches
// up with every acknowledged write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const ids = [1, 2, 3];
const raftPort = (id: number): number => 19000 + id;
const httpPort = (id: number): number => 19010 + id;
const peers = ids.map((id) => `${id}=127.0.0.1:${raftPort(id)}`).join(',');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Status {
  id: number;
  role: string;
  term: number;
  leader: number;
  commit: number;
  applied: number;
}

async function status(id: number): Promise<Status | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort(id)}/status`, { signal: AbortSignal.timeout(300) });
    return (await r.json()) as Status;
  } catch {
    return undefined;
  }
}

async function kv(id: number): Promise<Record<string, string>> {
  const r = await fetch(`http://127.0.0.1:${httpPort(id)}/kv`, { signal: AbortSignal.timeout(2000) });
  return (await r.json()) as Record<string, string>;
}

test('raft: 3 processes, kill -9 the leader during writes', { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-raft-proc-'));
  const procs = new Map<number, ChildProcess>();
  const start = async (id: number): Promise<void> => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/server/raft-kv-node.ts'),
        '--id',
        String(id),
        '--dir',
        join(dir, `n${id}`),
        '--raft-port',
        String(raftPort(id)),
        '--http-port',
        String(httpPort(id)),
        '--peers',
        peers,
        '--tick-ms',
        '20',
        '--election-ticks',
        '10',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.set(id, child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes(`ready ${id}`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`node ${id} exited with ${code} before ready`)));
    });
  };
  const waitLeader = async (among: number[], aboveTerm: number, timeoutMs: number): Promise<Status> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const id of among) {
        const s = await status(id);
        if (s !== undefined && s.role === 'leader' && s.term > aboveTerm) return s;
      }
      await sleep(5);
    }
    throw new Error(`no leader among ${among.join(',')} above term ${aboveTerm} within ${timeoutMs}ms`);
  };
  try {
    await Promise.all(ids.map(start));
    const first = await waitLeader(ids, 0, 10_000);

    // Writers: 4 concurrent clients, each following redirects.
    const acked = new Map<string, string>();
    let guess = first.id;
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const key = `k${n++}`;
        const value = `v${n}`;
        try {
          const r = await fetch(`http://127.0.0.1:${httpPort(guess)}/put?key=${key}`, {
            method: 'POST',
            body: value,
            signal: AbortSignal.timeout(3000),
          });
          const body = await r.text();
          if (r.status === 200) acked.set(key, value);
          else if (r.status === 421) {
            const leader = (JSON.parse(body) as { leader: number }).leader;
            guess = leader !== 0 ? leader : ids[n % 3]!;
            await sleep(10);
          } else await sleep(10);
        } catch {
          guess = ids[n % 3]!;
          await sleep(10);
        }
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    await sleep(800);
    const victim = first.id;
    const ackedBeforeKill = acked.size;
    const killedAt = Date.now();
    procs.get(victim)!.kill('SIGKILL');
    const survivors = ids.filter((id) => id !== victim);
    const next = await waitLeader(survivors, first.term, 5000);
    const electionMs = Date.now() - killedAt;
    await sleep(700);
    stop = true;
    await Promise.all(writers);
    console.log(
      `raft 3-process: killed leader n${victim} (term ${first.term}); new leader n${next.id} (term ${next.term}) after ${electionMs} ms; ${acked.size} acknowledged writes (${ackedBeforeKill} before the kill)`,
    );
    assert.ok(electionMs < 2000, `new leader took ${electionMs} ms`);
    assert.ok(acked.size > ackedBeforeKill, 'writes continued on the new leader');

    // Every acknowledged write is on both survivors (followers may lag by a heartbeat: wait for equal applied).
    const caughtUp = async (id: number, timeoutMs: number): Promise<Record<string, string>> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = await kv(id).catch(() => ({}) as Record<string, string>);
        const missing = [...acked].filter(([k, v]) => m[k] !== v);
        if (missing.length === 0) return m;
        if (Date.now() > deadline)
          throw new Error(`n${id} lacks ${missing.length} acknowledged writes, e.g. ${missing[0]![0]}`);
        await sleep(50);
      }
    };
    for (const id of survivors) await caughtUp(id, 5000);

    // The killed node restarts from disk and catches up.
    const restartAt = Date.now();
    await start(victim);
    await caughtUp(victim, 15_000);
    console.log(
      `raft 3-process: restarted n${victim} caught up with all ${acked.size} acknowledged writes in ${Date.now() - restartAt} ms (incl. process start)`,
    );
  } finally {
    for (const child of procs.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
});

// Crash test with real processes: a child (crash-writer.ts) writes and
// reports acknowledged durable writes; the parent SIGKILLs it at a random
// moment, reopens the directory and checks with crash.lib.ts that every
// acknowledged write is there and nothing never written is. Rounds continue on
// the same directory (through flushes and compactions of earlier rounds).
// While the child runs, the parent also checks that the directory lock keeps
// a second process out with the documented message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';
import { findPrefix, OpStream, readAll, type CrashOp } from './crash.lib.ts';
import { tmpDir } from './engines.lib.ts';

const rounds = Number(process.env.CRASH_ROUNDS ?? 12);
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
const writer = path.join(import.meta.dirname, 'crash-writer.ts');

interface ChildRun {
  acked: number;
  pid: number;
}

function runChild(
  dir: string,
  childSeed: number,
  tag: string,
  killAfterMs: number,
  whileRunning: (pid: number) => Promise<void>,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(childSeed), tag], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let acked = 0;
    let pid = -1;
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('ack ')) acked = Number(line.slice(4));
        else if (line.startsWith('ready ')) {
          pid = Number(line.slice(6));
          whileRunning(pid).then(
            () => setTimeout(() => child.kill('SIGKILL'), killAfterMs),
            (err: unknown) => {
              child.kill('SIGKILL');
              reject(err as Error);
            },
          );
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code ?? signal}: ${stderr}`));
      else resolve({ acked, pid });
    });
  });
}

test(`LSM survives SIGKILL of a writing process (${rounds} rounds, seed ${seed})`, async () => {
  const dir = await tmpDir('nextdb-crash-');
  const prng = new Prng(seed);
  let baseline = new Map<string, string>();
  try {
    for (let round = 0; round < rounds; round++) {
      const childSeed = prng.nextU32();
      const tag = `r${round}`;
      const killAfterMs = prng.range(5, 400);
      const run = await runChild(dir, childSeed, tag, killAfterMs, async (pid) => {
        if (round !== 0) return;
        await assert.rejects(openLsmEngine({ dir }), (err: unknown) => {
          assert.ok(err instanceof NextDbError);
          assert.equal(err.message, `data directory ${dir} is locked by process ${pid}`);
          return true;
        });
      });
      const stream = new OpStream(childSeed, tag);
      const ops: CrashOp[] = [];
      for (let i = 0; i < run.acked + 60; i++) ops.push(stream.next());
      const engine = await openLsmEngine({ dir });
      try {
        const recovered = readAll(engine);
        try {
          findPrefix(baseline, ops, run.acked, recovered);
        } catch (err) {
          throw new Error(`seed ${seed} round ${round} (killed after ${killAfterMs} ms): ${(err as Error).message}`);
        }
        baseline = recovered;
      } finally {
        await engine.close();
      }
    }
    assert.ok(
      fs.readdirSync(dir).some((n) => n.endsWith('.sst')),
      'the rounds should have produced tables',
    );
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

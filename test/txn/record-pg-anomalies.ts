/**
 * Records PostgreSQL 15's behaviour on the anomaly scenarios, at each
 * isolation level, into test/txn/golden/anomalies-pg15.json (the reference
 * anomalies.test.ts holds NextDB to). Not part of `npm test`: run it by hand
 * when scenarios change, on a machine with PostgreSQL 15 installed:
 *
 *   node --import tsx test/txn/record-pg-anomalies.ts [/usr/local/bin]
 *
 * It starts a throwaway server (initdb in a fresh temp dir, as the
 * `postgres` user when run as root, on 127.0.0.1:15707), replays every
 * scenario through one client connection per transaction, then stops the
 * server and removes the directory.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { formatRows, runScenario, type Backend, type Session } from './anomaly-runner.ts';
import { sqlOf } from './anomaly-sql.ts';
import { LEVELS, SCENARIOS } from './anomaly-scenarios.ts';

const PORT = 15707;
const binDir = process.argv[2] ?? '/usr/local/bin';
const asRoot = process.getuid?.() === 0;

function runAs(cmd: string, args: string[]): string[] {
  return asRoot ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-txn-pg-'));
  let server: ChildProcess | undefined;
  try {
    if (asRoot) chownSync(dir, 101, 104);
    const data = join(dir, 'data');
    const [c0, ...a0] = runAs(join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const init = spawnSync(c0!, a0, { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const [c1, ...a1] = runAs(join(binDir, 'postgres'), [
      '-D',
      data,
      '-p',
      String(PORT),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ]);
    server = spawn(c1!, a1, { stdio: 'ignore' });
    const cfg = { host: '127.0.0.1', port: PORT, user: 'postgres', database: 'postgres' };
    for (let i = 0; ; i++) {
      const c = new pg.Client(cfg);
      try {
        await c.connect();
        await c.end();
        break;
      } catch {
        if (i > 100) throw new Error('postgres did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const result: Record<string, Record<string, { anomaly: boolean; transcript: string[] }>> = {};
    for (const s of SCENARIOS) {
      result[s.name] = {};
      for (const level of LEVELS) {
        const admin = new pg.Client(cfg);
        await admin.connect();
        await admin.query('drop table if exists test; create table test (id int primary key, value int)');
        for (const [id, v] of s.rows ?? [
          [1, 10],
          [2, 20],
        ])
          await admin.query('insert into test values ($1, $2)', [id, v]);
        const clients: pg.Client[] = [];
        const backend: Backend = {
          session: async () => {
            const c = new pg.Client(cfg);
            await c.connect();
            clients.push(c);
            const session: Session = {
              run: async (stmt) => {
                const r = await c.query<{ id: number; value: number }>(sqlOf(stmt, level));
                if (stmt.kind === 'commit') return r.command === 'COMMIT' ? 'COMMIT' : 'ROLLBACK';
                if (stmt.kind === 'begin' || stmt.kind === 'rollback') return 'ok';
                if (r.command === 'SELECT') return formatRows(r.rows.map((row) => [row.id, row.value]));
                return `${r.rowCount ?? 0} rows`;
              },
            };
            return session;
          },
          settle: () => new Promise((r) => setTimeout(r, 250)),
          finalRows: async () =>
            formatRows(
              (await admin.query<{ id: number; value: number }>('select id, value from test order by id')).rows.map(
                (row) => [row.id, row.value],
              ),
            ),
          close: async () => {
            for (const c of clients) await c.end();
            await admin.end();
          },
        };
        const run = await runScenario(backend, s, level);
        await backend.close();
        result[s.name]![level] = { anomaly: s.anomaly(run.observed), transcript: run.transcript };
        console.log(`${s.name} ${level}: ${s.anomaly(run.observed) ? 'ANOMALY' : 'prevented'}`);
      }
    }
    const out = new URL('./golden/anomalies-pg15.json', import.meta.url);
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${out.pathname}`);
  } finally {
    if (server?.pid !== undefined) {
      // pg_ctl waits until the server has shut down and stopped writing files.
      const [c2, ...a2] = runAs(join(binDir, 'pg_ctl'), ['stop', '-D', join(dir, 'data'), '-m', 'fast', '-w']);
      spawnSync(c2!, a2, { stdio: 'ignore' });
      if (server.exitCode === null) await new Promise((r) => server!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

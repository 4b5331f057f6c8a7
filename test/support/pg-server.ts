/**
 * Starts a throw-away PostgreSQL 15 server for tests that compare NextDB
 * with the real thing or exercise client code against a known-good server.
 *
 * PostgreSQL refuses to run as root, so when we are root the server runs as
 * the `postgres` system user (runuser). The data directory is a fresh temp
 * dir, the server listens on 127.0.0.1 only, and `stop()` ends it by PID and
 * removes the directory. `findPostgres()` returns undefined where the
 * binaries are missing, so callers can skip with a clear reason.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, chmodSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';

export interface PgServer {
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
  /** Fast shutdown, then the same data directory served again on the same port. */
  restart(): Promise<void>;
}

const BIN_DIRS = ['/usr/local/bin', '/usr/lib/postgresql/15/bin'];

export function findPostgres(): { initdb: string; postgres: string } | undefined {
  for (const dir of BIN_DIRS) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (existsSync(initdb) && existsSync(postgres)) return { initdb, postgres };
  }
  return undefined;
}

function asPostgresUser(cmd: string, args: string[]): [string, string[]] {
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export async function startPostgres(port: number, options: { password?: string } = {}): Promise<PgServer> {
  const bins = findPostgres();
  if (bins === undefined) throw new Error('PostgreSQL binaries not found');
  const dataDir = mkdtempSync(join(tmpdir(), 'nextdb-pg-'));
  chmodSync(dataDir, 0o777);
  const pgdata = join(dataDir, 'data');
  const init = ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
  if (options.password !== undefined) {
    const pwfile = join(dataDir, 'pw');
    writeFileSync(pwfile, options.password);
    chmodSync(pwfile, 0o644);
    init.push(`--pwfile=${pwfile}`, '--auth-host=scram-sha-256');
  }
  const [c1, a1] = asPostgresUser(bins.initdb, init);
  execFileSync(c1, a1, { stdio: 'pipe' });
  const [c2, a2] = asPostgresUser(bins.postgres, [
    '-D',
    pgdata,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dataDir}`,
    '-c',
    'fsync=off',
    '-c',
    'max_connections=100',
  ]);
  let running: Running;
  try {
    running = await launch(c2, a2, port, pgdata);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    dataDir,
    url: `postgres://postgres${options.password === undefined ? '' : `:${options.password}`}@127.0.0.1:${port}/postgres`,
    async stop() {
      await shutdown(running);
      rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await shutdown(running);
      running = await launch(c2, a2, port, pgdata);
    },
  };
}

interface Running {
  readonly child: ChildProcess;
  /** The postmaster's PID (runuser's PID is not the server's). */
  readonly pid: number;
}

/** Starts the postmaster and waits until it accepts connections. */
async function launch(cmd: string, args: string[], port: number, pgdata: string): Promise<Running> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 20000;
  // Ready means the postmaster says so in postmaster.pid (status line "ready") and the port answers: a bare TCP
  // connect succeeds while PostgreSQL is still starting up (57P03), or reaches whatever else took the port first.
  while (!(postmasterReady(pgdata) && (await canConnect(port)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`PostgreSQL did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The postmaster writes its own PID into postmaster.pid.
  return { child, pid: Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]) };
}

async function shutdown({ child, pid }: Running): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown
  } catch {
    /* already gone */
  }
  const until = Date.now() + 10000;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** True when postmaster.pid's status line (the eighth) says the postmaster accepts connections. */
function postmasterReady(pgdata: string): boolean {
  try {
    return readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() === 'ready';
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

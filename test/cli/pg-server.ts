// A throw-away PostgreSQL 15 server for client tests: a temp data directory
// owned by the `postgres` user (PostgreSQL refuses to run as root), a port
// from 15600-15609 on 127.0.0.1, trust authentication (except the role
// `pwuser`, which must log in with SCRAM-SHA-256 once a test creates it), fsync off. `stop()`
// shuts it down and removes the directory. `available()` says why the tests
// must be skipped when the binaries or the user are missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const BIN = '/usr/local/bin';
const PORT_FIRST = 15600;
const PORT_LAST = 15609;

export interface PgServer {
  readonly port: number;
  readonly dir: string;
  stop(): void;
}

/** undefined when a server can be started, else the reason it cannot. */
export function unavailable(): string | undefined {
  for (const b of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(join(BIN, b))) return `PostgreSQL binary ${join(BIN, b)} is missing`;
  }
  if (userInfo().uid === 0 && spawnSync('id', ['postgres']).status !== 0)
    return 'running as root and there is no postgres user';
  return undefined;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Runs a PostgreSQL binary as the postgres user when we are root. */
function run(bin: string, args: string[]): void {
  const asRoot = userInfo().uid === 0;
  const file = asRoot ? 'runuser' : join(BIN, bin);
  const argv = asRoot ? ['-u', 'postgres', '--', join(BIN, bin), ...args] : args;
  execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startPg(): Promise<PgServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-client-test-'));
  try {
    if (userInfo().uid === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
    }
    const data = join(dir, 'data');
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N']);
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(hba, `host all pwuser 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    for (let port = PORT_FIRST; port <= PORT_LAST; port++) {
      if (!(await portFree(port))) continue;
      try {
        run('pg_ctl', [
          '-D',
          data,
          '-w',
          '-t',
          '30',
          '-l',
          join(dir, 'log'),
          '-o',
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
          'start',
        ]);
      } catch {
        continue; // Lost a race for the port to another test; try the next one.
      }
      return {
        port,
        dir,
        stop() {
          try {
            run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
    throw new Error(`no free port in ${PORT_FIRST}-${PORT_LAST}`);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// `nextdb client` against `nextdb server --memory` (both as processes, from
// the TypeScript sources): plain SQL, aligned results, command tags and the
// error caret. The \d family needs the server's pg_catalog; its tests run
// against PostgreSQL 15 in client.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CLI, ROOT, runClientProcess, type ClientRun } from './spawn-client.ts';

const PORTS = [15606, 15607, 15608, 15609];

let server: ChildProcess | undefined;
let port = 0;
let startError: string | undefined;

async function portFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

before(async () => {
  for (const p of PORTS) {
    if (await portFree(p)) {
      port = p;
      break;
    }
  }
  if (port === 0) {
    startError = `no free port in ${PORTS.join(', ')}`;
    return;
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'server', String(port), '--memory', '--log-level', 'info'],
    { cwd: ROOT },
  );
  server = child;
  let log = '';
  startError = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(`server did not start in 30 s:\n${log}`), 30_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve(undefined);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(`server exited with ${code}:\n${log}`);
    });
  });
});

after(() => {
  if (server?.pid !== undefined && server.exitCode === null) server.kill('SIGTERM');
});

const client = (args: readonly string[], stdin = ''): Promise<ClientRun> => runClientProcess(port, args, stdin);

test('client against nextdb server: statements, results, errors', async (t) => {
  if (startError !== undefined) return t.skip(startError);
  const script = [
    'create table items (id int primary key, name text not null, price numeric);',
    "insert into items values (1, 'pen', 1.5), (2, 'multi\nline', null);",
    'select * from items order by id;',
    'select * form items;',
    '',
  ].join('\n');
  const r = await client([], script);
  assert.equal(r.code, 3);
  assert.equal(
    r.stdout,
    [
      'CREATE TABLE',
      'INSERT 0 2',
      ' id | name  | price ',
      '----+-------+-------',
      '  1 | pen   |   1.5',
      '  2 | multi+|      ',
      '    | line  | ',
      '(2 rows)',
      '',
      '',
    ].join('\n'),
  );
  assert.equal(
    r.stderr,
    'nextdb:<stdin>:5: ERROR:  syntax error at or near "form"\nLINE 1: select * form items;\n                 ^\n',
  );
});

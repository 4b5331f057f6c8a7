// End-to-end tests of `nextdb client` as a process against a real
// PostgreSQL 15 (started here, see pg-server.ts; skipped with the reason when
// the binaries are missing). What psql would print is the reference: the
// describe commands are compared with psql 15's own output in
// ../shared/corpus/psql/psql-describe-transcript.txt for the same schema.
// Covered: piped stdin scripts, -c and -f (in order), aligned results, error
// display with the caret and script location, ON_ERROR_STOP exit codes,
// session state across statements, \timing, \c, COPY TO STDOUT, and an
// interactive session through a pseudo-terminal (`script`): prompts,
// continuation prompts, Ctrl+C cancelling a running query, history file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPg, unavailable, type PgServer } from './pg-server.ts';
import { CLI, ROOT, runClientProcess, type ClientRun } from './spawn-client.ts';
import { corpusPath } from '../support/corpus.ts';

const CORPUS = corpusPath('psql');
const skip = unavailable();

let pg: PgServer | undefined;
let work = '';

before(async () => {
  if (skip !== undefined) return;
  pg = await startPg();
  work = mkdtempSync(join(tmpdir(), 'nextdb-client-work-'));
});

after(() => {
  pg?.stop();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

function client(args: readonly string[], stdin = '', env: Record<string, string> = {}): Promise<ClientRun> {
  return runClientProcess(pg!.port, args, stdin, { PGUSER: 'postgres', NEXTDB_HISTORY: join(work, 'history'), ...env });
}

/** psql's rendering of a meta-command in the transcript (everything after its last echoed query). */
function psqlOutput(command: string): string {
  const text = readFileSync(join(CORPUS, 'psql-describe-transcript.txt'), 'utf8');
  const start = text.indexOf(`=== ${command}\n`);
  assert.ok(start >= 0, command);
  const next = text.indexOf('\n=== ', start + 1);
  const block = text.slice(start, next === -1 ? undefined : next + 1);
  const lastQuery = block.lastIndexOf('**************************\n\n');
  return block.slice(lastQuery + '**************************\n\n'.length);
}

test('client: a script piped on stdin builds the psql corpus schema', { skip }, async () => {
  const setup = readFileSync(join(CORPUS, 'psql-describe-setup.sql'), 'utf8');
  const r = await client([], setup);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      'CREATE SCHEMA',
      'CREATE TABLE',
      'CREATE INDEX',
      'CREATE TABLE',
      'COMMENT',
      'CREATE VIEW',
      'CREATE SEQUENCE',
      'CREATE FUNCTION',
      '',
    ].join('\n'),
  );
});

test('client: the \\d family prints what psql 15 prints', { skip }, async () => {
  const commands = [
    '\\d',
    '\\dt',
    '\\d users',
    '\\d+ users',
    '\\d app.orders',
    '\\d active_users',
    '\\di',
    '\\dv',
    '\\ds',
    '\\dn',
    '\\dn+',
    '\\du',
    '\\df',
    '\\dT',
    '\\dx',
  ];
  const r = await client(commands.flatMap((c) => ['-c', c]));
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, commands.map(psqlOutput).join(''));
  const l = await client(['-c', '\\l']);
  assert.match(l.stdout, /^ +List of databases\n +Name +\| +Owner +\| Encoding \|/);
  assert.match(l.stdout, /\n postgres +\| postgres \| UTF8 +\|/);
  assert.match(l.stdout, /\n\(3 rows\)\n\n$/);
  const missing = await client(['-c', '\\d nosuch']);
  assert.equal(missing.stderr, 'Did not find any relation named "nosuch".\n');
  assert.equal(missing.code, 1);
});

test('client: aligned results, command tags, -c and -f in order', { skip }, async () => {
  const file = join(work, 'q.sql');
  writeFileSync(file, "select 42 as answer, 'x' as s;\n");
  const r = await client([
    '-c',
    "select 1 as n, null as nothing, 'two\nlines' as t, 12.5::numeric as amount union all select 1000, null, 'b', -1 order by n",
    '-f',
    file,
    '-c',
    "create temp table tt(a int); insert into tt values (1), (2) returning a; update tt set a = a + 1; select ';' as semi",
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  // The first table, written out in full (psql's layout: numbers right-aligned, '+' for a continued cell).
  const first = [
    '  n   | nothing |   t   | amount ',
    '------+---------+-------+--------',
    '    1 |         | two  +|   12.5',
    '      |         | lines | ',
    ' 1000 |         | b     |     -1',
    '(2 rows)',
    '',
    '',
  ].join('\n');
  const second = [' answer | s ', '--------+---', '     42 | x', '(1 row)', '', ''].join('\n');
  const third = [
    'CREATE TABLE',
    ' a ',
    '---',
    ' 1',
    ' 2',
    '(2 rows)',
    '',
    'INSERT 0 2',
    'UPDATE 2',
    ' semi ',
    '------',
    ' ;',
    '(1 row)',
    '',
    '',
  ].join('\n');
  assert.equal(r.stdout, first + second + third);
});

test('client: \\i runs a file in place; \\q inside it ends everything; \\x', { skip }, async () => {
  const inner = join(work, 'inner.sql');
  writeFileSync(inner, "select 'inner' as w;\n\\q\nselect 'not reached';\n");
  const r = await client([], `select 'outer' as w;\n\\i ${inner}\nselect 'not reached either';\n`);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '   w   \n-------\n outer\n(1 row)\n\n   w   \n-------\n inner\n(1 row)\n\n');
  const x = await client(['-c', '\\x', '-c', "select 1 as a, 'hello' as bb"]);
  assert.equal(x.stdout, 'Expanded display is on.\n-[ RECORD 1 ]\na  | 1\nbb | hello\n\n');
  const missing = await client([], `\\i ${join(work, 'nope.sql')}\nselect 1;\n`);
  assert.equal(missing.code, 3);
  assert.equal(missing.stdout, '');
  assert.equal(missing.stderr, `nextdb:<stdin>:1: nextdb: ${join(work, 'nope.sql')}: No such file or directory\n`);
});

test('client: errors show LINE and a caret; a script stops at the first error', { skip }, async () => {
  const script = [
    'select 1 as ok;',
    '-- the next statement is wrong',
    'select',
    '  * form pg_class;',
    "select 'not reached';",
    '',
  ].join('\n');
  const r = await client([], script);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, ' ok \n----\n  1\n(1 row)\n\n');
  assert.equal(
    r.stderr,
    'nextdb:<stdin>:4: ERROR:  syntax error at or near "form"\nLINE 2:   * form pg_class;\n            ^\n',
  );
  const c = await client(['-c', 'select 1/0']);
  assert.equal(c.code, 1);
  assert.equal(c.stderr, 'ERROR:  division by zero\n');
  const hint = await client(['-c', 'select nosuchcol from pg_class']);
  assert.match(
    hint.stderr,
    /^ERROR: {2}column "nosuchcol" does not exist\nLINE 1: select nosuchcol from pg_class\n {15}\^\n$/,
  );
  const bad = await client(['-c', '\\nosuch']);
  assert.equal(bad.stderr, 'invalid command \\nosuch\nTry \\? for help.\n');
  assert.equal(bad.code, 1);
  const nofile = await client(['-f', join(work, 'missing.sql')]);
  assert.equal(nofile.code, 1);
  assert.match(nofile.stderr, /No such file or directory/);
});

test('client: connection failures exit 2', { skip }, async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
  const r = await new Promise<ClientRun>((resolve) => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'client', `127.0.0.1:${port}`, '-c', 'select 1'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    resolve({ code: out.status, stdout: out.stdout, stderr: out.stderr });
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`connection to server at "127.0.0.1", port ${port} failed: Connection refused`));
  const db = await client(['-d', 'nosuchdb', '-c', 'select 1']);
  assert.equal(db.code, 2);
  assert.match(db.stderr, /database "nosuchdb" does not exist/);
});

test('client: session state, \\timing, \\c and COPY TO STDOUT', { skip }, async () => {
  const script = [
    'begin;',
    'create table rolled_back(a int);',
    'rollback;',
    'set application_name = $$kept$$;',
    'show application_name;',
    '\\timing',
    'select 1 as one;',
    '\\timing off',
    'create database other;',
    '\\c other',
    'select current_database();',
    "copy (select 1 as a, 'x' as b union all select 2, null) to stdout;",
    '\\dt rolled_back',
    '',
  ].join('\n');
  const r = await client([], script);
  assert.equal(r.code, 3, r.stderr); // The last command finds nothing: an error, so the script stops there.
  assert.equal(r.stderr, 'nextdb:<stdin>:13: Did not find any relation named "rolled_back".\n');
  const out = r.stdout;
  assert.match(
    out,
    /^BEGIN\nCREATE TABLE\nROLLBACK\nSET\n application_name \n------------------\n kept\n\(1 row\)\n\nTiming is on\.\n/,
  );
  assert.match(out, /\n one \n-----\n {3}1\n\(1 row\)\n\nTime: \d+\.\d{3} ms\nTiming is off\.\nCREATE DATABASE\n/);
  assert.match(
    out,
    /You are now connected to database "other" as user "postgres"\.\n current_database \n------------------\n other\n\(1 row\)\n\n1\tx\n2\t\\N\n$/,
  );
});

test('client: password from $PGPASSWORD; none on a pipe fails cleanly', { skip }, async () => {
  assert.equal((await client(['-c', "create role pwuser login password 'secret'"])).code, 0);
  const ok = await client(['-U', 'pwuser', '-d', 'postgres', '-c', 'select current_user'], '', {
    PGPASSWORD: 'secret',
  });
  assert.equal(ok.stderr, '');
  assert.match(ok.stdout, /\n pwuser\n\(1 row\)/);
  const none = await client(['-U', 'pwuser', '-d', 'postgres', '-c', 'select 1']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /password authentication failed for user "pwuser"/);
});

test(
  'client: interactive session through a pseudo-terminal',
  { skip: skip ?? (existsSync('/usr/bin/script') ? undefined : 'no script(1) for a pseudo-terminal') },
  async () => {
    const history = join(work, 'interactive-history');
    const cmd = [process.execPath, '--import', 'tsx', CLI, 'client', `127.0.0.1:${pg!.port}`]
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, NEXTDB_HISTORY: history, TERM: 'dumb' },
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    const waitFor = async (re: RegExp, what: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!re.test(screen)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const exited = (p: ChildProcess): Promise<number | null | 'timeout'> =>
      new Promise((resolve) => {
        if (p.exitCode !== null) return resolve(p.exitCode);
        const t = setTimeout(() => resolve('timeout'), 20_000);
        p.on('close', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    let pw: ChildProcess | undefined;
    try {
      await waitFor(/postgres=# (\x1b\[\d+G)?$/, 'the first prompt');
      child.stdin.write('select 6 *\n');
      await waitFor(/postgres-# (\x1b\[\d+G)?$/, 'the continuation prompt');
      child.stdin.write('7 as product;\n');
      await waitFor(/ product \r?\n---------\r?\n {6}42\r?\n\(1 row\)/, 'the result');
      child.stdin.write('select pg_sleep(30);\n');
      // Ctrl+C only once readline has taken the line (it echoes it), else it would just clear the input.
      await waitFor(/select pg_sleep\(30\);\r*\n/, 'the echoed query');
      await new Promise((r) => setTimeout(r, 500));
      child.stdin.write('\x03');
      await waitFor(/ERROR: {2}canceling statement due to user request/, 'the cancelled query');
      child.stdin.write('\\c\n');
      await waitFor(/You are now connected to database "postgres" as user "postgres"\./, 'the reconnect');
      child.stdin.write('\\q\n');
      const code = await exited(child);
      assert.equal(code, 0, screen);
      // A password prompt on the terminal when the server asks for one.
      const withPassword = spawn(
        'script',
        ['-q', '-e', '-c', `${cmd} -U pwuser -d postgres -c 'select current_user'`, '/dev/null'],
        { cwd: ROOT, env: { ...process.env, NEXTDB_HISTORY: history } },
      );
      pw = withPassword;
      screen = '';
      withPassword.stdout.on('data', (d: Buffer) => (screen += d.toString()));
      await waitFor(/Password for user pwuser: $/, 'the password prompt');
      withPassword.stdin.write('secret\r');
      await waitFor(/ pwuser\r?\n\(1 row\)/, 'the query as pwuser');
      assert.ok(!screen.includes('secret'), 'the password is not echoed');
      assert.equal(await exited(withPassword), 0, screen);
      assert.deepEqual(
        readFileSync(history, 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
        ['select 6 *', '7 as product;', 'select pg_sleep(30);', '\\c', '\\q'],
      );
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
      pw?.kill('SIGKILL');
    }
  },
);

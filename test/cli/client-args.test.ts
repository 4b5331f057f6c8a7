// Command-line handling of `nextdb client`: the host:port forms, and -c/-f
// steps running in the order they were given (commander keeps the two
// options' values apart; the order is recovered from the raw arguments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderSteps, parseHostPort } from '../../src/cli/client.ts';

test('client args: host:port forms', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('db.example:5432'), { host: 'db.example', port: 5432 });
  assert.deepEqual(parseHostPort('localhost'), { host: 'localhost', port: 8080 });
  assert.deepEqual(parseHostPort(':15432'), { host: '127.0.0.1', port: 15432 });
  assert.deepEqual(parseHostPort('5433'), { host: '127.0.0.1', port: 5433 });
  assert.deepEqual(parseHostPort('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseHostPort('[::1]'), { host: '::1', port: 8080 });
  for (const bad of ['host:', 'host:0', 'host:70000', 'host:80a'])
    assert.throws(() => parseHostPort(bad), /invalid port/, bad);
});

test('client args: -c and -f keep their command-line order', () => {
  const argv = [
    'node',
    'nextdb',
    'client',
    '-U',
    '-cx',
    '-f',
    'a.sql',
    '-c',
    '-fnot-a-file',
    '--file=b.sql',
    '-cselect 2',
    '--command',
    'select 3',
  ];
  const steps = orderSteps(
    { username: '-cx', command: ['-fnot-a-file', 'select 2', 'select 3'], file: ['a.sql', 'b.sql'] },
    argv,
  );
  assert.deepEqual(steps, [
    { kind: 'file', path: 'a.sql' },
    { kind: 'command', text: '-fnot-a-file' },
    { kind: 'file', path: 'b.sql' },
    { kind: 'command', text: 'select 2' },
    { kind: 'command', text: 'select 3' },
  ]);
  assert.deepEqual(orderSteps({}, ['node', 'nextdb', 'client']), []);
});

// replicaSafe (src/server/cluster-session.ts): which statements a node's
// replica may answer under nextdb.read_consistency = 'stale'. Reads only;
// every write — also one that would match no row on a lagging replica —
// and anything acting on the session or other backends goes to the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadParser } from '../../src/sql/parser.ts';
import { replicaSafe } from '../../src/server/cluster-session.ts';

test('replicaSafe: reads yes, writes and session actions no', async () => {
  await loadParser();
  const reads = [
    'SELECT 1',
    'select v from acct where id = $1;',
    'SELECT abalance FROM pgbench_accounts WHERE aid = 42',
    'TABLE acct',
    'VALUES (1), (2)',
    'SHOW search_path',
    'EXPLAIN SELECT * FROM acct',
    'WITH x AS (SELECT 1 AS a) SELECT a FROM x',
    'SELECT 1; SELECT 2',
    'SELECT * FROM information_schema.tables', // "for" inside a word: parsed, still a read
    "SELECT 'insert into t values (1)' AS text",
    '/* comment */ SELECT 1',
  ];
  for (const sql of reads) assert.equal(replicaSafe(sql), true, sql);
  const others = [
    'UPDATE acct SET v = v + 1 WHERE id = 1',
    'DELETE FROM acct WHERE id = $1',
    'INSERT INTO acct VALUES (1, 2)',
    'INSERT INTO acct SELECT * FROM acct2 ON CONFLICT DO NOTHING',
    'SELECT * FROM acct FOR UPDATE',
    'SELECT * FROM acct FOR SHARE',
    'SELECT 1 INTO newtable',
    'WITH d AS (DELETE FROM acct RETURNING *) SELECT * FROM d',
    "SELECT set_config('search_path', 'x', false)",
    "SELECT nextval('s')",
    'SELECT pg_catalog.pg_terminate_backend(42)',
    'SELECT pg_backend_pid()',
    'SELECT txid_current()',
    'SELECT U&"\\006Eextval"(\'s\')',
    'EXPLAIN ANALYZE UPDATE acct SET v = 0',
    'EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1',
    'SELECT 1; UPDATE acct SET v = 0',
    'CREATE TABLE t (a int)',
    'DROP TABLE IF EXISTS t',
    'BEGIN',
    'COMMIT',
    'SET search_path = x',
    'COPY acct TO STDOUT',
    'CALL p()',
    'SELEC 1', // a syntax error: the target reports it
    '',
  ];
  for (const sql of others) assert.equal(replicaSafe(sql), false, sql);
});

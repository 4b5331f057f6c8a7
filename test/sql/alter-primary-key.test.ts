// ALTER TABLE ... ADD PRIMARY KEY on a table keyed by its hidden rowid
// (what pgbench -i sends after loading): the rows move to their new keys
// in one pass (TableStore.rekeyFrom). A NULL key is 23502, a duplicated key
// 23505 (PostgreSQL's "could not create unique index" with the key in the
// detail), and either leaves the table as it was; secondary indexes and
// unique constraints follow the rows to their new keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { sqlOutcome } from '../support/sql-outcome.ts';

async function setup(): Promise<{ run: (sql: string) => Promise<string>; close: () => Promise<void> }> {
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1 });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const run = (sql: string): Promise<string> => sqlOutcome(s, sql, { detail: true });
  return { run, close: () => engine.close() };
}

test('ADD PRIMARY KEY re-keys the rows; lookups, order and inserts use the new key', async () => {
  const { run, close } = await setup();
  try {
    await run('CREATE TABLE a (aid int NOT NULL, bid int, filler text)');
    // Inserted out of key order, 2,000 rows (several scan pages).
    await run("INSERT INTO a SELECT (i * 7919) % 2000 + 1, i % 10, 'x' || i FROM generate_series(0, 1999) i");
    await run('CREATE INDEX a_bid ON a (bid)');
    assert.equal(await run('ALTER TABLE a ADD PRIMARY KEY (aid)'), 'ALTER TABLE');
    assert.equal(await run('SELECT count(*), min(aid), max(aid) FROM a'), '2000,1,2000');
    assert.equal(await run('SELECT aid FROM a ORDER BY aid LIMIT 3'), '1;2;3');
    assert.equal(await run('SELECT bid, filler FROM a WHERE aid = 1'), '0,x0');
    // The secondary index points at the new keys.
    assert.equal(await run('SELECT count(*) FROM a WHERE bid = 3'), '200');
    assert.equal(
      await run('INSERT INTO a VALUES (5, 0, NULL)'),
      '23505 duplicate key value violates unique constraint "a_pkey" / Key (aid)=(5) already exists.',
    );
    assert.equal(await run('INSERT INTO a VALUES (2001, 0, NULL)'), 'INSERT 0 1');
    assert.equal(await run('UPDATE a SET aid = 3000 WHERE aid = 2001'), 'UPDATE 1');
    assert.equal(await run('SELECT count(*) FROM a WHERE aid = 3000'), '1');
    assert.equal(await run("SELECT conname, contype FROM pg_constraint WHERE conrelid = 'a'::regclass"), 'a_pkey,p');
  } finally {
    await close();
  }
});

test('ADD PRIMARY KEY over a duplicated or NULL key fails and leaves the table as it was', async () => {
  const { run, close } = await setup();
  try {
    await run('CREATE TABLE t (k int, v text)');
    await run("INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 1500) i");
    await run("INSERT INTO t VALUES (700, 'again')");
    assert.equal(
      await run('ALTER TABLE t ADD PRIMARY KEY (k)'),
      '23505 could not create unique index "t_pkey" / Key (k)=(700) is duplicated.',
    );
    assert.equal(await run('SELECT count(*), count(DISTINCT k) FROM t'), '1501,1500');
    assert.equal(await run('SELECT count(*) FROM t WHERE k = 700'), '2');
    // Still no primary key: another duplicate goes in.
    assert.equal(await run("INSERT INTO t VALUES (700, 'third')"), 'INSERT 0 1');
    // NULL is reported before duplicates (PostgreSQL sets NOT NULL first).
    await run('INSERT INTO t VALUES (NULL, NULL)');
    assert.equal(
      await run('ALTER TABLE t ADD PRIMARY KEY (k)'),
      '23502 column "k" of relation "t" contains null values',
    );
    // Inside a transaction block: the block is aborted, ROLLBACK restores everything.
    await run('BEGIN');
    await run('DELETE FROM t WHERE k IS NULL');
    assert.match(await run('ALTER TABLE t ADD PRIMARY KEY (k)'), /^23505 /);
    await run('ROLLBACK');
    assert.equal(await run('SELECT count(*), count(k) FROM t'), '1503,1502');
    // Fixed up, the key goes on; a two-column key as well.
    await run("DELETE FROM t WHERE k IS NULL OR (k = 700 AND v <> 'v700')");
    assert.equal(await run('ALTER TABLE t ADD PRIMARY KEY (k)'), 'ALTER TABLE');
    assert.equal(await run('SELECT count(*) FROM t'), '1500');
    assert.equal(await run('SELECT v FROM t WHERE k = 700'), 'v700');
    await run('CREATE TABLE p (x int, y text, UNIQUE (y))');
    await run("INSERT INTO p VALUES (1, 'a'), (1, 'b'), (2, 'a2')");
    assert.equal(await run('ALTER TABLE p ADD PRIMARY KEY (x, y)'), 'ALTER TABLE');
    assert.equal(
      await run("INSERT INTO p VALUES (3, 'a')"),
      '23505 duplicate key value violates unique constraint "p_y_key" / Key (y)=(a) already exists.',
    );
    assert.equal(await run("SELECT x FROM p WHERE y = 'b'"), '1');
  } finally {
    await close();
  }
});

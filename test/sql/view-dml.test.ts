// Privileges for INSERT/UPDATE/DELETE through an updatable view follow
// PostgreSQL: the session's role needs the privilege on the view; the base
// table is checked as the view's owner (as SELECT through a view is). A
// role that owns a view but lacks a privilege on its table cannot pass it
// on. The SQL behaviour itself (rewrites, CHECK OPTION, refusals) is in
// the golden script test/sql/golden/views-dml.sql.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { sqlOutcome } from '../support/sql-outcome.ts';

test('DML through a view checks the view for the user and the table for the view owner', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1 });
  const su = engine.createSession({ user: 'postgres', database: 'postgres' });
  const al = engine.createSession({ user: 'alice', database: 'postgres' });
  const bo = engine.createSession({ user: 'bob', database: 'postgres' });
  const run = sqlOutcome;
  try {
    await run(su, 'CREATE ROLE alice LOGIN');
    await run(su, 'CREATE ROLE bob LOGIN');
    await run(su, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await run(su, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    await run(su, 'CREATE VIEW pv AS SELECT id, v FROM t WHERE id < 100');
    // No privilege on the view: refused, naming the view.
    assert.equal(await run(al, "INSERT INTO pv VALUES (3, 'c')"), '42501 permission denied for view pv');
    await run(su, 'GRANT SELECT, INSERT, UPDATE, DELETE ON pv TO alice');
    // Granted on the view only: the table is the owner's business.
    assert.equal(await run(al, "INSERT INTO pv VALUES (3, 'c')"), 'INSERT 0 1');
    assert.equal(await run(al, "UPDATE pv SET v = 'bb' WHERE id = 2"), 'UPDATE 1');
    assert.equal(await run(al, 'DELETE FROM pv WHERE id = 1'), 'DELETE 1');
    assert.equal(await run(al, 'SELECT id, v FROM pv ORDER BY id'), '2,bb;3,c');
    assert.equal(await run(al, "INSERT INTO t VALUES (4, 'd')"), '42501 permission denied for table t');
    // INSERT granted without UPDATE: UPDATE through the view is refused.
    await run(su, 'REVOKE UPDATE ON pv FROM alice');
    assert.equal(await run(al, "UPDATE pv SET v = 'x'"), '42501 permission denied for view pv');
    // A view owned by bob, who may only read t: bob's view cannot write t for anybody.
    await run(su, 'GRANT SELECT ON t TO bob');
    await run(su, 'GRANT CREATE ON SCHEMA public TO bob');
    assert.equal(await run(bo, 'CREATE VIEW bv AS SELECT id, v FROM t'), 'CREATE VIEW');
    assert.equal(await run(bo, 'GRANT SELECT, INSERT ON bv TO alice'), 'GRANT');
    assert.equal(await run(al, 'SELECT count(*) FROM bv'), '2');
    assert.equal(await run(al, "INSERT INTO bv VALUES (5, 'e')"), '42501 permission denied for table t');
    assert.equal(await run(bo, "INSERT INTO bv VALUES (5, 'e')"), '42501 permission denied for table t');
  } finally {
    await engine.close();
  }
});

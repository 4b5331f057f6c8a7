// Privileges enforced for sessions of an ordinary role (42501), next to a
// superuser's session on the same engine: SELECT/INSERT/UPDATE/DELETE/
// TRUNCATE on tables, USAGE on a SERIAL column's sequence, EXECUTE on
// functions, CREATE on schemas, ownership for DROP/ALTER, REVOKE on a
// pg_catalog relation, the owner of a table a role created, and a GRANT by
// a role without the grant option (a warning, nothing granted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { sqlOutcome } from '../support/sql-outcome.ts';

test('an ordinary role can do what it was granted and nothing else', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1 });
  const su = engine.createSession({ user: 'postgres', database: 'postgres' });
  const al = engine.createSession({ user: 'alice', database: 'postgres' });
  const run = sqlOutcome;
  try {
    await run(su, 'CREATE ROLE alice LOGIN');
    await run(su, 'CREATE TABLE t (id serial PRIMARY KEY, v text)');
    await run(su, "INSERT INTO t (v) VALUES ('a')");
    assert.equal(await run(al, 'SELECT v FROM t'), '42501 permission denied for table t');
    assert.equal(await run(al, "SELECT has_table_privilege('t', 'SELECT')"), 'f');
    await run(su, 'GRANT SELECT, INSERT ON t TO alice');
    assert.equal(await run(al, 'SELECT v FROM t'), 'a');
    // The SERIAL default calls nextval: USAGE on the sequence is needed too, as in PostgreSQL.
    assert.equal(await run(al, "INSERT INTO t (v) VALUES ('b')"), '42501 permission denied for sequence t_id_seq');
    await run(su, 'GRANT USAGE ON SEQUENCE t_id_seq TO alice');
    assert.equal(await run(al, "INSERT INTO t (v) VALUES ('b')"), 'INSERT 0 1');
    assert.equal(await run(al, "UPDATE t SET v = 'x'"), '42501 permission denied for table t');
    assert.equal(await run(al, 'DELETE FROM t WHERE id = 1'), '42501 permission denied for table t');
    assert.equal(await run(al, 'TRUNCATE t'), '42501 permission denied for table t');
    assert.equal(await run(al, 'DROP TABLE t'), '42501 must be owner of table t');
    assert.equal(await run(al, 'ALTER TABLE t ADD COLUMN w int'), '42501 must be owner of table t');
    assert.equal(await run(al, 'ALTER TABLE t RENAME TO t2'), '42501 must be owner of table t');
    assert.equal(await run(al, 'CREATE INDEX t_v ON t (v)'), '42501 must be owner of table t');
    assert.equal(await run(al, 'DROP SEQUENCE t_id_seq'), '42501 must be owner of sequence t_id_seq');
    assert.match(await run(al, 'GRANT SELECT ON t TO alice'), /^GRANT$/);
    await run(su, 'GRANT UPDATE, DELETE ON t TO alice');
    assert.equal(await run(al, "UPDATE t SET v = 'x' WHERE id = 2"), 'UPDATE 1');
    assert.equal(await run(al, 'DELETE FROM t WHERE id = 2'), 'DELETE 1');
    await run(su, 'REVOKE ALL ON t FROM alice');
    assert.equal(await run(al, 'SELECT v FROM t'), '42501 permission denied for table t');
    // A prepared statement bound before the REVOKE is checked again (the catalog version changed).
    await run(su, 'GRANT SELECT ON t TO alice');
    await al.prepare('p', 'SELECT count(*) FROM t', []);
    al.bind('', 'p', [], [], []);
    assert.equal((await al.execute('', 0)).rows?.[0]?.[0]?.toString(), '1');
    await run(su, 'REVOKE SELECT ON t FROM alice');
    al.bind('', 'p', [], [], []);
    await assert.rejects(al.execute('', 0), (e: unknown) => e instanceof NextDbError && e.code === '42501');
    // Functions: EXECUTE is PUBLIC's until revoked.
    await run(su, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 7'");
    assert.equal(await run(al, 'SELECT f()'), '7');
    await run(su, 'REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC');
    assert.equal(await run(al, 'SELECT f()'), '42501 permission denied for function f');
    assert.equal(await run(al, 'DROP FUNCTION f()'), '42501 must be owner of function f');
    // Schemas: PostgreSQL 15 gives PUBLIC no CREATE on public.
    assert.equal(await run(al, 'CREATE TABLE mine (a int)'), '42501 permission denied for schema public');
    await run(su, 'GRANT CREATE ON SCHEMA public TO alice');
    assert.equal(await run(al, 'CREATE TABLE mine (a int)'), 'CREATE TABLE');
    assert.equal(await run(al, 'INSERT INTO mine VALUES (1)'), 'INSERT 0 1');
    assert.equal(await run(al, 'GRANT SELECT ON mine TO PUBLIC'), 'GRANT');
    assert.equal(await run(su, "SELECT relacl FROM pg_class WHERE relname = 'mine'"), '{alice=arwdDxt/alice,=r/alice}');
    assert.equal(await run(al, 'DROP TABLE mine'), 'DROP TABLE');
    // Views read their tables with the view owner's privileges.
    // (PostgreSQL creates this view and fails when it is read; NextDB checks the creator at CREATE VIEW.)
    assert.equal(await run(al, 'CREATE VIEW peek AS SELECT v FROM t'), '42501 permission denied for table t');
    await run(su, 'CREATE VIEW shown AS SELECT count(*) AS n FROM t');
    assert.equal(await run(al, 'SELECT n FROM shown'), '42501 permission denied for view shown');
    await run(su, 'GRANT SELECT ON shown TO alice');
    assert.equal(await run(al, 'SELECT n FROM shown'), '1');
    assert.equal(await run(al, 'SELECT count(*) FROM t'), '42501 permission denied for table t');
    // A catalog relation revoked from PUBLIC; superusers are not affected.
    await run(su, 'REVOKE SELECT ON pg_catalog.pg_type FROM PUBLIC');
    assert.equal(await run(al, 'SELECT count(*) > 0 FROM pg_type'), '42501 permission denied for table pg_type');
    assert.equal(await run(su, 'SELECT count(*) > 0 FROM pg_type'), 't');
    await run(su, 'GRANT SELECT ON pg_catalog.pg_type TO PUBLIC');
    assert.equal(await run(al, 'SELECT count(*) > 0 FROM pg_type'), 't');
  } finally {
    await su.close();
    await al.close();
    await engine.close();
  }
});

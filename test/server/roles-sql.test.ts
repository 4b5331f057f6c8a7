// Roles through the real SQL engine: CREATE ROLE/USER ... PASSWORD stores a
// SCRAM-SHA-256 verifier in the catalog, SqlEngine.lookupRole serves the
// server's authentication: a SCRAM login of a created role works, a wrong
// password gets 28P01, NOLOGIN gets 28000, ALTER ROLE ... PASSWORD and DROP
// ROLE take effect at the next login; pg_roles / pg_authid show the roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestServer } from './harness.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';

async function login(port: number, user: string, password: string): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return `ok ${user}`;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.end().catch(() => undefined);
  }
}

test('SCRAM login of roles created with CREATE ROLE / CREATE USER; wrong password 28P01', async () => {
  const engine = new MemoryEngine();
  const sql = await SqlEngine.open({ engine });
  const admin = sql.createSession({ user: 'postgres', database: 'postgres' });
  const ts = await startTestServer({
    provider: { createSession: (s) => sql.createSession(s), lookupRole: (n) => sql.lookupRole(n) },
    engine,
    auth: { local: 'scram-sha-256', superuserPassword: 'boot' },
  });
  try {
    await admin.simpleQuery("CREATE USER alice PASSWORD 'wonderland'");
    await admin.simpleQuery("CREATE ROLE bob LOGIN PASSWORD 'builder'");
    await admin.simpleQuery("CREATE ROLE carol PASSWORD 'x'");
    assert.equal(await login(ts.port, 'alice', 'wonderland'), 'ok alice');
    assert.equal(await login(ts.port, 'alice', 'wonderlanD'), '28P01');
    assert.equal(await login(ts.port, 'bob', 'builder'), 'ok bob');
    assert.equal(await login(ts.port, 'carol', 'x'), '28000');
    assert.equal(await login(ts.port, 'nobody', 'x'), '28P01');
    assert.equal(await login(ts.port, 'postgres', 'boot'), 'ok postgres');
    await admin.simpleQuery("ALTER ROLE alice PASSWORD 'new'");
    assert.equal(await login(ts.port, 'alice', 'wonderland'), '28P01');
    assert.equal(await login(ts.port, 'alice', 'new'), 'ok alice');
    await admin.simpleQuery("ALTER ROLE postgres PASSWORD 'changed'");
    assert.equal(await login(ts.port, 'postgres', 'changed'), 'ok postgres');
    await admin.simpleQuery('DROP ROLE bob');
    assert.equal(await login(ts.port, 'bob', 'builder'), '28P01');
    const [r] = await admin.simpleQuery(
      'SELECT rolname, rolcanlogin, rolsuper, rolpassword FROM pg_roles ORDER BY oid',
    );
    assert.deepEqual(
      r!.rows!.map((x) => x.map((v) => v?.toString() ?? null)),
      [
        ['postgres', 't', 't', '********'],
        ['alice', 't', 'f', '********'],
        ['carol', 'f', 'f', '********'],
      ],
    );
    const [a] = await admin.simpleQuery("SELECT rolpassword FROM pg_authid WHERE rolname = 'alice'");
    assert.match(a!.rows![0]![0]!.toString(), /^SCRAM-SHA-256\$4096:[^$]+\$[^:]+:.+$/);
  } finally {
    await ts.stop();
    await sql.close();
  }
});

test('role DDL errors: duplicates, missing roles, the bootstrap superuser, unsupported options; DDL is transactional', async () => {
  const sql = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = sql.createSession({ user: 'postgres', database: 'postgres' });
  const code = async (q: string): Promise<string> => {
    try {
      await s.simpleQuery(q);
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  try {
    assert.equal(await code('CREATE ROLE r1'), 'ok');
    assert.equal(await code('CREATE ROLE r1'), '42710');
    assert.equal(await code('CREATE ROLE postgres'), '42710');
    assert.equal(await code('DROP ROLE nope'), '42704');
    assert.equal(await code('DROP ROLE IF EXISTS nope'), 'ok');
    assert.equal(await code('DROP ROLE postgres'), '55006');
    assert.equal(await code('ALTER ROLE nope PASSWORD NULL'), '42704');
    assert.equal(await code('CREATE ROLE r2 CREATEDB'), '0A000');
    assert.equal(await code('BEGIN'), 'ok');
    assert.equal(await code("CREATE USER gone PASSWORD 'p'"), 'ok');
    assert.equal(await code('ROLLBACK'), 'ok');
    assert.equal(await sql.lookupRole('gone'), undefined);
    assert.deepEqual(await sql.lookupRole('r1'), { name: 'r1', canLogin: false, superuser: false, password: null });
  } finally {
    await sql.close();
  }
});

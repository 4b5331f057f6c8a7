// Protocol fuzz test (short): random and mutated message streams against an
// in-process server; after every round a well-behaved client must still get
// correct answers, and nothing may escape as an uncaught exception. Long
// sweeps: `npm run sim -- wire-fuzz --seeds N` (test/sim/wire-fuzz.sim.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestServer, tlsCertPath, tlsKeyPath } from './harness.ts';
import { fuzzServer, checkHealthy, sqlDialect } from './wire-fuzz.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';

test('fuzz: 240 random/mutated streams; the server keeps serving a well-behaved client', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => {
    uncaught.push(e);
  };
  process.on('uncaughtException', onUncaught);
  const ts = await startTestServer({ limits: { maxMessageBytes: 1 << 20, idleInTransactionTimeoutMs: 0 } });
  try {
    for (const seed of [1, 2, 3]) await fuzzServer(ts.port, seed, 80);
    await checkHealthy(ts.port);
    assert.deepEqual(uncaught, []);
    // Every fuzz connection has gone: nothing leaks in the registry.
    for (let i = 0; i < 50 && ts.server.registry.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ts.server.registry.size, 0);
  } finally {
    process.off('uncaughtException', onUncaught);
    await ts.stop();
  }
});

test('fuzz with TLS configured: SSLRequest answered S, then garbage instead of a handshake', async () => {
  const ts = await startTestServer({ tls: { cert: readFileSync(tlsCertPath), key: readFileSync(tlsKeyPath) } });
  try {
    await fuzzServer(ts.port, 4, 80);
    await checkHealthy(ts.port);
  } finally {
    await ts.stop();
  }
});

test('fuzz against the real SQL engine: odd message orders reach real sessions; the server keeps serving', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => {
    uncaught.push(e);
  };
  process.on('uncaughtException', onUncaught);
  const engine = new MemoryEngine();
  const sql = await SqlEngine.open({ engine });
  const ts = await startTestServer({ provider: sql, engine });
  try {
    await fuzzServer(ts.port, 5, 80, 4, 30, sqlDialect);
    await sqlDialect.checkHealthy(ts.port);
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await ts.stop();
    await sql.close();
  }
});

// pg_sleep, pg_sleep_for, pg_sleep_until, pg_cancel_backend and
// pg_terminate_backend through a real server (node-postgres), run the same
// way against NextDB and, when its binaries are installed, a throw-away
// PostgreSQL 15: same results, same SQLSTATEs and messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startSqlTestServer } from './harness.ts';
import { findPostgres, startPostgres } from '../support/pg-server.ts';

interface Target {
  connect(user?: string): Promise<pg.Client>;
}

async function withNextDb(body: (t: Target) => Promise<void>): Promise<void> {
  const ts = await startSqlTestServer();
  try {
    await body({
      connect: async (user = 'postgres') => {
        const c = new pg.Client({ host: '127.0.0.1', port: ts.port, user, database: 'postgres' });
        await c.connect();
        return c;
      },
    });
  } finally {
    await ts.stop();
  }
}

async function withPostgres(body: (t: Target) => Promise<void>): Promise<void> {
  const server = await startPostgres(16450 + Math.floor(Math.random() * 100));
  try {
    await body({
      connect: async (user = 'postgres') => {
        for (let attempt = 0; ; attempt++) {
          const c = new pg.Client({ host: '127.0.0.1', port: server.port, user, database: 'postgres' });
          try {
            await c.connect();
            return c;
          } catch (e) {
            if (attempt >= 40) throw e;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      },
    });
  } finally {
    await server.stop();
  }
}

const targets: [string, (body: (t: Target) => Promise<void>) => Promise<void>, string | false][] = [
  ['nextdb', withNextDb, false],
  ['postgres', withPostgres, findPostgres() === undefined ? 'PostgreSQL 15 binaries not found' : false],
];

const failure = async (p: Promise<unknown>): Promise<pg.DatabaseError> => {
  try {
    await p;
  } catch (e) {
    return e as pg.DatabaseError;
  }
  throw new Error('expected an error');
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const [name, run, skip] of targets) {
  test(
    `${name}: pg_sleep waits without blocking other sessions; cancel and statement_timeout end it with 57014`,
    { skip },
    async () => {
      await run(async (t) => {
        const a = await t.connect();
        const b = await t.connect();
        try {
          const started = performance.now();
          const r = await a.query(
            "SELECT pg_sleep(0.2) AS s, pg_sleep(NULL) IS NULL AS n, pg_sleep_for('0.05 seconds') AS f, pg_sleep_until(clock_timestamp() + interval '0.05 seconds') AS u",
          );
          assert.deepEqual(r.rows, [{ s: '', n: true, f: '', u: '' }]);
          assert.ok(performance.now() - started >= 250, 'pg_sleep returned early');
          assert.deepEqual((await a.query('SELECT pg_sleep(-1) AS s')).rows, [{ s: '' }]);

          await a.query('SET statement_timeout = 100');
          const timedOut = await failure(a.query("SELECT pg_sleep_for('1 minute')"));
          assert.equal(timedOut.code, '57014');
          assert.equal(timedOut.message, 'canceling statement due to statement timeout');
          await a.query('RESET statement_timeout');

          // A long sleep in a: b still answers meanwhile, then a CancelRequest ends the sleep.
          let settled = false;
          const sleeping = failure(a.query('SELECT pg_sleep(60)')).finally(() => (settled = true));
          await sleep(200);
          assert.deepEqual((await b.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
          assert.equal(settled, false);
          const canceller = new pg.Client({ host: a.host, port: a.port, user: 'postgres' });
          (canceller as unknown as { cancel(client: pg.Client, query: unknown): void }).cancel(
            a,
            (a as unknown as { activeQuery: unknown }).activeQuery,
          );
          const cancelled = await sleeping;
          assert.equal(cancelled.code, '57014');
          assert.equal(cancelled.message, 'canceling statement due to user request');

          assert.deepEqual((await a.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
        } finally {
          await a.end();
          await b.end();
        }
      });
    },
  );

  test(
    `${name}: pg_cancel_backend and pg_terminate_backend by pid, superuser or same role only`,
    { skip },
    async () => {
      await run(async (t) => {
        const admin = await t.connect();
        await admin.query('CREATE ROLE alice LOGIN');
        await admin.query('CREATE ROLE bob LOGIN');
        const victim = await t.connect();
        const alice1 = await t.connect('alice');
        const alice2 = await t.connect('alice');
        const bob = await t.connect('bob');
        const clients = [admin, victim, alice1, alice2, bob];
        const fatal = new Map<pg.Client, Promise<pg.DatabaseError>>();
        for (const c of clients) {
          fatal.set(c, new Promise((resolve) => c.on('error', (e) => resolve(e as pg.DatabaseError))));
        }
        const pidOf = async (c: pg.Client): Promise<number> =>
          (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
        try {
          const victimPid = await pidOf(victim);
          assert.equal(victimPid, (victim as unknown as { processID: number }).processID);
          const alice1Pid = await pidOf(alice1);
          const bobPid = await pidOf(bob);

          // Cancel: the sleeping statement ends with 57014, the session goes on.
          const sleeping = failure(victim.query('SELECT pg_sleep(60)'));
          await sleep(200);
          assert.deepEqual((await admin.query('SELECT pg_cancel_backend($1) AS ok', [victimPid])).rows, [{ ok: true }]);
          const cancelled = await sleeping;
          assert.equal(cancelled.code, '57014');
          assert.equal(cancelled.message, 'canceling statement due to user request');
          assert.deepEqual((await victim.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
          // No such backend: false (PostgreSQL adds a WARNING).
          assert.deepEqual(
            (await admin.query('SELECT pg_cancel_backend(2147483647) AS c, pg_terminate_backend(2147483647) AS t'))
              .rows,
            [{ c: false, t: false }],
          );
          assert.deepEqual((await admin.query('SELECT pg_cancel_backend(NULL) AS c')).rows, [{ c: null }]);

          // Permission: same role yes; another role or a superuser's session no.
          assert.deepEqual((await alice2.query('SELECT pg_cancel_backend($1) AS ok', [alice1Pid])).rows, [
            { ok: true },
          ]);
          const denied = [
            [`SELECT pg_cancel_backend(${victimPid})`, 'must be a superuser to cancel superuser query'],
            [`SELECT pg_terminate_backend(${victimPid})`, 'must be a superuser to terminate superuser process'],
            [
              `SELECT pg_cancel_backend(${bobPid})`,
              'must be a member of the role whose query is being canceled or member of pg_signal_backend',
            ],
            [
              `SELECT pg_terminate_backend(${bobPid})`,
              'must be a member of the role whose process is being terminated or member of pg_signal_backend',
            ],
          ] as const;
          for (const [sql, message] of denied) {
            const e = await failure(alice2.query(sql));
            assert.equal(e.code, '42501', sql);
            assert.equal(e.message, message, sql);
          }
          const negative = await failure(admin.query(`SELECT pg_terminate_backend(${bobPid}, -1)`));
          assert.equal(negative.code, '22003', negative.message);
          assert.equal(negative.message, '"timeout" must not be negative');

          // Terminate: that connection gets FATAL 57P01 (as the error of its running statement, if any) and closes; others go on.
          const aliceSleep = failure(alice1.query('SELECT pg_sleep(60)'));
          await sleep(200);
          assert.deepEqual((await alice2.query('SELECT pg_terminate_backend($1) AS ok', [alice1Pid])).rows, [
            { ok: true },
          ]);
          const aliceErr = await aliceSleep;
          assert.equal(aliceErr.code, '57P01');
          assert.equal(aliceErr.message, 'terminating connection due to administrator command');
          assert.deepEqual((await admin.query('SELECT pg_terminate_backend($1, 1000) AS ok', [victimPid])).rows, [
            { ok: true },
          ]);
          {
            const e = await fatal.get(victim)!;
            assert.equal(e.code, '57P01');
            assert.equal(e.message, 'terminating connection due to administrator command');
            assert.equal(e.severity, 'FATAL');
          }
          for (const c of [alice1, victim]) await assert.rejects(c.query('SELECT 1'));
          assert.deepEqual((await alice2.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
        } finally {
          for (const c of clients) await c.end().catch(() => undefined);
        }
      });
    },
  );
}

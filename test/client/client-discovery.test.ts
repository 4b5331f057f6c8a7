// Member discovery of the client library (src/client/discovery.ts and the
// routing in src/client/client.ts): the client is given one seed host,
// asks it for the cluster's members (GET /api/cluster), routes to the
// leader, moves to another member when the leader fails and asks again,
// and drops members the cluster no longer lists.
//
// The seed is a small fake HTTP server answering /api/cluster with a view
// the test controls (the shape src/server/cluster-server.ts serves); the
// members are PostgreSQL 15 servers, so which member a query ran on is
// `current_setting('port')`. client-cluster.test.ts runs the same against
// real NextDB nodes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../src/client/index.ts';
import { parseClusterView, type ClusterView } from '../../src/client/discovery.ts';
import { findPostgres, startPostgres, type PgServer } from '../support/pg-server.ts';

const skip = findPostgres() === undefined ? 'PostgreSQL 15 binaries not found' : false;

test('parseClusterView accepts the /api/cluster shape and nothing else', () => {
  const good = {
    nodeId: 2,
    leaderId: 1,
    term: 3,
    members: [
      { id: 1, address: '127.0.0.1:8080', role: 'leader', voter: true, applied: 10, healthy: true },
      { id: 2, address: null, role: 'learner', voter: false, applied: 0, healthy: true },
    ],
  };
  assert.deepEqual(parseClusterView(good), good);
  assert.equal(parseClusterView({ ...good, leaderId: null })?.leaderId, null);
  // A follower cut off from the leader does not know its peers' progress or health: null.
  const unknown = { ...good, members: [{ ...good.members[0]!, applied: null, healthy: null }] };
  assert.deepEqual(parseClusterView(unknown), unknown);
  for (const bad of [
    null,
    [],
    'x',
    { ...good, nodeId: '2' },
    { ...good, members: {} },
    { ...good, members: [{ ...good.members[0], address: 5 }] },
    { ...good, members: [{ ...good.members[0], healthy: 'yes' }] },
    { ...good, members: [{ ...good.members[0], applied: '10' }] },
    { ...good, members: [{ ...good.members[0], id: -1 }] },
    { nodeId: 1, leaderId: 1, members: [] },
  ]) {
    assert.equal(parseClusterView(bad), undefined, JSON.stringify(bad));
  }
});

describe('client member discovery', { skip }, () => {
  let a: PgServer;
  let b: PgServer;
  let seed: http.Server;
  let seedPort: number;
  let view: ClusterView | string;
  let asked = 0;

  const member = (id: number, port: number, role: string, healthy = true): ClusterView['members'][number] => ({
    id,
    address: `127.0.0.1:${port}`,
    role,
    voter: true,
    applied: 1,
    healthy,
  });

  before(async () => {
    [a, b] = await Promise.all([startPostgres(16484), startPostgres(16485)]);
    seed = http.createServer((req, res) => {
      if (req.url !== '/api/cluster') {
        res.writeHead(404).end();
        return;
      }
      asked++;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(typeof view === 'string' ? view : JSON.stringify(view));
    });
    await new Promise<void>((r) => seed.listen(0, '127.0.0.1', r));
    seedPort = (seed.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((r) => seed?.close(r));
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const portOf = async (client: ReturnType<typeof createClient>): Promise<number> =>
    Number((await client.query<{ p: string }>("SELECT current_setting('port') AS p")).rows[0]?.p);

  test('one seed: learns the members, routes to the leader, follows a new leader after a failure', async () => {
    view = { nodeId: 9, leaderId: 2, term: 1, members: [member(1, a.port, 'follower'), member(2, b.port, 'leader')] };
    asked = 0;
    const client = createClient({
      hosts: [`127.0.0.1:${seedPort}`],
      user: 'postgres',
      database: 'postgres',
      pool: { max: 2 },
      retry: { maxAttempts: 20, maxDelayMs: 100 },
      discovery: { intervalMs: 60_000 },
    });
    try {
      assert.equal(await portOf(client), b.port, 'the first query went to the leader');
      assert.equal(asked, 1);
      assert.deepEqual(
        client.members().map((m) => [m.port, m.nodeId, m.role, m.preferred]),
        [
          [a.port, 1, 'follower', false],
          [b.port, 2, 'leader', true],
        ],
        'the seed is not a member: only the listed members are routed to',
      );

      // The leader dies. The failure makes the client ask again, but the
      // answer still names the dead node (no election yet): a read is retried
      // on node 1 without an error, and the client keeps asking on its own
      // until the answer names a leader it can use.
      view = {
        nodeId: 9,
        leaderId: 2,
        term: 1,
        members: [member(1, a.port, 'follower'), member(2, b.port, 'leader', false)],
      };
      await b.stop();
      assert.equal(await portOf(client), a.port, 'moved to the other member without an error');
      for (let i = 0; i < 100 && asked < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(asked >= 2, 'the failure made the client ask again');
      view = {
        nodeId: 9,
        leaderId: 1,
        term: 2,
        members: [member(1, a.port, 'leader'), member(2, b.port, 'follower', false)],
      };
      const leaderOf = (): number | undefined => client.members().find((x) => x.role === 'leader')?.port;
      for (let i = 0; i < 250 && leaderOf() !== a.port; i++) await new Promise((r) => setTimeout(r, 20));
      const m = client.members();
      assert.deepEqual(
        m.map((x) => [x.port, x.role, x.preferred]),
        [
          [a.port, 'leader', true],
          [b.port, 'follower', false],
        ],
        'learned the new leader without another failure or an explicit refresh',
      );
      assert.equal(m.find((x) => x.port === b.port)?.healthy, false);
      const askedAfterElection = asked;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(asked, askedAfterElection, 'no more follow-up requests once a usable leader is known');

      // Node 2 leaves the cluster: it is no longer routed to.
      view = { nodeId: 9, leaderId: 1, term: 2, members: [member(1, a.port, 'leader')] };
      await client.refreshMembers();
      assert.deepEqual(
        client.members().map((x) => x.port),
        [a.port],
      );
      assert.equal(await portOf(client), a.port);
    } finally {
      await client.close();
    }
  });

  test("a url seed: members get the URL's user and database, with their own host and port", async () => {
    view = { nodeId: 1, leaderId: 1, term: 1, members: [member(1, a.port, 'leader')] };
    const viaUrl = createClient({
      url: `postgres://postgres@127.0.0.1:${seedPort}/template1`,
      discovery: { intervalMs: 60_000 },
    });
    try {
      const r = await viaUrl.query<{ p: string; db: string; u: string }>(
        "SELECT current_setting('port') AS p, current_database() AS db, current_user AS u",
      );
      assert.deepEqual(r.rows[0], { p: String(a.port), db: 'template1', u: 'postgres' });
    } finally {
      await viaUrl.close();
    }
  });

  test('members without an address are skipped; an answer of another shape leaves the seeds in place', async () => {
    view = {
      nodeId: 1,
      leaderId: 1,
      term: 1,
      members: [{ ...member(1, a.port, 'leader') }, { ...member(2, 0, 'learner'), address: null }],
    };
    const one = createClient({ hosts: [`127.0.0.1:${seedPort}`], user: 'postgres', discovery: { intervalMs: 60_000 } });
    try {
      assert.equal(await portOf(one), a.port);
      assert.deepEqual(
        one.members().map((x) => x.port),
        [a.port],
      );
    } finally {
      await one.close();
    }

    // A server without /api/cluster (here PostgreSQL itself, which closes the
    // connection on an HTTP request) or with another answer: the seeds are the hosts.
    view = '{"not":"a view"}';
    const plain = createClient({ hosts: [`127.0.0.1:${a.port}`], user: 'postgres', discovery: { intervalMs: 60_000 } });
    const odd = createClient({
      hosts: [`127.0.0.1:${seedPort}`, `127.0.0.1:${a.port}`],
      user: 'postgres',
      discovery: { intervalMs: 60_000 },
    });
    try {
      assert.equal(await portOf(plain), a.port);
      assert.deepEqual(
        plain.members().map((x) => [x.port, x.nodeId]),
        [[a.port, undefined]],
      );
      await odd.refreshMembers();
      assert.deepEqual(
        odd.members().map((x) => x.port),
        [seedPort, a.port],
      );
    } finally {
      await plain.close();
      await odd.close();
    }
  });
});

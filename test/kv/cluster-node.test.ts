// ClusterNode end to end in one process (test/kv/cluster-harness.ts): a
// transaction committed on the leader is applied on every replica; followers
// refuse with the leader's id; a leader cut off mid-commit fails its
// transactions with 40003/40001 and the next leader recovers; lagging and
// restarted nodes catch up (snapshot install, log replay); stale reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATEMENT_COMPLETION_UNKNOWN } from '../../src/kv/replicated-engine.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';
import { Harness } from './cluster-harness.ts';

const b = (s: string): Buffer => Buffer.from(s);

async function commitPut(h: Harness, key: string, value: string): Promise<void> {
  const leader = await h.leader();
  const txn = await h.drive(leader.begin());
  await h.drive(txn.put(b(key), b(value)));
  await h.drive(txn.commit());
}

async function read(h: Harness, key: string): Promise<string | undefined> {
  const leader = await h.leader();
  const txn = await h.drive(leader.begin({ readOnly: true }));
  const v = await h.drive(txn.get(b(key)));
  await h.drive(txn.commit());
  return v?.toString();
}

test('a transaction committed on the leader is applied, byte-identical, on every replica', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  await commitPut(h, 'a', '1');
  await commitPut(h, 'b', '2');
  assert.equal(await read(h, 'a'), '1');
  await h.converge();
  const c1 = h.content(1);
  assert.ok(c1.length > 0);
  assert.equal(h.content(2), c1);
  assert.equal(h.content(3), c1);
  assert.deepEqual(h.fatal, []);
});

test('followers refuse transactions with NotLeaderError naming the leader', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  const leader = await h.leader();
  const follower = [...h.nodes.values()].find((n) => n !== leader)!;
  await h.until(() => follower.status().leader === leader.id);
  await assert.rejects(
    follower.begin(),
    (e: unknown) =>
      e instanceof NotLeaderError &&
      e.leader === leader.id &&
      e.code === SqlState.serializationFailure &&
      new RegExp(`leader is node ${leader.id}`).test(e.message),
  );
});

test('a leader cut off mid-commit: the committing transaction gets 40003, a live one 40001, and the new leader recovers', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  await commitPut(h, 'k', 'old');
  const old = await h.leader();
  const committing = await h.drive(old.begin());
  await h.drive(committing.put(b('k'), b('new')));
  const live = await h.drive(old.begin());
  await h.drive(live.put(b('other'), b('x')));
  // Cut the leader off, then commit: the proposal enters its log but can never commit.
  h.isolated.add(old.id);
  const commit = committing.commit();
  commit.catch(() => undefined);
  await h.until(() => old.status().role !== 'leader');
  await assert.rejects(
    commit,
    (e: unknown) => e instanceof NextDbError && e.code === STATEMENT_COMPLETION_UNKNOWN && /unknown/.test(e.message),
  );
  await assert.rejects(
    live.put(b('other'), b('y')),
    (e: unknown) =>
      e instanceof NextDbError && e.code === SqlState.serializationFailure && /leadership/.test(e.message),
  );
  // The majority elects a new leader; the uncommitted write is not there.
  const next = await h.leader();
  assert.notEqual(next.id, old.id);
  assert.equal(await read(h, 'k'), 'old');
  assert.equal(await read(h, 'other'), undefined);
  // Healing: the old leader's uncommitted entry is overwritten and every replica agrees.
  h.isolated.clear();
  await commitPut(h, 'after', '1');
  await h.converge();
  assert.equal(h.content(old.id), h.content(next.id));
  assert.deepEqual(h.fatal, []);
});

test('a cut-off leader that still believes it leads never serves a stale read (ReadIndex barrier)', async () => {
  // Without check-quorum the old leader keeps its role until it hears a higher term.
  const h = new Harness([1, 2, 3], { raft: { electionTicks: 10, heartbeatTicks: 1, checkQuorum: false } });
  await h.startAll();
  await commitPut(h, 'k', 'old');
  const old = await h.leader();
  h.isolated.add(old.id);
  const next = await h.leader(); // serving() skips isolated nodes
  assert.notEqual(next.id, old.id);
  await commitPut(h, 'k', 'new');
  assert.equal(old.status().role, 'leader', 'the old leader still believes it leads');
  // A read on the old leader must not return 'old' after 'new' was acknowledged.
  const outcome = (async (): Promise<string> => {
    const txn = await old.begin({ readOnly: true });
    const v = await txn.get(b('k'));
    return v?.toString() ?? 'absent';
  })();
  outcome.catch(() => undefined);
  for (let i = 0; i < 30; i++) await h.round();
  h.isolated.clear();
  const r = await h.drive(
    outcome.then(
      (v) => `read ${v}`,
      (e: unknown) => `error ${(e as NextDbError).code}`,
    ),
  );
  assert.ok(r === 'read new' || r === `error ${SqlState.serializationFailure}`, r);
});

test('a follower that missed compacted entries catches up by snapshot', async () => {
  const h = new Harness([1, 2, 3], { compactAfterEntries: 5 });
  await h.startAll();
  const leader = await h.leader();
  const lagging = [...h.nodes.values()].find((n) => n !== leader)!;
  h.isolated.add(lagging.id);
  for (let i = 0; i < 15; i++) await commitPut(h, `key${i}`, `v${i}`);
  assert.ok(
    leader.raft.status().firstIndex > lagging.status().applied + 1,
    'the leader compacted past the lagging follower',
  );
  h.isolated.clear();
  await h.converge();
  assert.equal(h.content(lagging.id), h.content(leader.id));
  assert.equal(await read(h, 'key14'), 'v14');
  assert.deepEqual(h.fatal, []);
});

test('every node crashes and restarts: acknowledged writes survive, replicas agree', async () => {
  const h = new Harness([1, 2, 3], { compactAfterEntries: 7 });
  await h.startAll();
  for (let i = 0; i < 10; i++) await commitPut(h, `key${i}`, `v${i}`);
  for (const id of h.ids) h.crash(id);
  await h.startAll();
  for (let i = 0; i < 10; i++) assert.equal(await read(h, `key${i}`), `v${i}`);
  await commitPut(h, 'post', 'crash');
  await h.converge();
  assert.equal(h.content(1), h.content(2));
  assert.equal(h.content(1), h.content(3));
  assert.deepEqual(h.fatal, []);
});

test('membership: a new node joins as a learner, catches up (snapshot), is promoted; a voter is removed', async () => {
  const h = new Harness([1, 2, 3], { compactAfterEntries: 5 });
  await h.startAll();
  for (let i = 0; i < 12; i++) await commitPut(h, `key${i}`, `v${i}`);
  const joiner = await h.start(4, true);
  assert.equal(joiner.status().applied, 0, 'a joining node starts empty');
  const leader = await h.leader();
  assert.ok(leader.raft.status().firstIndex > 1, 'the log was compacted: the joiner needs a snapshot');
  leader.addNode(4);
  await h.until(() => leader.raft.status().conf.voters.includes(4));
  await commitPut(h, 'after-join', '1');
  await h.converge();
  assert.equal(h.content(4), h.content(leader.id), 'the new voter holds the same data');
  // Remove a voter that is not the leader; the group keeps committing without it.
  const victim = [1, 2, 3].find((id) => id !== leader.id)!;
  const l2 = await h.leader();
  await h.until(() => {
    try {
      l2.removeNode(victim);
      return true;
    } catch {
      return false; // a previous change still committing: retry next round
    }
  });
  await h.until(() => !l2.raft.status().conf.voters.includes(victim));
  h.crash(victim);
  await commitPut(h, 'after-remove', '1');
  assert.equal(await read(h, 'key11'), 'v11');
  assert.deepEqual(
    l2.raft.status().conf.voters,
    [1, 2, 3, 4].filter((id) => id !== victim),
  );
  assert.deepEqual(h.fatal, []);
});

test('stale reads on a follower see applied state without a round trip', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  await commitPut(h, 's', '1');
  await h.converge();
  const leader = await h.leader();
  const follower = [...h.nodes.values()].find((n) => n !== leader)!;
  const snap = follower.staleSnapshot();
  // The MVCC layer's head key of user key "s" is 0x02 "s".
  assert.ok(snap.get(Buffer.concat([Buffer.from([2]), b('s')])) !== undefined);
  snap.release();
});

test('single-node group: commits without peers, restarts from its own log', async () => {
  const h = new Harness([1]);
  await h.startAll();
  await commitPut(h, 'solo', '1');
  h.crash(1);
  await h.startAll();
  assert.equal(await read(h, 'solo'), '1');
});

// Unit tests of RaftNode behaviour that the golden scripts cannot express
// because they need a Ready to stay outstanding (the driver's fsync in flight).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftNode, bootstrapState } from '../../src/raft/raft-node.ts';
import { Prng } from '../../src/util/prng.ts';
import type { Message } from '../../src/raft/types.ts';

function cluster(): Map<number, RaftNode> {
  const nodes = new Map<number, RaftNode>();
  for (const id of [1, 2, 3])
    nodes.set(id, new RaftNode({ id, group: 1, prng: new Prng(id), electionTicks: 5 }, bootstrapState([1, 2, 3])));
  return nodes;
}

/** Processes every Ready of every node until quiet, delivering messages in order; returns those held for `skip`. */
function settle(nodes: Map<number, RaftNode>, skip = new Set<number>()): Message[] {
  const held: Message[] = [];
  for (let round = 0; round < 100; round++) {
    const msgs: Message[] = [];
    for (const [id, n] of nodes) {
      if (skip.has(id)) continue;
      for (let i = 0; n.hasReady(); i++) {
        if (i > 1000) throw new Error(`n${id} never runs out of Readies`);
        const rd = n.ready();
        msgs.push(...rd.messages);
        n.advance(rd);
      }
    }
    if (msgs.length === 0) return held;
    for (const m of msgs) {
      if (skip.has(m.to)) held.push(m);
      else nodes.get(m.to)!.step(m);
    }
  }
  throw new Error('did not settle');
}

test('raft node: a leader may apply and compact entries before its own fsync, and still settles', () => {
  // Regression: the simulator found a leader spinning on empty Readies after compacting
  // past its durable index (stable < snapshot index kept hasReady() true for ever).
  const nodes = cluster();
  const n1 = nodes.get(1)!;
  n1.campaign();
  settle(nodes);
  assert.equal(n1.isLeader(), true);
  const pos = n1.propose(Buffer.from('a=1'));
  const rd = n1.ready(); // the leader's fsync of this entry is "in flight"
  assert.equal(rd.entries.at(-1)?.index, pos.index);
  for (const m of rd.messages) nodes.get(m.to)!.step(m);
  // A second proposal during that fsync goes to the followers at once.
  const pos2 = n1.propose(Buffer.from('b=2'));
  for (const m of n1.takeEarlyMessages()) nodes.get(m.to)!.step(m);
  const acks = settle(nodes, new Set([1])); // followers persist and answer while n1's fsync runs
  for (const id of [2, 3]) assert.equal(nodes.get(id)!.status().lastIndex, pos2.index);
  for (const m of acks) n1.step(m);
  assert.equal(n1.status().commit, pos2.index, 'committed by the followers alone');
  const early = n1.takeEarlyCommitted();
  assert.deepEqual(
    early.map((e) => e.index),
    [pos.index, pos2.index],
  );
  n1.compact(pos2.index, Buffer.from('snapshot')); // covers pos2, which no Ready has handed out for persisting
  assert.equal(n1.status().firstIndex, pos2.index + 1);
  n1.advance(rd);
  settle(nodes);
  assert.equal(n1.hasReady(), false, 'no Ready left once everything is settled');
  assert.equal(n1.status().stable, pos2.index);
});

test('raft node: proposals and reads on a follower name the leader', () => {
  const nodes = cluster();
  nodes.get(2)!.campaign();
  settle(nodes);
  const f = nodes.get(1)!;
  assert.throws(
    () => f.propose(Buffer.from('x')),
    (e: Error & { code?: string; leader?: number }) =>
      e.name === 'NotLeaderError' && e.leader === 2 && e.code === '40001' && /leader is node 2/.test(e.message),
  );
  assert.throws(() => f.readIndex(1), /not leader/);
  assert.throws(() => f.transferLeadership(3), /not leader/);
});

test('raft node: restarts when the persisted commit index lags the snapshot', () => {
  // Regression (simulator seed 3526 of a 10000-seed sweep): a leader applied entries before
  // writing the new commit index, snapshotted them, and crashed; the restart asserted.
  const snapshot = { meta: { index: 31, term: 2, conf: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('{}') };
  const n = new RaftNode(
    { id: 1, group: 1, prng: new Prng(1) },
    {
      hardState: { term: 2, vote: 1, commit: 30 },
      snapshot,
      entries: [{ index: 32, term: 2, type: 0, data: Buffer.from('x') }],
    },
  );
  const st = n.status();
  assert.equal(st.commit, 31);
  assert.equal(st.applied, 31);
  const rd = n.ready();
  assert.equal(rd.hardState?.commit, 31, 'the raised commit index is persisted by the next Ready');
  assert.equal(rd.mustSync, false);
});

// RaftDriver: three drivers in one process, each with its own RaftLogStore on
// a SimVfs, messages delivered on a later event-loop turn. Checks the
// driver's API: a proposal on the leader resolves once applied on it and
// reaches every member; a proposal or read on a follower rejects (a rejected
// promise, never a synchronous throw) with NotLeaderError naming the leader;
// after the leader stops, the survivors elect a new one and the error names
// the new leader; a stopped driver rejects at once; a proposal or read that
// cannot complete rejects once its timeout has passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { RaftLogStore } from '../../src/raft/log-store.ts';
import { RaftNode, bootstrapState } from '../../src/raft/raft-node.ts';
import type { Entry, Message, NodeId } from '../../src/raft/types.ts';
import { EntryType } from '../../src/raft/types.ts';
import { RaftDriver } from '../../src/server/raft-driver.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { Prng } from '../../src/util/prng.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ids: NodeId[] = [1, 2, 3];

interface Member {
  readonly driver: RaftDriver;
  readonly applied: string[];
}

async function startGroup(proposalTimeoutMs = 3000): Promise<Map<NodeId, Member>> {
  const members = new Map<NodeId, Member>();
  const down = new Set<NodeId>();
  for (const id of ids) {
    const store = await RaftLogStore.open(new SimVfs({ seed: id }), '/raft');
    const init = bootstrapState(ids);
    store.save(1, { hardState: init.hardState, entries: init.entries, snapshot: undefined });
    await store.sync();
    const raft = new RaftNode({ id, group: 1, prng: new Prng(id * 31), electionTicks: 10, heartbeatTicks: 2 }, init);
    const applied: string[] = [];
    const driver = new RaftDriver({
      raft,
      store,
      tickMs: 5,
      proposalTimeoutMs,
      send: (m: Message) => {
        if (down.has(m.from) || down.has(m.to)) return;
        setImmediate(() => members.get(m.to)?.driver.step(m));
      },
      apply: (e: Entry) => {
        if (e.type === EntryType.normal && e.data.length > 0) applied.push(Buffer.from(e.data).toString());
      },
      restore: () => assert.fail('no snapshots in this test'),
    });
    const stop = driver.stop.bind(driver);
    driver.stop = async () => {
      down.add(id); // a stopped member neither sends nor receives
      await stop();
    };
    members.set(id, { driver, applied });
  }
  for (const m of members.values()) m.driver.start();
  return members;
}

async function waitLeader(members: Map<NodeId, Member>, among: readonly NodeId[]): Promise<NodeId> {
  for (let t = 0; t < 400; t++) {
    const leaders = among.filter((id) => members.get(id)!.driver.node.isLeader());
    if (leaders.length === 1) return leaders[0]!;
    await sleep(10);
  }
  throw new Error('no leader elected');
}

async function waitApplied(m: Member, value: string): Promise<void> {
  for (let t = 0; t < 300 && !m.applied.includes(value); t++) await sleep(10);
  assert.ok(m.applied.includes(value), `"${value}" applied`);
}

function isNotLeader(leader: NodeId): (e: unknown) => boolean {
  return (e: unknown) =>
    e instanceof NotLeaderError &&
    e.leader === leader &&
    e.code === '40001' &&
    e.message.includes(`leader is node ${leader}`);
}

test(
  'raft driver: proposals on the leader apply everywhere; followers answer NotLeaderError naming the leader',
  { timeout: 30_000 },
  async () => {
    const members = await startGroup();
    try {
      const leader = await waitLeader(members, ids);
      const lead = members.get(leader)!;
      await lead.driver.propose(Buffer.from('a'));
      assert.ok(lead.applied.includes('a'), 'resolved only after applying on the leader');
      for (const m of members.values()) await waitApplied(m, 'a');
      await lead.driver.read();

      const follower = ids.find((id) => id !== leader)!;
      const f = members.get(follower)!.driver;
      // Followers learn the leader from its appends/heartbeats; wait until this one has.
      for (let t = 0; t < 100 && f.node.status().leader !== leader; t++) await sleep(10);
      let pending: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        pending = f.propose(Buffer.from('b'));
      }, 'propose on a follower rejects its promise rather than throwing');
      await assert.rejects(pending!, isNotLeader(leader));
      await assert.rejects(f.read(), isNotLeader(leader));
      assert.ok(!members.get(follower)!.applied.includes('b'));

      // The leader goes away: the survivors elect a new one, and followers now name it.
      await lead.driver.stop();
      await assert.rejects(lead.driver.propose(Buffer.from('c')), /stopped/);
      const survivors = ids.filter((id) => id !== leader);
      const next = await waitLeader(members, survivors);
      await members.get(next)!.driver.propose(Buffer.from('d'));
      const other = members.get(survivors.find((id) => id !== next)!)!;
      await waitApplied(other, 'd');
      for (let t = 0; t < 100 && other.driver.node.status().leader !== next; t++) await sleep(10);
      await assert.rejects(other.driver.propose(Buffer.from('e')), isNotLeader(next));
    } finally {
      for (const m of members.values()) await m.driver.stop();
    }
  },
);

test(
  'raft driver: a proposal and a read that cannot complete reject after the timeout (57014)',
  { timeout: 30_000 },
  async () => {
    const members = await startGroup(200);
    try {
      const leader = await waitLeader(members, ids);
      const lead = members.get(leader)!;
      await lead.driver.propose(Buffer.from('a'));
      // Both followers go away (stop() marks them down at once): nothing can commit or be confirmed any more.
      // The proposal and the read are made in the same turn, before check-quorum could demote the leader.
      const stopping = ids.filter((id) => id !== leader).map((id) => members.get(id)!.driver.stop());
      const started = performance.now();
      const proposal = lead.driver.propose(Buffer.from('b'));
      const read = lead.driver.read();
      await Promise.all(stopping);
      const timedOut = (what: RegExp) => (e: unknown) =>
        e instanceof Error && (e as { code?: string }).code === '57014' && what.test(e.message);
      await Promise.all([
        assert.rejects(proposal, timedOut(/not applied within 200ms; its outcome is unknown/)),
        assert.rejects(read, timedOut(/not confirmed within 200ms/)),
      ]);
      assert.ok(performance.now() - started >= 200, 'not before the timeout');
      assert.ok(!lead.applied.includes('b'));
    } finally {
      for (const m of members.values()) await m.driver.stop();
    }
  },
);

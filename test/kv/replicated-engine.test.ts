// ReplicatedEngine on its own, with a scripted "Raft": proposals are
// collected, and the test decides when (and in which term) entries commit
// and get applied. Checks overlay visibility, batching, sync resolution only
// after apply, leadership loss (overlay dropped, 40001 vs 40003), follower
// behaviour and snapshot install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWrites } from '../../src/kv/command-codec.ts';
import { ReplicatedEngine, STATEMENT_COMPLETION_UNKNOWN } from '../../src/kv/replicated-engine.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { EntryType, type Entry } from '../../src/raft/types.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';

const b = (s: string): Buffer => Buffer.from(s);
const str = (x: Buffer | undefined): string | undefined => x?.toString();

class ScriptedRaft {
  readonly log: Entry[] = [];
  term = 1;
  constructor(private readonly firstIndex = 1) {}
  propose = (data: Uint8Array): { index: number; term: number } => {
    const index = this.firstIndex + this.log.length;
    this.log.push({ index, term: this.term, type: EntryType.normal, data: Buffer.from(data) });
    return { index, term: this.term };
  };
}

function leader(options: { proposalBytesMax?: number } = {}): {
  eng: ReplicatedEngine;
  raft: ScriptedRaft;
  local: MemoryEngine;
} {
  const local = new MemoryEngine();
  const eng = new ReplicatedEngine({ group: 1, node: 1, local, ...options });
  const raft = new ScriptedRaft();
  eng.startLeading(1, raft.propose);
  return { eng, raft, local };
}

/** Lets pending promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function state(p: Promise<void>): { done: boolean; error: unknown } {
  const s = { done: false, error: undefined as unknown };
  p.then(
    () => (s.done = true),
    (e: unknown) => {
      s.done = true;
      s.error = e;
    },
  );
  return s;
}

test('leader writes are visible at once through the overlay, not in the applied engine', () => {
  const { eng, local } = leader();
  eng.put(b('a'), b('1'));
  eng.write(new WriteBatch().put(b('b'), b('2')).put(b('c'), b('3')).delete(b('a')));
  assert.equal(eng.get(b('a')), undefined);
  assert.equal(str(eng.get(b('b'))), '2');
  assert.equal(local.get(b('b')), undefined, 'nothing reaches the applied engine before commit');
  assert.deepEqual(
    [...eng.scan()].map(([k, v]) => `${k}=${v}`),
    ['b=2', 'c=3'],
  );
  assert.equal(eng.overlaySize, 3);
});

test('several write batches are packed into one proposal; the byte limit splits between batches, never inside one', () => {
  const { eng, raft } = leader({ proposalBytesMax: 20 });
  eng.write(new WriteBatch().put(b('k1'), b('v1')).put(b('k2'), b('v2'))); // 8 bytes
  eng.put(b('k3'), b('v3')); // 4 bytes
  eng.write(new WriteBatch().put(b('k4'), b('0123456789')).put(b('k5'), b('0123456789'))); // 24 bytes: alone, over the limit
  // Reaching the limit proposes at once: the two small batches together, the big one alone.
  const opsPer = (): number[] =>
    raft.log.map((e) => {
      let n = 0;
      decodeWrites(e.data, 'test', () => n++);
      return n;
    });
  assert.deepEqual(opsPer(), [3, 2]);
  eng.put(b('k6'), b('v6'));
  eng.put(b('k7'), b('v7'));
  assert.equal(raft.log.length, 2, 'below the limit, writes wait for the driver');
  assert.equal(eng.proposePending(), 1);
  assert.deepEqual(opsPer(), [3, 2, 2]);
});

test('sync resolves only after the proposal is applied, and applying retires the overlay', async () => {
  const { eng, raft, local } = leader();
  eng.put(b('x'), b('1'));
  const s = state(eng.sync());
  eng.proposePending();
  await settle();
  assert.equal(s.done, false, 'proposed is not committed');
  eng.put(b('x'), b('2')); // a later pending write to the same key
  eng.applyEntry(raft.log[0]!);
  await settle();
  assert.equal(s.done, true);
  assert.equal(s.error, undefined);
  assert.equal(str(local.get(b('x'))), '1');
  assert.equal(str(eng.get(b('x'))), '2', 'the later pending write still shadows the applied value');
  assert.equal(eng.overlaySize, 1);
  const s2 = state(eng.sync());
  eng.proposePending();
  eng.applyEntry(raft.log[1]!);
  await settle();
  assert.equal(s2.done, true);
  assert.equal(eng.overlaySize, 0);
  assert.equal(eng.appliedIndex, 2);
});

test('leadership loss drops the overlay; syncs whose writes never reached the log get 40001, proposed ones 40003', async () => {
  const { eng, raft, local } = leader();
  eng.put(b('p'), b('1'));
  eng.proposePending();
  const proposed = state(eng.sync());
  const { eng: eng2 } = leader();
  eng2.put(b('q'), b('1'));
  const unproposed = state(eng2.sync());
  let lost = 0;
  eng.onLeadershipLost(() => lost++);
  eng.stopLeading(3);
  eng2.stopLeading(3);
  await settle();
  assert.ok(proposed.error instanceof NextDbError);
  assert.equal(proposed.error.code, STATEMENT_COMPLETION_UNKNOWN);
  assert.ok(unproposed.error instanceof NextDbError);
  assert.equal(unproposed.error.code, SqlState.serializationFailure);
  assert.match(unproposed.error.message, /leadership .* moved away/);
  assert.equal(lost, 1);
  assert.equal(eng.get(b('p')), undefined, 'overlay dropped');
  // The proposed entry may still commit under the next leader: it applies like any entry.
  eng.applyEntry(raft.log[0]!);
  assert.equal(str(eng.get(b('p'))), '1');
  assert.equal(str(local.get(b('p'))), '1');
});

test('a follower refuses writes naming the leader, serves applied state, and its sync resolves', async () => {
  const local = new MemoryEngine();
  const eng = new ReplicatedEngine({ group: 7, node: 2, local });
  eng.setLeaderHint(3);
  assert.throws(
    () => eng.put(b('a'), b('1')),
    (e: unknown) =>
      e instanceof NotLeaderError &&
      e.leader === 3 &&
      /leader is node 3/.test(e.message) &&
      /raft group 7/.test(e.message),
  );
  const other = leader();
  other.eng.put(b('a'), b('1'));
  other.eng.proposePending();
  eng.applyEntry(other.raft.log[0]!);
  assert.equal(str(eng.get(b('a'))), '1');
  await eng.sync();
});

test('replica-local keys (0xff prefix) cannot be written and never show in reads', () => {
  const { eng, local } = leader();
  assert.throws(() => eng.put(Buffer.from([0xff, 1]), b('x')), /reserved/);
  eng.put(b('a'), b('1'));
  local.put(Buffer.from([0xff, 9]), b('local'));
  assert.deepEqual(
    [...eng.scan()].map(([k]) => k.toString('hex')),
    ['61'],
  );
  assert.equal(eng.get(Buffer.from([0xff, 9])), undefined);
});

test('a snapshot installed on another replica gives identical content and applied index', () => {
  const { eng, raft, local } = leader();
  for (let i = 0; i < 50; i++) eng.put(b(`k${String(i).padStart(2, '0')}`), b(`v${i}`));
  eng.delete(b('k07'));
  eng.proposePending();
  for (const e of raft.log) eng.applyEntry(e);
  const data = eng.snapshotData();
  const otherLocal = new MemoryEngine();
  otherLocal.put(b('stale'), b('gone after install'));
  const other = new ReplicatedEngine({ group: 1, node: 2, local: otherLocal });
  other.installSnapshot({ meta: { index: eng.appliedIndex, term: 1, conf: { voters: [1, 2], learners: [] } }, data });
  assert.deepEqual([...other.scan()], [...eng.scan()]);
  assert.equal(other.appliedIndex, eng.appliedIndex);
  assert.equal(other.get(b('stale')), undefined);
  assert.equal([...local.scan()].length, [...otherLocal.scan()].length, 'the applied index key is there too');
});

test('a snapshot keeps pending overlay reads consistent: frozen view over an engine snapshot', () => {
  const { eng, raft } = leader();
  eng.put(b('a'), b('1'));
  eng.proposePending();
  eng.applyEntry(raft.log[0]!);
  eng.put(b('a'), b('2'));
  eng.put(b('b'), b('1'));
  const snap = eng.snapshot();
  eng.put(b('a'), b('3'));
  eng.delete(b('b'));
  assert.equal(str(snap.get(b('a'))), '2');
  assert.deepEqual(
    [...snap.scan()].map(([k, v]) => `${k}=${v}`),
    ['a=2', 'b=1'],
  );
  snap.release();
  assert.deepEqual(
    [...eng.scan()].map(([k, v]) => `${k}=${v}`),
    ['a=3'],
  );
});

test('writes beyond the pending-bytes limit are refused until proposals apply', async () => {
  const local = new MemoryEngine();
  const eng = new ReplicatedEngine({ group: 1, node: 1, local, pendingBytesMax: 10 });
  const raft = new ScriptedRaft();
  eng.startLeading(1, raft.propose);
  eng.put(b('k1'), b('123456')); // 8 bytes pending
  assert.throws(
    () => eng.put(b('k2'), b('123')),
    (e: unknown) => e instanceof NextDbError && e.code === '53400' && /waiting for the quorum/.test(e.message),
  );
  assert.equal(eng.get(b('k2')), undefined, 'a refused write leaves no trace');
  eng.proposePending();
  eng.applyEntry(raft.log[0]!);
  eng.put(b('k2'), b('123'));
  assert.equal(str(eng.get(b('k2'))), '3'.padStart(3, '12'));
});

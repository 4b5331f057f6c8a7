// RaftLogStore against a model, on the crash-simulating SimVfs: random
// Ready saves, compactions, syncs and segment rotations for two groups, then
// a crash (optionally with torn unsynced writes) and a reopen. The recovered
// state must equal the model after some prefix of the operations that
// includes every operation synced before the crash — never less, never a
// mixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeVfs } from '../../src/storage/node-vfs.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { Prng } from '../../src/util/prng.ts';
import { RaftLogStore } from '../../src/raft/log-store.ts';
import type { Entry, HardState, RaftInitialState, Snapshot } from '../../src/raft/types.ts';

interface Model {
  hs: HardState;
  snap: Snapshot;
  entries: Entry[];
}

function describe(s: RaftInitialState | Model | undefined): string {
  if (s === undefined) return 'none';
  const hs = 'hardState' in s ? s.hardState : s.hs;
  const snap = 'snapshot' in s ? s.snapshot : s.snap;
  // A group that never stored anything but zeros is indistinguishable from no group.
  if (hs.term === 0 && hs.vote === 0 && hs.commit === 0 && snap.meta.index === 0 && s.entries.length === 0)
    return 'none';
  const ents = s.entries.map((e) => `${e.index}@${e.term}:${Buffer.from(e.data).toString()}`).join(',');
  return `hs=${hs.term}/${hs.vote}/${hs.commit} snap=${snap.meta.index}@${snap.meta.term}:${Buffer.from(snap.data).toString()} [${ents}]`;
}

async function scenario(seed: number, torn: boolean): Promise<void> {
  const p = new Prng(seed);
  const vfs = new SimVfs({ seed, tornWrites: torn });
  const dir = '/data/raft';
  let store = await RaftLogStore.open(vfs, dir, { segmentBytes: p.pick([200, 2000, 1 << 20]) });
  const models = new Map<number, Model>();
  // history[k] = per-group descriptions after k operations.
  const history: string[][] = [[describe(undefined), describe(undefined)]];
  let synced = 0;
  const snapshotOf = (index: number, term: number, tag: string): Snapshot => ({
    meta: { index, term, conf: { voters: [1, 2, 3], learners: [] } },
    data: Buffer.from(tag),
  });
  const ops = p.range(5, 40);
  for (let k = 0; k < ops; k++) {
    const group = p.range(1, 2);
    let m = models.get(group);
    if (m === undefined) {
      m = { hs: { term: 0, vote: 0, commit: 0 }, snap: snapshotOf(0, 0, ''), entries: [] };
      models.set(group, m);
    }
    const last = m.snap.meta.index + m.entries.length;
    const lastTerm = m.entries.length > 0 ? m.entries[m.entries.length - 1]!.term : m.snap.meta.term;
    const r = p.next();
    if (r < 0.6) {
      // A Ready: maybe a snapshot from the leader, entries (possibly overwriting a suffix), maybe a hard state.
      let snapshot: Snapshot | undefined;
      let base = last;
      let term = lastTerm;
      if (p.chance(0.1)) {
        term = m.hs.term + 1;
        snapshot = snapshotOf(last + p.range(1, 5), term, `s${k}`);
        base = snapshot.meta.index;
      } else if (p.chance(0.3) && m.entries.length > 0) {
        base = m.snap.meta.index + p.int(m.entries.length); // truncate a suffix
        term = Math.max(lastTerm, m.hs.term) + 1;
      }
      const entries: Entry[] = Array.from({ length: p.range(0, 4) }, (_, i) => ({
        index: base + 1 + i,
        term,
        type: 0 as const,
        data: Buffer.from(`e${k}.${i}`),
      }));
      const hs = p.chance(0.5)
        ? { term: Math.max(term, m.hs.term), vote: p.range(0, 3), commit: snapshot?.meta.index ?? m.hs.commit }
        : undefined;
      store.save(group, { snapshot, entries, hardState: hs });
      if (snapshot !== undefined) {
        m.snap = snapshot;
        m.entries = [];
      }
      if (entries.length > 0) m.entries = m.entries.slice(0, entries[0]!.index - m.snap.meta.index - 1).concat(entries);
      if (hs !== undefined) m.hs = hs;
    } else if (r < 0.75 && m.entries.length > 0) {
      const upto = m.snap.meta.index + p.range(1, m.entries.length);
      const snap = snapshotOf(upto, m.entries[upto - m.snap.meta.index - 1]!.term, `c${k}`);
      store.compact(group, snap);
      m.entries = m.entries.slice(upto - m.snap.meta.index);
      m.snap = snap;
    } else {
      await store.sync();
      synced = history.length - 1;
    }
    history.push([1, 2].map((g) => describe(models.get(g))));
  }
  // Crash without closing, reopen.
  vfs.crash();
  store = await RaftLogStore.open(vfs, dir);
  const recovered = [1, 2].map((g) => describe(store.initialState(g)));
  const matches = history.findIndex((h, i) => i >= synced && h[0] === recovered[0] && h[1] === recovered[1]);
  assert.ok(
    matches >= 0,
    `seed ${seed}: recovered ${JSON.stringify(recovered)} matches no state at or after sync #${synced}:\n${history
      .slice(synced)
      .map((h) => h.join(' | '))
      .join('\n')}`,
  );
  await store.close();
  // A clean close and reopen keeps exactly the final state.
  const again = await RaftLogStore.open(vfs, dir);
  assert.deepEqual(
    [1, 2].map((g) => describe(again.initialState(g))),
    recovered,
  );
  await again.close();
}

test('raft log store: crash recovery keeps exactly a synced-or-later prefix (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), async (seed, torn) => scenario(seed, torn)),
    { numRuns: 300, seed: 7 },
  );
});

test('raft log store: a flipped byte in a sealed segment is reported as corruption', async () => {
  const vfs = new SimVfs({ seed: 1 });
  const store = await RaftLogStore.open(vfs, '/d', { segmentBytes: 1 << 20 });
  store.save(1, {
    entries: [{ index: 1, term: 1, type: 0, data: Buffer.from('hello') }],
    hardState: { term: 1, vote: 1, commit: 1 },
    snapshot: undefined,
  });
  await store.close();
  const name = vfs.list('/d').find((n) => n.endsWith('.log'))!;
  const bytes = vfs.readAll(`/d/${name}`);
  const bad = Buffer.from(bytes);
  bad[bad.length - 3]! ^= 0xff;
  const f = vfs.create(`/d/${name}`);
  f.append(bad);
  await f.sync();
  f.close();
  await assert.rejects(RaftLogStore.open(vfs, '/d'), /corruption in \/d\/raft-.*checksum/);
});

test('raft log store on NodeVfs: saves written in the background are all on disk, in order, after sync', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-h3-logstore-'));
  try {
    const vfs = new NodeVfs();
    const store = await RaftLogStore.open(vfs, dir, { segmentBytes: 64 << 10 });
    const syncs: Promise<void>[] = [];
    let index = 0;
    // Saves pile up while background writes run (several per batch) and segments rotate; syncs are not awaited.
    for (let k = 0; k < 400; k++) {
      const entries: Entry[] = Array.from({ length: 1 + (k % 3) }, () => ({
        index: ++index,
        term: 1,
        type: 0 as const,
        data: Buffer.alloc(100 + (k % 50), k % 251),
      }));
      store.save(1, { entries, hardState: { term: 1, vote: 1, commit: index - 1 }, snapshot: undefined });
      if (k % 7 === 0) syncs.push(store.sync());
      if (k % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(syncs);
    await store.close();
    const again = await RaftLogStore.open(vfs, dir);
    const s = again.initialState(1)!;
    assert.equal(s.entries.length, index);
    assert.deepEqual(
      s.entries.map((e) => e.index),
      Array.from({ length: index }, (_, i) => i + 1),
    );
    assert.equal(s.hardState.commit, index - 1);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('NodeVfs appendAsync: sync waits for the queued writes; append after it lands after them; close waits', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-h3-vfs-'));
  try {
    const vfs = new NodeVfs();
    const f = vfs.create(join(dir, 'f'));
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
    for (const b of parts.slice(0, 49)) f.appendAsync(b);
    f.append(parts[49]!);
    assert.equal(f.size(), Buffer.concat(parts).length);
    await f.sync();
    assert.deepEqual(vfs.readAll(join(dir, 'f')), Buffer.concat(parts));
    f.appendAsync(Buffer.from('tail'));
    f.close(); // the queued write still completes (then the descriptor is closed)
    for (let i = 0; i < 500 && vfs.readAll(join(dir, 'f')).length < f.size(); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(vfs.readAll(join(dir, 'f')).subarray(-4).toString(), 'tail');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('raft log store: a failed background write fails the next sync', async () => {
  const vfs = new SimVfs({ seed: 3 });
  const store = await RaftLogStore.open(vfs, '/d');
  vfs.fault = (op) => (op === 'append' ? new Error('EIO: injected') : undefined);
  store.save(1, { entries: [], hardState: { term: 2, vote: 1, commit: 0 }, snapshot: undefined });
  vfs.fault = undefined;
  await assert.rejects(store.sync(), /EIO: injected/);
});

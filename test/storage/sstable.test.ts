// SSTable builder/reader against a model: random keys with shared prefixes
// and several versions each, random block sizes and restart intervals. Point
// lookups at random snapshot sequence numbers and full cursor walks in both
// directions must agree with the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BlockCache } from '../../src/storage/lsm/block-cache.ts';
import { SstableBuilder } from '../../src/storage/lsm/sstable-builder.ts';
import { SstableReader } from '../../src/storage/lsm/sstable-reader.ts';
import { RunCursor } from '../../src/storage/lsm/merge-iterator.ts';
import { FileMeta } from '../../src/storage/lsm/version.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';

interface Entry {
  readonly key: string;
  readonly seq: number;
  readonly kind: number;
  readonly value: string;
}

const shortKeyArb = fc
  .array(fc.constantFrom('a', 'b', '\x00', '\xff'), { minLength: 0, maxLength: 6 })
  .map((c) => c.join(''));
// Some keys longer than 64 bytes with long shared prefixes and suffixes (the block builder copies short and long key suffixes differently).
const keyArb = fc.oneof(
  { arbitrary: shortKeyArb, weight: 4 },
  {
    arbitrary: fc
      .tuple(shortKeyArb, shortKeyArb, fc.integer({ min: 60, max: 90 }))
      .map(([a, b, n]) => a + '\xfe'.repeat(n) + b),
    weight: 1,
  },
);

test('sstable: point reads at any snapshot and cursors in both directions match the model', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(keyArb, { minLength: 1, maxLength: 80 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 32, max: 600 }),
      fc.constantFrom('lz4' as const, 'none' as const),
      fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 400 })), { maxLength: 60 }),
      (keys, restartInterval, blockBytes, compression, probes) => {
        keys.sort();
        let seq = 1;
        const entries: Entry[] = [];
        for (const key of keys) {
          const versions = 1 + (key.length % 3);
          const seqs = Array.from({ length: versions }, () => (seq += 1 + ((key.charCodeAt(0) || 0) % 5))).reverse();
          for (const s of seqs)
            entries.push({
              key,
              seq: s,
              kind: s % 4 === 0 ? 0 : 1,
              value: s % 4 === 0 ? '' : `v${s}-${'x'.repeat(s % 50)}`,
            });
        }
        const vfs = new SimVfs();
        vfs.mkdir('/t');
        const b = new SstableBuilder(vfs.create('/t/1.sst'), {
          blockBytes,
          restartInterval,
          bloomBitsPerKey: 10,
          compression,
        });
        for (const e of entries) b.add(e.key, e.seq, e.kind, Buffer.from(e.value, 'latin1'));
        const info = b.finish();
        assert.equal(info.entries, entries.length);
        assert.equal(info.smallest, keys[0]);
        assert.equal(info.largest, keys.at(-1));
        const r = SstableReader.open(vfs, '/t/1.sst', 1, new BlockCache(1 << 20));
        for (const [key, snap] of probes.concat(keys.map((k) => [k, 1e9] as [string, number]))) {
          const hit = entries.find((e) => e.key === key && e.seq <= snap);
          const got = r.get(Buffer.from(key, 'latin1'), snap);
          if (hit === undefined) assert.equal(got, undefined, `absent ${JSON.stringify(key)}@${snap}`);
          else if (hit.kind === 0) assert.equal(got, null, `tombstone ${JSON.stringify(key)}@${snap}`);
          else assert.equal(got?.toString('latin1'), hit.value, `value ${JSON.stringify(key)}@${snap}`);
        }
        const c = r.cursor();
        const fwd: string[] = [];
        for (c.first(); c.valid(); c.next()) fwd.push(`${c.key()}@${c.seq()}`);
        assert.deepEqual(
          fwd,
          entries.map((e) => `${e.key}@${e.seq}`),
        );
        // A cursor that bypasses the cache (compaction's) reads ahead in large windows: same entries and values.
        const nc = r.cursor(false);
        const all: string[] = [];
        for (nc.first(); nc.valid(); nc.next()) all.push(`${nc.key()}@${nc.seq()}=${nc.value().toString('latin1')}`);
        assert.deepEqual(
          all,
          entries.map((e) => `${e.key}@${e.seq}=${e.value}`),
        );
        // A compaction's run cursor walks blocks on bytes (here a run of the same table twice: the walk crosses
        // from one table to the next): the same entries, kinds and values, twice.
        const meta = new FileMeta(1, info.size, info.entries, info.smallest, info.largest);
        meta.reader = r;
        const run: string[] = [];
        for (const rc = new RunCursor([meta, meta]); rc.valid; rc.next())
          run.push(
            `${rc.key.toString('latin1', 0, rc.keyLen)}@${rc.seq}/${rc.kind}=${rc.data.toString('latin1', rc.valueStart, rc.valueEnd)}`,
          );
        const once = entries.map((e) => `${e.key}@${e.seq}/${e.kind}=${e.value}`);
        assert.deepEqual(run, once.concat(once));
        const back: string[] = [];
        for (c.last(); c.valid(); c.prev()) back.push(`${c.key()}@${c.seq()}`);
        assert.deepEqual(back, fwd.slice().reverse());
        for (const [key] of probes) {
          c.seekGE(key);
          assert.equal(
            c.valid() ? c.key() : undefined,
            entries.find((e) => e.key >= key)?.key,
            `seekGE ${JSON.stringify(key)}`,
          );
          c.seekLE(key);
          const le = entries.filter((e) => e.key <= key).at(-1);
          assert.equal(
            c.valid() ? `${c.key()}@${c.seq()}` : undefined,
            le && `${le.key}@${le.seq}`,
            `seekLE ${JSON.stringify(key)}`,
          );
        }
        r.close();
      },
    ),
    { numRuns: 300 },
  );
});

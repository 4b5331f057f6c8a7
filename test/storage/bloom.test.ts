// The bloom filter: never a false negative, and a false-positive rate near
// the design figure (about 1.2% at 10 bits per key for the blocked layout).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bloomHash, bloomHashString, bloomMayContain, buildBloom } from '../../src/storage/lsm/bloom.ts';
import { Prng } from '../../src/util/prng.ts';

test('bloom filter: no false negatives, false positives near the design rate', () => {
  const prng = new Prng(7);
  const key = (): string => Buffer.from(prng.fill(new Uint8Array(prng.range(1, 24)))).toString('latin1');
  for (const n of [1, 10, 1000, 20000]) {
    const keys = Array.from({ length: n }, key);
    const filter = buildBloom(keys.map(bloomHashString), 10);
    for (const k of keys) {
      // Tables are built from latin1 keys; point reads hash the key's bytes: both must give the same hash.
      assert.equal(bloomHash(Buffer.from(k, 'latin1')), bloomHashString(k));
      assert.ok(bloomMayContain(filter, bloomHashString(k)), `inserted key missed (n=${n})`);
    }
    const inserted = new Set(keys);
    let probes = 0;
    let positives = 0;
    for (let i = 0; i < 20000; i++) {
      const k = key();
      if (inserted.has(k)) continue;
      probes++;
      if (bloomMayContain(filter, bloomHashString(k))) positives++;
    }
    const rate = positives / probes;
    if (n >= 1000) assert.ok(rate < 0.025, `false-positive rate ${rate} for n=${n}`);
  }
});

test('bloom filter: a malformed filter answers "maybe", never "absent"', () => {
  const h = bloomHashString('x');
  assert.equal(bloomMayContain(Buffer.alloc(0), h), true);
  assert.equal(bloomMayContain(Buffer.alloc(30), h), true);
  const f = buildBloom([h], 10);
  f[f.length - 1] = 0;
  assert.equal(bloomMayContain(f, h), true);
});

// KeyWriter.view(): the key built so far without a copy. The view object is
// reused while it spans the key (same length, same buffer), so it must
// still show exactly the current key after resets, different lengths and
// buffer growth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyWriter } from '../../src/encoding/key-codec.ts';

test('view() always equals finish(), across resets, lengths and growth', () => {
  const w = new KeyWriter(16);
  const seen = new Set<Buffer>();
  for (let round = 0; round < 50; round++) {
    w.reset();
    w.int(round);
    if (round % 3 === 0) w.string('x'.repeat(round)); // grows the buffer past 16 bytes at times
    const v = w.view();
    seen.add(v);
    assert.deepEqual(Buffer.from(v), w.finish(), `round ${round}`);
  }
  // Same-length keys share one view: fewer views than rounds.
  assert.ok(seen.size < 50);
  w.reset();
  w.int(1);
  const a = w.view();
  w.reset();
  w.int(2);
  assert.equal(w.view(), a); // same object, now showing the new key
  assert.deepEqual(Buffer.from(a), w.finish());
});

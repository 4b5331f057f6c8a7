// toLatin1 (util/bytes.ts), the memtable's key form: one char per byte for
// every byte value, for views at any offset into a larger buffer and byte
// ranges of them, and
// string order equal to byte order (property-tested against Buffer.compare).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromLatin1, toLatin1 } from '../../src/util/bytes.ts';

test('toLatin1 maps each byte to one char, for subarray views and plain Uint8Arrays', () => {
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const s = toLatin1(all);
  assert.equal(s.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(s.charCodeAt(i), i);
  assert.equal(toLatin1(all.subarray(250, 253)), '\u00fa\u00fb\u00fc');
  assert.equal(toLatin1(new Uint8Array(all.buffer, all.byteOffset + 65, 3)), 'ABC');
  assert.equal(toLatin1(new Uint8Array(0)), '');
  assert.deepEqual(fromLatin1(toLatin1(all.subarray(7, 99))), all.subarray(7, 99));
  // A range of a view: offsets relative to the view.
  assert.equal(toLatin1(all.subarray(60), 5, 8), 'ABC');
  assert.equal(toLatin1(all, 3, 3), '');
});

test('toLatin1 order is byte order', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 24 }), fc.nat(8), (a, b, pad) => {
      // A view at an offset, as keys built in reused buffers are.
      const big = new Uint8Array(pad + a.length);
      big.set(a, pad);
      const va = big.subarray(pad);
      const sa = toLatin1(va);
      const sb = toLatin1(b);
      const byBytes = Math.sign(Buffer.compare(a, b));
      const byString = sa < sb ? -1 : sa > sb ? 1 : 0;
      assert.equal(byString, byBytes);
    }),
  );
});

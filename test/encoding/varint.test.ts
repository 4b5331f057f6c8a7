// Varint tests: round trips over each variant's whole range (fast-check with
// boundary values), lengths agree with what is written, known byte images
// (the LEB128 examples everyone uses), and strict decoding of truncated,
// overlong, non-minimal and overflowing input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  readUvarint32,
  readUvarint64,
  readVarint32,
  readVarint64,
  uvarint32Length,
  uvarint64Length,
  varint32Length,
  varint64Length,
  writeUvarint32,
  writeUvarint64,
  writeVarint32,
  writeVarint64,
  zigzagDecode64,
  zigzagEncode32,
  zigzagEncode64,
  VarintCursor,
} from '../../src/encoding/index.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';

const corrupt = (e: unknown): boolean => e instanceof NextDbError && e.code === SqlState.dataCorrupted;

function roundTrip<T>(
  v: T,
  len: (v: T) => number,
  write: (b: Buffer, o: number, v: T) => number,
  read: (b: Buffer, o: number) => { value: T; offset: number },
): void {
  const n = len(v);
  const buf = Buffer.alloc(n + 4, 0xaa);
  assert.equal(write(buf, 2, v), 2 + n);
  const r = read(buf, 2);
  assert.equal(r.value, v);
  assert.equal(r.offset, 2 + n);
  assert.equal(buf[0], 0xaa);
  assert.equal(buf[2 + n], 0xaa);
}

test('varint: round trips and lengths over every variant', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 31, 0xffffffff)),
      (v) => roundTrip(v, uvarint32Length, writeUvarint32, readUvarint32),
    ),
  );
  fc.assert(
    fc.property(fc.oneof(fc.integer(), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0, -1, 63, -64, 64)), (v) =>
      roundTrip(v, varint32Length, writeVarint32, readVarint32),
    ),
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n)),
      (v) => roundTrip(v, uvarint64Length, writeUvarint64, readUvarint64),
    ),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n),
      ),
      (v) => roundTrip(v, varint64Length, writeVarint64, readVarint64),
    ),
  );
});

test('varint: known encodings and zigzag', () => {
  const enc = (v: number): string => {
    const b = Buffer.alloc(uvarint32Length(v));
    writeUvarint32(b, 0, v);
    return b.toString('hex');
  };
  assert.equal(enc(0), '00');
  assert.equal(enc(1), '01');
  assert.equal(enc(127), '7f');
  assert.equal(enc(128), '8001');
  assert.equal(enc(300), 'ac02');
  assert.equal(enc(624485), 'e58e26');
  assert.equal(enc(0xffffffff), 'ffffffff0f');
  assert.equal(uvarint64Length(2n ** 64n - 1n), 10);
  assert.deepEqual(
    [0, -1, 1, -2, 2, 2 ** 31 - 1, -(2 ** 31)].map(zigzagEncode32),
    [0, 1, 2, 3, 4, 0xfffffffe, 0xffffffff],
  );
  assert.deepEqual([0n, -1n, 1n, -2n].map(zigzagEncode64), [0n, 1n, 2n, 3n]);
  assert.equal(zigzagDecode64(2n ** 64n - 1n), -(2n ** 63n));
  // Signed and unsigned 64-bit variants agree with each other byte for byte.
  const a = Buffer.alloc(10);
  const b = Buffer.alloc(10);
  writeVarint64(a, 0, -5n);
  writeUvarint64(b, 0, 9n);
  assert.deepEqual(a, b);
});

test('varint: strict decoding and range checks', () => {
  const bad32 = ['', '80', 'ffffffff', '8000', 'ffffffff10', 'ffffffffff01'];
  for (const h of bad32) assert.throws(() => readUvarint32(Buffer.from(h, 'hex'), 0), corrupt, h);
  const bad64 = ['', '80', '8000', 'ffffffffffffffffff02', 'ffffffffffffffffffff01'];
  for (const h of bad64) assert.throws(() => readUvarint64(Buffer.from(h, 'hex'), 0), corrupt, h);
  assert.throws(() => writeUvarint32(Buffer.alloc(5), 0, -1), RangeError);
  assert.throws(() => writeUvarint32(Buffer.alloc(5), 0, 2 ** 32), RangeError);
  assert.throws(() => writeUvarint32(Buffer.alloc(1), 0, 128), RangeError);
  assert.throws(() => writeVarint32(Buffer.alloc(5), 0, 2 ** 31), RangeError);
  assert.throws(() => writeUvarint64(Buffer.alloc(10), 0, 2n ** 64n), RangeError);
  assert.throws(() => writeVarint64(Buffer.alloc(10), 0, 2n ** 63n), RangeError);
  // Random bytes: decode or throw XX001, and a decoded value re-encodes to exactly the bytes read.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      const buf = Buffer.from(bytes);
      for (const [read, write] of [
        [readUvarint32, writeUvarint32],
        [readUvarint64, writeUvarint64],
      ] as const) {
        let r: { value: number | bigint; offset: number };
        try {
          r = read(buf, 0);
        } catch (e) {
          assert.ok(corrupt(e), String(e));
          continue;
        }
        const again = Buffer.alloc(12);
        const n = (write as (b: Buffer, o: number, v: number | bigint) => number)(again, 0, r.value);
        assert.deepEqual(again.subarray(0, n), buf.subarray(0, r.offset));
      }
    }),
  );
});

test('varint: a cursor reads a sequence of mixed varints and stays put on a failed read', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.constantFrom('u32', 's32', 'u64', 's64'), fc.bigInt({ min: -(2n ** 31n), max: 2n ** 31n - 1n })),
        { maxLength: 20 },
      ),
      (items) => {
        const buf = Buffer.alloc(items.length * 10);
        let off = 0;
        for (const [kind, v] of items) {
          if (kind === 'u32') off = writeUvarint32(buf, off, Number(v < 0n ? -v : v));
          else if (kind === 's32') off = writeVarint32(buf, off, Number(v));
          else if (kind === 'u64') off = writeUvarint64(buf, off, v < 0n ? -v : v);
          else off = writeVarint64(buf, off, v);
        }
        const c = new VarintCursor(buf.subarray(0, off));
        for (const [kind, v] of items) {
          if (kind === 'u32') assert.equal(c.uvarint32(), Number(v < 0n ? -v : v));
          else if (kind === 's32') assert.equal(c.varint32(), Number(v));
          else if (kind === 'u64') assert.equal(c.uvarint64(), v < 0n ? -v : v);
          else assert.equal(c.varint64(), v);
        }
        assert.equal(c.offset, off);
        assert.throws(() => c.uvarint32(), corrupt);
        assert.equal(c.offset, off);
      },
    ),
  );
});

// The optional native helpers (native/nextdb.c): the CRC-32 must equal
// zlib.crc32 everywhere, mapped files must read as the file and be
// unusable (length 0, never a crash) after close, and table reads through a
// mapping must keep the per-read block checksum. Whichever way this build
// reads (mapping or pread), both ways are tested: SimVfs maps or not by
// option, and NodeVfs({ mmap: false }) never maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { crc32 } from '../../src/util/crc32.ts';
import { native, nativeStatus } from '../../src/util/native.ts';
import { NodeVfs } from '../../src/storage/node-vfs.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { CorruptionError } from '../../src/util/errors.ts';
import { tmpDir } from './engines.lib.ts';

const built = fileURLToPath(new URL('../../build/nextdb.node', import.meta.url));

test('the native helpers are loaded whenever they are built', (t) => {
  t.diagnostic(nativeStatus);
  if (fs.existsSync(built) && process.env['NEXTDB_NATIVE'] !== '0') assert.ok(native !== undefined, nativeStatus);
});

test('crc32 of any range, from any starting crc, equals zlib.crc32', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 5000 }),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 0, max: 0xffffffff }),
      (bytes, a, b, init) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
        // Continuing over no bytes keeps the crc (zlib.crc32 returns 0 for an empty buffer: a null-pointer rule of zlib's).
        const want = start === end ? init : zlib.crc32(bytes.subarray(start, end), init);
        assert.equal(crc32(bytes, start, end, init), want);
        if (init === 0) assert.equal(crc32(bytes, start, end), want);
      },
    ),
    { numRuns: 2000 },
  );
  // Every length around the 64-byte bulk threshold and the 16-byte steps, at every alignment.
  const big = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 131 + 7) & 0xff));
  for (let start = 0; start < 16; start++)
    for (let n = 0; n < 300; n++)
      assert.equal(crc32(big, start, start + n), zlib.crc32(big.subarray(start, start + n)));
});

test('crc32 rejects a range outside its array', { skip: native === undefined && 'native helpers not built' }, () => {
  const b = Buffer.alloc(10);
  assert.throws(() => native!.crc32(b, 5, 11), RangeError);
  assert.throws(() => native!.crc32(b, 6, 5), RangeError);
  assert.throws(() => native!.crc32(b, -1, 5), RangeError);
  // Offsets of 4 GiB and more are out of this array, not wrapped into it (they were read as u32).
  assert.throws(() => native!.crc32(b, 2 ** 32, 2 ** 32 + 10), RangeError);
  assert.throws(() => native!.crc32(b, 0, 2 ** 32 + 5), RangeError);
});

test('NodeVfs: a mapped file reads as the file, and has length 0 after close', async () => {
  const dir = await tmpDir('nextdb-native-');
  try {
    const p = path.join(dir, 'f');
    const content = Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251));
    fs.writeFileSync(p, content);
    const vfs = new NodeVfs();
    const f = vfs.open(p);
    const m = f.map?.();
    if (native === undefined) assert.equal(m, undefined, 'no mapping without the native helpers');
    else {
      assert.ok(m !== undefined && m.equals(content));
      assert.equal(f.map?.(), m, 'the same mapping on every call');
    }
    f.close();
    if (m !== undefined) {
      assert.equal(m.length, 0);
      assert.equal(m[0], undefined);
    }
    const off = new NodeVfs({ mmap: false }).open(p);
    assert.equal(off.map?.(), undefined, 'mmap: false never maps');
    off.close();
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const e = vfs.open(empty);
    assert.equal(e.map?.(), undefined, 'an empty file is not mapped');
    e.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('SimVfs: map is a copy of the file that close detaches; map: false offers none', () => {
  for (const map of [true, false]) {
    const vfs = new SimVfs({ map });
    vfs.mkdir('/d');
    const f = vfs.create('/d/f');
    f.append(Buffer.from('hello world'));
    const m = f.map?.();
    if (!map) assert.equal(m, undefined);
    else {
      assert.equal(m?.toString(), 'hello world');
      f.close();
      assert.equal(m?.length, 0);
    }
  }
});

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(5, '0')}`);
const val = (i: number): Buffer => Buffer.from(`value-${i}-${'v'.repeat(60)}`);

test('point reads of table blocks come from the mapping (no read calls) when the Vfs maps, and from read() when not', async () => {
  const reads: number[] = [];
  for (const map of [true, false]) {
    const vfs = new SimVfs({ map });
    const opts = {
      dir: '/db',
      vfs,
      blockBytes: 512,
      blockCacheBytes: 0,
      backgroundWork: false,
      compression: 'none' as const,
    };
    const e0 = await openLsmEngine(opts);
    for (let i = 0; i < 2000; i++) e0.put(key(i), val(i));
    await e0.flush();
    await e0.close();
    const e = await openLsmEngine(opts);
    const before = vfs.counts.read;
    for (let i = 0; i < 2000; i++) assert.ok(e.get(key(i))?.equals(val(i)), `key ${i}`);
    reads.push(vfs.counts.read - before);
    await e.close();
  }
  assert.equal(reads[0], 0, 'mapped: no read() per block');
  assert.ok(reads[1]! >= 2000, `pread: a read() per block without a cache (${reads[1]})`);
});

test('on the real file system: a byte flipped on disk under an open, mapped table is still caught by the block checksum', async () => {
  const dir = await tmpDir('nextdb-native-');
  try {
    const opts = { dir, blockBytes: 1024, blockCacheBytes: 0, compression: 'none' as const };
    const e0 = await openLsmEngine(opts);
    for (let i = 0; i < 500; i++) e0.put(key(i), val(i));
    await e0.flush();
    await e0.close();
    const e = await openLsmEngine(opts);
    for (let i = 0; i < 500; i++) assert.ok(e.get(key(i))?.equals(val(i)));
    const table = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.sst'))!,
    );
    // Flip one byte in place (the mapping sees the file's pages), inside a value.
    const bytes = fs.readFileSync(table);
    const at = bytes.indexOf('v'.repeat(60), bytes.length >> 2) + 30;
    const fd = fs.openSync(table, 'r+');
    fs.writeSync(fd, Buffer.from([bytes[at]! ^ 0x20]), 0, 1, at);
    fs.closeSync(fd);
    let errors = 0;
    for (let i = 0; i < 500; i++) {
      try {
        assert.ok(e.get(key(i))?.equals(val(i)), `key ${i} read wrong data`);
      } catch (err) {
        assert.ok(err instanceof CorruptionError, String(err));
        assert.equal(err.file, table);
        errors++;
      }
    }
    assert.ok(errors > 0, 'the damaged block is detected');
    await e.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

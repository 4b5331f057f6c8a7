// Corruption tests: a flipped byte in an SSTable data block, index block,
// bloom block or footer, in the manifest, in CURRENT or in a WAL record must
// give a CorruptionError that names the damaged file, never wrong data. A torn
// WAL tail (the last record cut short) is not corruption: recovery keeps every
// whole record before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openLsmEngine, type LsmEngine } from '../../src/storage/lsm/index.ts';
import { blockCrc } from '../../src/storage/lsm/sstable-format.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { CorruptionError } from '../../src/util/errors.ts';
import { tmpDir } from './engines.lib.ts';

const DIR = '/db';
const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(5, '0')}`);
const val = (i: number): Buffer => Buffer.from(`value-${i}-${'v'.repeat(40)}`);

async function open(vfs: SimVfs): Promise<LsmEngine> {
  return openLsmEngine({ dir: DIR, vfs, blockBytes: 1024, backgroundWork: false });
}

/** A database with one SSTable of `n` keys and nothing in the WAL. */
async function withTable(n = 500): Promise<{ vfs: SimVfs; table: string }> {
  const vfs = new SimVfs();
  const e = await open(vfs);
  for (let i = 0; i < n; i++) e.put(key(i), val(i));
  await e.flush();
  await e.close();
  const tables = vfs.list(DIR).filter((f) => f.endsWith('.sst'));
  assert.equal(tables.length, 1);
  return { vfs, table: `${DIR}/${tables[0]}` };
}

function flip(vfs: SimVfs, file: string, offset: number): void {
  const bytes = vfs.rawBytes(file);
  bytes[offset]! ^= 0x40;
}

function isCorruptionOf(file: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CorruptionError, `expected CorruptionError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), 'the message names the file');
    assert.equal(err.code, 'XX001');
    return true;
  };
}

/** Reads every key: each read either returns the right value or throws CorruptionError for `file`. */
function readsAreRightOrCorrupt(e: LsmEngine, n: number, file: string): number {
  let errors = 0;
  for (let i = 0; i < n; i++) {
    try {
      const v = e.get(key(i));
      assert.ok(v !== undefined && v.equals(val(i)), `key ${i} read wrong data`);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      assert.equal(err.file, file);
      errors++;
    }
  }
  return errors;
}

test('flipped byte in an SSTable data block: CorruptionError naming the table on read, never wrong data', async () => {
  const { vfs, table } = await withTable();
  flip(vfs, table, 100);
  const e = await open(vfs);
  const errors = readsAreRightOrCorrupt(e, 500, table);
  assert.ok(errors > 0, 'the damaged block is detected');
  assert.throws(() => [...e.scan()], isCorruptionOf(table));
  await e.close();
});

/** One uncompressed table of 500 keys in 1 KiB blocks, nothing in the WAL; `opts` reopens it without background work. */
async function uncompressedTable(): Promise<{
  vfs: SimVfs;
  opts: Parameters<typeof openLsmEngine>[0];
  table: string;
}> {
  const vfs = new SimVfs();
  const opts = { dir: DIR, vfs, blockBytes: 1024, backgroundWork: false, compression: 'none' as const };
  const e0 = await openLsmEngine(opts);
  for (let i = 0; i < 500; i++) e0.put(key(i), val(i));
  await e0.flush();
  await e0.close();
  return { vfs, opts, table: `${DIR}/${vfs.list(DIR).find((f) => f.endsWith('.sst'))!}` };
}

/** Tables overlapping the first, so that compact() merges it (reads every block) instead of moving it. */
async function overlapFirstTable(e: LsmEngine): Promise<void> {
  for (let t = 0; t < 4; t++) {
    for (let i = t; i < 500; i += 50) e.put(key(i), val(i));
    await e.flush();
  }
}

test('flipped value byte in a data block that only a compaction reads (read ahead, past the cache): compact() fails naming the table', async () => {
  const { vfs, opts, table } = await uncompressedTable();
  // Inside a value, where only the block checksum can tell.
  const bytes = vfs.rawBytes(table);
  flip(vfs, table, bytes.indexOf('v'.repeat(40), bytes.length >> 1) + 20);
  const e = await openLsmEngine(opts);
  await overlapFirstTable(e);
  await assert.rejects(e.compact(), isCorruptionOf(table));
  await e.close();
});

test('a data block with a matching checksum but a malformed entry (a bug, not the disk): compact() fails naming the table', async () => {
  const { vfs, opts, table } = await uncompressedTable();
  const bytes = vfs.rawBytes(table);
  // The first block's frame: payload, codec byte 0 (none), CRC32 of both; find where its checksum matches.
  let end = -1;
  for (let e = 16; e < 4096 && end < 0; e++)
    if (bytes[e] === 0 && blockCrc(bytes, 0, e + 1) === bytes.readUInt32LE(e + 1)) end = e;
  assert.ok(end > 0, 'first block frame found');
  // The first entry says it shares 5 bytes with a previous key it does not have; the checksum is made to match.
  assert.equal(bytes[0], 0);
  bytes[0] = 5;
  bytes.writeUInt32LE(blockCrc(bytes, 0, end + 1), end + 1);
  const e = await openLsmEngine(opts);
  await overlapFirstTable(e);
  await assert.rejects(e.compact(), (err: unknown) => {
    isCorruptionOf(table)(err);
    assert.match((err as Error).message, /malformed block 0/);
    return true;
  });
  await e.close();
});

test('flipped byte in a compressed data block is detected too', async () => {
  const vfs = new SimVfs();
  const e0 = await open(vfs);
  for (let i = 0; i < 300; i++) e0.put(key(i), Buffer.alloc(200, i % 7));
  await e0.flush();
  await e0.close();
  const table = `${DIR}/${vfs.list(DIR).find((f) => f.endsWith('.sst'))!}`;
  assert.ok(vfs.rawBytes(table).length < 300 * 200, 'blocks were compressed');
  flip(vfs, table, 40);
  const e = await open(vfs);
  assert.throws(() => e.get(key(0)), isCorruptionOf(table));
  await e.close();
});

function footerField(vfs: SimVfs, table: string, at: number): number {
  const b = vfs.rawBytes(table);
  return b.readUInt32LE(b.length - 48 + at);
}

test('flipped byte in an SSTable index block: open fails naming the table', async () => {
  const { vfs, table } = await withTable();
  flip(vfs, table, footerField(vfs, table, 0) + 3);
  await assert.rejects(open(vfs), isCorruptionOf(table));
});

test('flipped byte in an SSTable bloom filter: open fails naming the table', async () => {
  const { vfs, table } = await withTable();
  flip(vfs, table, footerField(vfs, table, 12) + 1);
  await assert.rejects(open(vfs), isCorruptionOf(table));
});

test('flipped byte in an SSTable footer (offsets, version, checksum, magic): open fails naming the table', async () => {
  for (const at of [0, 9, 25, 33, 44]) {
    const { vfs, table } = await withTable(50);
    flip(vfs, table, vfs.rawBytes(table).length - 48 + at);
    await assert.rejects(open(vfs), isCorruptionOf(table), `footer byte ${at}`);
  }
});

test('flipped byte in the manifest: open fails naming the manifest', async () => {
  const { vfs } = await withTable(50);
  const manifest = `${DIR}/${vfs.list(DIR).find((f) => f.startsWith('MANIFEST-'))!}`;
  const size = vfs.rawBytes(manifest).length;
  for (const at of [2, 13, size - 3]) {
    flip(vfs, manifest, at);
    await assert.rejects(open(vfs), isCorruptionOf(manifest), `manifest byte ${at}`);
    flip(vfs, manifest, at);
  }
  const e = await open(vfs);
  assert.ok(e.get(key(7))?.equals(val(7)), 'restoring the byte restores the database');
  await e.close();
});

test('damaged CURRENT: open fails naming CURRENT', async () => {
  const { vfs } = await withTable(50);
  flip(vfs, `${DIR}/CURRENT`, 3);
  await assert.rejects(open(vfs), isCorruptionOf(`${DIR}/CURRENT`));
});

/** Five synced single-put WAL records, then a simulated crash (the WAL is not replayed yet). */
async function withWal(): Promise<{ vfs: SimVfs; wal: string; recordEnds: number[] }> {
  const vfs = new SimVfs();
  const e = await open(vfs);
  const wal = `${DIR}/${vfs.list(DIR).find((f) => f.endsWith('.log'))!}`;
  const recordEnds: number[] = [];
  for (let i = 0; i < 5; i++) {
    e.put(key(i), val(i));
    await e.sync();
    recordEnds.push(vfs.rawBytes(wal).length);
  }
  vfs.crash();
  e.abandon();
  return { vfs, wal, recordEnds };
}

test('flipped byte in a WAL record (payload, length, checksum; any record): open fails naming the segment', async () => {
  const probes = (ends: number[]): number[] => [ends[1]! + 20, ends[1]! + 1, ends[2]! + 5, ends[3]! + 30];
  for (const at of probes((await withWal()).recordEnds)) {
    const { vfs, wal } = await withWal();
    flip(vfs, wal, at);
    await assert.rejects(open(vfs), isCorruptionOf(wal), `WAL byte ${at}`);
  }
});

test('torn WAL tail: recovery keeps every whole record before it', async () => {
  for (const cut of [1, 7, 12, 30]) {
    const { vfs, wal, recordEnds } = await withWal();
    vfs.truncate(wal, recordEnds[3]! + cut);
    const e = await open(vfs);
    for (let i = 0; i < 4; i++) assert.ok(e.get(key(i))?.equals(val(i)), `record ${i} survives a cut at +${cut}`);
    assert.equal(e.get(key(4)), undefined, 'the torn record is gone, not half-applied');
    // And the database goes on: write, reopen, read.
    e.put(key(9), val(9));
    await e.close();
    const e2 = await open(vfs);
    assert.ok(e2.get(key(9))?.equals(val(9)));
    assert.ok(e2.get(key(3))?.equals(val(3)));
    await e2.close();
  }
});

test('on the real file system: a flipped data-block byte is a CorruptionError naming the table', async () => {
  const dir = await tmpDir('nextdb-corrupt-');
  try {
    const e0 = await openLsmEngine({ dir, blockBytes: 1024 });
    for (let i = 0; i < 500; i++) e0.put(key(i), val(i));
    await e0.flush();
    await e0.close();
    const table = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.sst'))!,
    );
    const bytes = fs.readFileSync(table);
    bytes[200]! ^= 1;
    fs.writeFileSync(table, bytes);
    const e = await openLsmEngine({ dir });
    const errors: CorruptionError[] = [];
    for (let i = 0; i < 500; i++) {
      try {
        const v = e.get(key(i));
        assert.ok(v?.equals(val(i)), `key ${i} read wrong data`);
      } catch (err) {
        assert.ok(err instanceof CorruptionError);
        errors.push(err);
      }
    }
    assert.ok(errors.length > 0);
    assert.ok(errors.every((x) => x.file === table));
    await e.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

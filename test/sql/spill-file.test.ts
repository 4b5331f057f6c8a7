// A spill file (src/sql/exec/spill.ts) gives back every kind of value
// exactly as written, and a damaged file is a CorruptionError (XX001), never
// wrong rows: an unknown tag, a record whose length cuts its last value, a
// record longer than its values, a count beyond the record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, writeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpillDir, SpillSpace, type SpillFile } from '../../src/sql/exec/spill.ts';
import { Decimal } from '../../src/sql/types/decimal.ts';
import type { Value } from '../../src/sql/types/sql-type.ts';
import { CorruptionError } from '../../src/util/errors.ts';

const rows: Value[][] = [
  [null, true, false, 1.5, -0, 12345678901234n, 2n ** 70n, 'héllo', Decimal.parse('-12.3400')!],
  [Buffer.from([0, 1, 255]), { months: 1, days: -2, micros: 3n }],
  [{ kind: 'array', elems: [1, null, 'x'] }, { kind: 'array', elems: [2], lower: [0] } as Value],
  [{ kind: 'jsonb', json: { b: [null, true, 'x', Decimal.parse('1.50')!], a: {} } }],
  [],
];

async function withFile(body: (f: SpillFile) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-h5-spill-file-'));
  const space = new SpillSpace(new SpillDir(dir, true), () => ({ workMemBytes: 1 << 20, tempFileLimitBytes: -1 }));
  try {
    const f = await space.create();
    for (const r of rows) f.add(r);
    await f.finish();
    await body(f);
    await f.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readAll(f: SpillFile): Promise<Value[][]> {
  f.rewind();
  const out: Value[][] = [];
  for (let b = await f.read(100); b !== null; b = await f.read(100)) out.push(...b);
  return out;
}

/** Overwrites bytes of the file at `at`. */
function patch(f: SpillFile, at: number, bytes: number[]): void {
  const fd = openSync(f.path, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

async function rejectsCorrupt(f: SpillFile, what: RegExp): Promise<void> {
  await assert.rejects(readAll(f), (err: unknown) => {
    assert.ok(err instanceof CorruptionError, `a CorruptionError, not ${String(err)}`);
    assert.equal(err.code, 'XX001');
    assert.match(err.message, /corruption in spill file/);
    assert.match(err.message, what);
    return true;
  });
}

test('a spill file gives back every kind of value exactly', async () => {
  await withFile(async (f) => {
    const back = await readAll(f);
    assert.deepEqual(back, rows);
    assert.equal(String(back[0]![8]), '-12.3400', 'numeric keeps its scale');
    assert.ok(Object.is(back[0]![4], -0), 'a float keeps its sign bit');
  });
});

test('a damaged spill file is a CorruptionError, not wrong rows', async (t) => {
  // The first record: u32 length, uvarint count 9, then the tag of its first value (NULL) at offset 5.
  await t.test('an unknown value tag', () =>
    withFile(async (f) => {
      patch(f, 5, [0xee]);
      await rejectsCorrupt(f, /unknown value tag 238/);
    }),
  );
  await t.test('a record length that cuts its last value', () =>
    withFile(async (f) => {
      const len = readFileSync(f.path).readUInt32BE(0);
      patch(f, 0, [0, 0, (len - 3) >> 8, (len - 3) & 255]);
      await rejectsCorrupt(f, /truncated|unknown|bad numeric|beyond/);
    }),
  );
  await t.test('a record longer than its values', () =>
    withFile(async (f) => {
      patch(f, 4, [8]); // count 9 -> 8: the last value is left over
      await rejectsCorrupt(f, /record longer than its values/);
    }),
  );
  await t.test('a count beyond the record', () =>
    withFile(async (f) => {
      patch(f, 4, [0x7f]);
      await rejectsCorrupt(f, /count 127 beyond the record/);
    }),
  );
});

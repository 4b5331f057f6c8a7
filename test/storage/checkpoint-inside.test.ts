// A checkpoint target inside the source's own data directory is refused (22023): a directory there named
// like one of the engine's files (000123.sst, 000124.log, MANIFEST-...) made every later open of the source
// fail (recovery removes an unknown table by that name: EISDIR), and any copy there sits in what it copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { tmpDir } from './engines.lib.ts';

test('checkpoint into the data directory itself or below it is refused; the source still opens', async () => {
  const dir = await tmpDir('nextdb-h4-inside-');
  try {
    const db = path.join(dir, 'db');
    const e = await openLsmEngine({ dir: db });
    for (let i = 0; i < 1000; i++) e.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    for (const target of [path.join(db, '999999.sst'), path.join(db, 'backups', 'b1'), `${db}/x/../y`])
      await assert.rejects(
        e.checkpoint!(target),
        (err: unknown) => err instanceof NextDbError && err.code === '22023',
        target,
      );
    // Beside it (a path through the data directory that leaves it) is fine.
    const info = await e.checkpoint!(`${db}/../copy`);
    assert.ok(info.files >= 3, JSON.stringify(info));
    await e.close();
    assert.deepEqual(
      fs.readdirSync(db).filter((n) => !/^(\d{6,}\.(sst|log)|MANIFEST-\d+|CURRENT)$/.test(n)),
      [],
    );
    for (const d of [db, path.join(dir, 'copy')]) {
      const r = await openLsmEngine({ dir: d });
      assert.equal(r.get(Buffer.from('k5'))?.toString(), 'v5', d);
      await r.close();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

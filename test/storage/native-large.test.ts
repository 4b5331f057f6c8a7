// A file larger than 4 GiB through NodeVfs (a table that large is possible: tableBytes is an option, and
// recovery flushes a whole WAL into one table). With the native helpers on Node 20, mapping it made
// napi_create_external_arraybuffer fail (above buffer.constants.MAX_LENGTH), which runs the mapping's
// finalizer (munmap + free) before js_map's own cleanup did both again: a double free, the process aborted
// on opening the table. And crc32 reads its offsets as u32, so a mapping above 4 GiB would checksum the
// wrong range. Such files are read with pread instead. Run in a child process: the bug was an abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './engines.lib.ts';

test('NodeVfs: a sparse file over 4 GiB opens, reads and checksums past 4 GiB (no crash, no wrong range)', async () => {
  const dir = await tmpDir('nextdb-h4-large-');
  try {
    const child = fileURLToPath(new URL('./native-large.child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, path.join(dir, 'big')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ok (pread|mapped)$/m);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

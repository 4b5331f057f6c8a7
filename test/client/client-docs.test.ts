// The example at the top of docs/reference/client.md runs as written against
// a `nextdb server` process: the test takes the first ```ts block, points its
// host at the test server and its `nextdb/client` import at the source, runs
// it as a module, and checks what it printed (the values its comments name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from '../server/server-process.ts';

const root = new URL('../../', import.meta.url).pathname;

test('the docs/reference/client.md example runs as written', { timeout: 120_000 }, async () => {
  const doc = readFileSync(join(root, 'docs/reference/client.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'the page has a ts example');
  assert.match(block, /from 'nextdb\/client'/);
  assert.match(block, /'127\.0\.0\.1:8080'/);
  const server = await startServerProcess(['16495', '--memory']);
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-h6-docs-'));
  try {
    const file = join(dir, 'example.mts');
    writeFileSync(
      file,
      block
        .replace("from 'nextdb/client'", `from ${JSON.stringify(join(root, 'src/client/index.ts'))}`)
        .replaceAll("'127.0.0.1:8080'", `'127.0.0.1:${server.port}'`),
    );
    const run = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '[ { id: 1, balance: 100 } ] 1 1\n1 90\n2 10\n1\tstart\n2\tstop\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
});

// nextdb_backup(dir): an online copy of the whole database from SQL, which
// opens as an ordinary data directory; superusers only, absolute paths only,
// 0A000 where the SQL engine does not own its storage (a cluster node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import type { Engine } from '../../src/storage/engine.ts';
import { openTxnManager } from '../../src/txn/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

async function withSql<T>(
  engine: Engine,
  f: (q: (sql: string) => Promise<string[][]>) => Promise<T>,
  own = true,
): Promise<T> {
  const sql = await SqlEngine.open(own ? { engine } : { engine, txnManager: await openTxnManager(engine) });
  const s = sql.createSession({ user: 'postgres', database: 'postgres' });
  const q = async (text: string): Promise<string[][]> => {
    const r = await s.simpleQuery(text);
    return (r[r.length - 1]!.rows ?? []).map((row) => row.map((v) => (v === null ? 'NULL' : v.toString('utf8'))));
  };
  try {
    return await f(q);
  } finally {
    await sql.close();
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof NextDbError, String(e));
    return e.code;
  }
  return 'ok';
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'nextdb-backup-'));

for (const kind of ['lsm', 'memory'] as const) {
  test(`nextdb_backup from a ${kind} server: the copy serves the same tables; later writes are not in it`, async () => {
    const dir = tmp();
    try {
      const engine = kind === 'lsm' ? await openLsmEngine({ dir: path.join(dir, 'db') }) : new MemoryEngine();
      const backup = path.join(dir, 'backup');
      await withSql(engine, async (q) => {
        await q('CREATE TABLE t (a int PRIMARY KEY, b text)');
        await q("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 2000) g");
        await q('CREATE INDEX t_b ON t (b)');
        const [[info]] = (await q(`SELECT nextdb_backup('${backup}')`)) as [[string]];
        const j = JSON.parse(info) as { dir: string; files: number; bytes: number };
        assert.equal(j.dir, backup);
        assert.ok(j.files >= 3 && j.bytes > 0, info);
        await q('DELETE FROM t WHERE a > 10');
        assert.equal(await code(q(`SELECT nextdb_backup('${backup}')`)), '58P02', 'the directory is not empty now');
        assert.equal(await code(q(`SELECT nextdb_backup('relative/dir')`)), '22023');
        await q('CREATE ROLE plain LOGIN');
        await q('SET ROLE plain');
        assert.equal(await code(q(`SELECT nextdb_backup('${path.join(dir, 'b2')}')`)), '42501');
        await q('RESET ROLE');
      });
      await engine.close();
      const copy = await openLsmEngine({ dir: backup });
      await withSql(copy, async (q) => {
        assert.deepEqual(await q("SELECT count(*), min(a), max(a), max(b) FROM t WHERE b LIKE 'row %'"), [
          ['2000', '1', '2000', 'row 999'],
        ]);
        assert.deepEqual(await q("SELECT a FROM t WHERE b = 'row 1500'"), [['1500']]);
      });
      await copy.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('nextdb_backup where the SQL engine does not own its storage (a cluster node): 0A000', async () => {
  const engine = new MemoryEngine();
  await withSql(
    engine,
    async (q) => {
      assert.equal(await code(q(`SELECT nextdb_backup('/tmp/nextdb-backup-never')`)), '0A000');
    },
    false,
  );
  assert.ok(!fs.existsSync('/tmp/nextdb-backup-never'));
  await engine.close();
});

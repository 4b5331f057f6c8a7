// COPY through the Session API (the server's hooks StatementResult.copyIn /
// copyOut): data in arbitrary chunks, defaults for omitted columns, the
// statements after a COPY in one query string, a failed COPY inside a
// transaction block (the block fails, ROLLBACK recovers), option errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

async function setup() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  await s.simpleQuery('CREATE TABLE t (a int PRIMARY KEY, b text, c int DEFAULT 7)');
  const rows = async (sql: string): Promise<string[]> =>
    ((await s.simpleQuery(sql)).at(-1)!.rows ?? []).map((r) =>
      r.map((v) => (v === null ? 'null' : v.toString())).join('|'),
    );
  return { engine, s, rows };
}

test('COPY FROM STDIN in odd chunks, column list with defaults, then the rest of the query string', async () => {
  const { engine, s, rows } = await setup();
  // Outside a block a multi-statement query runs as one implicit transaction, which a COPY FROM STDIN cannot join yet.
  await assert.rejects(
    s.simpleQuery('COPY t FROM STDIN; SELECT 1'),
    (e: unknown) => e instanceof NextDbError && e.code === '0A000',
  );
  const res = await s.simpleQuery('BEGIN; COPY t (a, b) FROM STDIN; SELECT count(*) FROM t; COMMIT');
  assert.deepEqual(
    res.map((r) => r.commandTag),
    ['BEGIN', 'COPY'],
  );
  const copy = res[1]!.copyIn!;
  assert.deepEqual(copy.columnFormats, [0, 0]);
  const data = Buffer.from('1\tone\n2\t\\N\n3\tthr€e\n\\.\n');
  for (let i = 0; i < data.length; i += 3) await copy.write(data.subarray(i, i + 3));
  const done = await copy.finish();
  assert.deepEqual(
    done.map((r) => r.commandTag),
    ['COPY 3', 'SELECT 1', 'COMMIT'],
  );
  assert.deepEqual(await rows('SELECT a, b, c FROM t ORDER BY a'), ['1|one|7', '2|null|7', '3|thr€e|7']);
  const out = (await s.simpleQuery("COPY t TO STDOUT (FORMAT text, HEADER, DELIMITER '|', NULL 'nil')"))[0]!;
  assert.equal(out.commandTag, 'COPY 3');
  assert.equal(Buffer.concat(out.copyOut!.chunks).toString(), 'a|b|c\n1|one|7\n2|nil|7\n3|thr€e|7\n');
  await engine.close();
});

test('a failed COPY inside BEGIN fails the block; ROLLBACK undoes the rows before it', async () => {
  const { engine, s, rows } = await setup();
  await s.simpleQuery('BEGIN');
  await s.simpleQuery("INSERT INTO t VALUES (100, 'before')");
  const copy = (await s.simpleQuery('COPY t FROM STDIN (FORMAT csv, HEADER)'))[0]!.copyIn!;
  await copy.write(Buffer.from('a,b,c\n1,x,1\n'));
  await assert.rejects(
    async () => {
      await copy.write(Buffer.from('2,y,notanint\n'));
      await copy.finish();
    },
    (e: unknown) =>
      e instanceof NextDbError && e.code === '22P02' && e.where === 'COPY t, line 3, column c: "notanint"',
  );
  assert.equal(s.txnStatus, 'E');
  await s.simpleQuery('ROLLBACK');
  assert.deepEqual(await rows('SELECT count(*) FROM t'), ['0']);
  await engine.close();
});

test('an aborted COPY (CopyFail) loads nothing; autocommit COPY commits on finish', async () => {
  const { engine, s, rows } = await setup();
  const c1 = (await s.simpleQuery('COPY t FROM STDIN'))[0]!.copyIn!;
  await c1.write(Buffer.from('1\ta\t1\n'));
  await c1.abort('client gave up');
  assert.deepEqual(await rows('SELECT count(*) FROM t'), ['0']);
  assert.equal(s.txnStatus, 'I');
  const c2 = (await s.simpleQuery('COPY t FROM STDIN'))[0]!.copyIn!;
  await c2.write(Buffer.from('1\ta\t1\n2\tb\t2'));
  assert.deepEqual(
    (await c2.finish()).map((r) => r.commandTag),
    ['COPY 2'],
  );
  assert.deepEqual(await rows('SELECT a, b, c FROM t ORDER BY a'), ['1|a|1', '2|b|2']);
  await engine.close();
});

test('COPY errors: extra and missing columns, bad options, unsupported forms', async () => {
  const { engine, s } = await setup();
  const code = async (sql: string, data?: string): Promise<string> => {
    try {
      const r = (await s.simpleQuery(sql))[0]!;
      if (r.copyIn !== undefined) {
        await r.copyIn.write(Buffer.from(data ?? ''));
        await r.copyIn.finish();
      }
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof NextDbError, String(e));
      return `${e.code} ${e.message}`;
    }
  };
  assert.equal(await code('COPY t FROM STDIN', '1\ta\t1\textra\n'), '22P04 extra data after last expected column');
  assert.equal(await code('COPY t FROM STDIN', '1\ta\n'), '22P04 missing data for column "c"');
  assert.match(
    await code("COPY t FROM STDIN (FORMAT text, QUOTE '\"')"),
    /^0A000 COPY quote available only in CSV mode/,
  );
  assert.match(await code('COPY t FROM STDIN (FORMAT xml)'), /^22023 /);
  assert.match(await code('COPY t TO STDOUT (FORMAT binary)'), /^0A000 /);
  assert.match(await code("COPY t TO '/tmp/x'"), /^0A000 /);
  assert.match(await code('COPY t FROM STDIN (FORCE_NOT_NULL (b))'), /^0A000 /);
  assert.match(await code('COPY t (nope) FROM STDIN'), /^42703 /);
  await engine.close();
});

// The describe commands send exactly the SQL psql 15 sends: every query the
// client builds is compared with the block psql produced for the same
// meta-command in ../shared/corpus/psql-describe-queries.sql (with the
// relation oid psql used substituted). Also the pattern rules and the \du
// attribute folding, against the transcript of psql 15's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  FIXED_LISTS,
  LIST_ROLES_SQL,
  TABLE_QUERIES,
  describe,
  formatRoles,
  listRelationsSql,
  lookupRelationSql,
  namePattern,
  type TextResult,
} from '../../src/cli/client-describe.ts';
import { corpusPath } from '../support/corpus.ts';

const CORPUS = corpusPath('psql-describe-queries.sql');

/** Corpus blocks by "<meta-command> <i>" ("\\d users 3"). */
function corpusBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  const parts = readFileSync(CORPUS, 'utf8')
    .split(/^-- >>> /m)
    .slice(1);
  for (const part of parts) {
    const nl = part.indexOf('\n');
    const m = /^(.*?)\s+\[query (\d+)\/\d+\]/.exec(part.slice(0, nl));
    assert.ok(m, part.slice(0, nl));
    blocks.set(`${m[1]} ${m[2]}`, part.slice(nl + 1).trim());
  }
  return blocks;
}

const blocks = corpusBlocks();
const corpus = (key: string): string => {
  const b = blocks.get(key);
  assert.ok(b !== undefined, `corpus has no ${key}`);
  return b;
};

test('describe: list queries equal psql 15 text', () => {
  assert.equal(listRelationsSql(['t', 'v', 'm', 's', 'E'], false), corpus('\\d 1'));
  assert.equal(listRelationsSql(['t', 'v', 'm', 's', 'E'], true), corpus('\\d+ 1'));
  assert.equal(listRelationsSql(['t'], false), corpus('\\dt 1'));
  assert.equal(listRelationsSql(['t'], true), corpus('\\dt+ 1'));
  assert.equal(listRelationsSql(['i'], false), corpus('\\di 1'));
  assert.equal(listRelationsSql(['v'], false), corpus('\\dv 1'));
  assert.equal(listRelationsSql(['s'], false), corpus('\\ds 1'));
  for (const name of ['l', 'l+', 'dn', 'dn+', 'df', 'dT', 'dx'])
    assert.equal(FIXED_LISTS[name]?.sql, corpus(`\\${name} 1`), name);
  assert.equal(LIST_ROLES_SQL, corpus('\\du 1'));
});

test('describe: \\d NAME queries equal psql 15 text', () => {
  assert.equal(lookupRelationSql('users'), corpus('\\d users 1'));
  assert.equal(lookupRelationSql('app.orders'), corpus('\\d app.orders 1'));
  assert.equal(lookupRelationSql('active_users'), corpus('\\d active_users 1'));
  const q = TABLE_QUERIES;
  // app.orders (oid 16400 in the capture) runs every per-table query, check constraints included.
  const orders = [
    q.relationInfo,
    q.columns,
    q.indexes,
    q.checkConstraints,
    q.foreignKeys,
    q.referencedBy,
    q.policies,
    q.statistics,
    q.publications,
    q.triggers,
    q.inherits,
    q.children,
  ];
  orders.forEach((f, i) => assert.equal(f('16400'), corpus(`\\d app.orders ${i + 2}`), `query ${i + 2}`));
  // users (16387) has no check constraint, so psql skips that query.
  const users = orders.filter((f) => f !== q.checkConstraints);
  users.forEach((f, i) => assert.equal(f('16387'), corpus(`\\d users ${i + 2}`), `query ${i + 2}`));
  // \d+ differs in queries 2 and 3 only.
  const verbose = [q.relationInfoVerbose, q.columnsVerbose, ...users.slice(2)];
  verbose.forEach((f, i) => assert.equal(f('16387'), corpus(`\\d+ users ${i + 2}`), `verbose query ${i + 2}`));
});

test('describe: name patterns', () => {
  assert.deepEqual(namePattern('users'), { schema: undefined, name: '^(users)$', qualified: false });
  assert.deepEqual(namePattern('App.Orders'), { schema: '^(app)$', name: '^(orders)$', qualified: true });
  assert.deepEqual(namePattern('"My.Table"'), { schema: undefined, name: '^(My\\.Table)$', qualified: false });
  assert.deepEqual(namePattern('us*'), { schema: undefined, name: '^(us.*)$', qualified: false });
  assert.deepEqual(namePattern('*.*'), { schema: undefined, name: undefined, qualified: true });
  assert.deepEqual(namePattern('a?$'), { schema: undefined, name: '^(a.\\$)$', qualified: false });
  assert.match(
    listRelationsSql(['t'], false, 'us*'),
    /c\.relname OPERATOR\(pg_catalog\.~\) '\^\(us\.\*\)\$' COLLATE pg_catalog\.default\n {2}AND pg_catalog\.pg_table_is_visible\(c\.oid\)\nORDER BY 1,2;$/,
  );
  assert.doesNotMatch(listRelationsSql(['t'], false, 'app.*'), /pg_table_is_visible/);
  assert.match(lookupRelationSql("o'brien"), /'\^\(o''brien\)\$'/);
});

test('describe: \\du folds role attributes like psql 15', () => {
  const r: TextResult = {
    columns: [],
    rows: [
      ['postgres', 't', 't', 't', 't', 't', '-1', null, '{}', 't', 't'],
      ['app', 'f', 'f', 'f', 'f', 'f', '3', 'infinity', '{postgres}', 'f', 'f'],
    ],
  };
  const text = formatRoles(r);
  const transcript = readFileSync(corpusPath('psql', 'psql-describe-transcript.txt'), 'utf8');
  const postgresRow = ' postgres  | Superuser, Create role, Create DB, Replication, Bypass RLS | {}';
  assert.ok(transcript.includes(postgresRow));
  assert.ok(text.includes(postgresRow), text);
  // A multi-line cell: '+' marks each line that continues.
  const w = 'Superuser, Create role, Create DB, Replication, Bypass RLS'.length;
  assert.ok(text.includes(` app       | ${'No inheritance, Cannot login'.padEnd(w)}+| {postgres}\n`), text);
  assert.ok(text.includes(`           | ${'3 connections'.padEnd(w)}+| \n`), text);
  assert.ok(text.includes(`           | ${'Password valid until infinity'.padEnd(w)} | \n`), text);
});

test('describe: dispatch, empty results and unsupported forms', async () => {
  const sent: string[] = [];
  const none = async (sql: string): Promise<TextResult> => {
    sent.push(sql);
    return { columns: [{ name: 'x', type: 25 }], rows: [] };
  };
  assert.deepEqual(await describe('dt', [], none), { out: '', err: 'Did not find any relations.\n' });
  assert.deepEqual(await describe('d', ['nosuch'], none), {
    out: '',
    err: 'Did not find any relation named "nosuch".\n',
  });
  assert.equal(sent.at(-1), lookupRelationSql('nosuch'));
  assert.deepEqual(await describe('d+', ['users'], none), {
    out: '',
    err: 'Did not find any relation named "users".\n',
  });
  assert.equal(await describe('zz', [], none), undefined);
  assert.match((await describe('dn', [], none))!.out, /List of schemas/);
});

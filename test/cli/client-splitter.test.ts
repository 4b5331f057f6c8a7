// The client's statement splitter: a table of inputs and the statements and
// meta-commands psql would find in them, then a property test: statements
// built from fragments that hide ';' inside quotes, dollar quotes, comments
// and parentheses come back exactly, however the text is cut into lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatementSplitter, parseMeta, type SplitPiece } from '../../src/cli/client-splitter.ts';

function split(text: string): { pieces: SplitPiece[]; rest: string | undefined } {
  const s = new StatementSplitter();
  const pieces: SplitPiece[] = [];
  for (const line of text.split('\n')) pieces.push(...s.feed(line));
  return { pieces, rest: s.finish() };
}

const sqlOf = (text: string): string[] =>
  split(text).pieces.map((p) => (p.kind === 'sql' ? p.text : `META ${p.name} ${p.args.join('|')}`));

test('splitter: psql statement boundaries', () => {
  const cases: [string, string[]][] = [
    ['select 1; select 2;', ['select 1;', 'select 2;']],
    ['select 1;select 2', ['select 1;']],
    ["select ';' as x;", ["select ';' as x;"]],
    ["select 'it''s;' ;", ["select 'it''s;' ;"]],
    ["select E'a\\';b' ;", ["select E'a\\';b' ;"]],
    ["select e'\\\\'; select 2;", ["select e'\\\\';", 'select 2;']],
    // 'E' that is the end of an identifier is not an escape-string prefix.
    ["select typE'a\\'; select 2;", ["select typE'a\\';", 'select 2;']],
    ['select "a;b""c" from t;', ['select "a;b""c" from t;']],
    ['select $$a;b$$;', ['select $$a;b$$;']],
    ['select $fn$ $$; $fn$;', ['select $fn$ $$; $fn$;']],
    ['select $1; select a$b$c;', ['select $1;', 'select a$b$c;']],
    ['select 1 -- a; comment\n;', ['select 1 -- a; comment\n;']],
    ['-- leading comment; dropped\nselect 1;', ['select 1;']],
    ['select /* a; /* nested; */ still; */ 1;', ['select /* a; /* nested; */ still; */ 1;']],
    [
      'create rule r as on insert to t do (insert into u values (1); insert into u values (2));',
      ['create rule r as on insert to t do (insert into u values (1); insert into u values (2));'],
    ],
    ['select\n  1\n;', ['select\n  1\n;']],
    ['  \n\t select 1;', ['select 1;']],
    ['\\d users', ['META d users']],
    ['\\dt "My Table" other', ['META dt "My Table"|other']],
    ["\\echo 'a b' c", ['META echo a b|c']],
    ['select 1 \\g', ['select 1']],
    ['select 1; \\q', ['select 1;', 'META q ']],
    ["select 'a\\d';", ["select 'a\\d';"]],
    ['\\timing on \\\\ select 1;', ['META timing on', 'select 1;']],
    ['\\echo a\\q', ['META echo a', 'META q ']],
    ['select 1 \\g \\\\ select 2;', ['select 1', 'select 2;']],
  ];
  for (const [input, want] of cases) assert.deepEqual(sqlOf(input), want, JSON.stringify(input));
});

test('splitter: unterminated text and prompt markers', () => {
  const s = new StatementSplitter();
  assert.equal(s.promptMarker, '=');
  s.feed('select (1');
  assert.equal(s.promptMarker, '(');
  s.feed(") + 'abc");
  assert.equal(s.promptMarker, "'");
  s.feed("'");
  assert.equal(s.promptMarker, '-');
  s.feed('/* open');
  assert.equal(s.promptMarker, '*');
  s.feed('*/ $x$');
  assert.equal(s.promptMarker, '$');
  s.feed('$x$ "q');
  assert.equal(s.promptMarker, '"');
  assert.equal(s.finish(), "select (1\n) + 'abc\n'\n/* open\n*/ $x$\n$x$ \"q");
  assert.equal(s.pending, false);
  assert.deepEqual(split('select 1').rest, 'select 1');
  assert.equal(split('-- only a comment').rest, undefined);
});

test('splitter: meta-command arguments', () => {
  assert.deepEqual(parseMeta('d app.orders').args, ['app.orders']);
  assert.deepEqual(parseMeta(`c  'my db'  `).args, ['my db']);
  assert.deepEqual(parseMeta(`echo 'it''s'`).args, ["it's"]);
  assert.deepEqual(parseMeta('d "a ""b"" c".x').args, ['"a ""b"" c".x']);
  assert.equal(parseMeta('timing on').name, 'timing');
});

// Fragments that contain ';' only where it must not split, plus plain ones.
const fragment = fc.oneof(
  fc.constantFrom('select', '1', 'x', '+', 'from t', 'where a = b', '$1', 'a$b', '::int', ',', 'E', 'e'),
  fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/'/g, "''").replace(/\\/g, '')}'`),
  fc.string({ maxLength: 6 }).map((s) => `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`),
  fc.string({ maxLength: 6 }).map((s) => `"${s.replace(/"/g, '""')}"`),
  fc.string({ maxLength: 6 }).map((s) => `$$${s.replace(/\$/g, '')}$$`),
  fc.string({ maxLength: 6 }).map((s) => `$q$${s.replace(/\$/g, '')}$q$`),
  fc.string({ maxLength: 6 }).map((s) => `/* ${s.replace(/\*|\//g, '')} */`),
  fc.string({ maxLength: 6 }).map((s) => `-- ${s.replace(/\n/g, '')}\n`),
  fc.string({ maxLength: 6 }).map((s) => `(${`'${s.replace(/'/g, "''")}'`}; 2)`),
  fc.constantFrom("';'", '$$;$$', '/*;*/', '"a;b"', '(;)', "E'\\';'", '-- ;\n'),
);

const statement = fc
  .array(fragment, { minLength: 1, maxLength: 6 })
  .map((fs) => `${fs.join(' ').replace(/^\s*(--[^\n]*\n\s*)*/, 'select ')};`);

test('splitter: statements come back exactly, however the text is cut into lines', () => {
  fc.assert(
    fc.property(
      fc.array(statement, { minLength: 1, maxLength: 5 }),
      fc.array(fc.constantFrom(' ', '\n', '  \n '), { minLength: 5, maxLength: 5 }),
      (stmts, seps) => {
        const text = stmts.map((s, i) => s + seps[i % seps.length]!).join('');
        const { pieces, rest } = split(text);
        assert.deepEqual(
          pieces.map((p) => (p.kind === 'sql' ? p.text : `META ${p.name}`)),
          stmts,
        );
        assert.equal(rest, undefined);
      },
    ),
    { numRuns: 500 },
  );
});

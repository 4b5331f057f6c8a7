// The client's psql-style formatting. Tables are checked against psql 15's
// own rendering in ../shared/corpus/psql/psql-describe-transcript.txt (the
// same data in, the same text out); the error caret is checked on fixed
// cases and, as a property, that the character above the caret is the one
// at the error position, however long the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  caretLines,
  displayWidth,
  formatError,
  formatExpanded,
  formatTable,
  formatTiming,
  rowCountFooter,
} from '../../src/cli/client-format.ts';
import { corpusPath } from '../support/corpus.ts';

const TRANSCRIPT = corpusPath('psql', 'psql-describe-transcript.txt');

/** The rendered block of a meta-command in the transcript: from its title line to the blank line after it. */
function transcriptBlock(command: string, title: string): string {
  const text = readFileSync(TRANSCRIPT, 'utf8');
  const start = text.indexOf(`=== ${command}\n`);
  assert.ok(start >= 0, command);
  const lines = text.slice(start).split('\n');
  const t = lines.findIndex((l) => l.trim() === title);
  const end = lines.indexOf('', t);
  return lines.slice(t, end + 1).join('\n') + '\n';
}

test('format: \\l table equals psql 15 output (multi-line cells, centred headers, title)', () => {
  const acl = '=c/postgres\npostgres=CTc/postgres';
  const row = (name: string, a: string | null): (string | null)[] => [
    name,
    'postgres',
    'UTF8',
    'C.UTF-8',
    'C.UTF-8',
    null,
    'libc',
    a,
  ];
  const got = formatTable({
    title: 'List of databases',
    headers: ['Name', 'Owner', 'Encoding', 'Collate', 'Ctype', 'ICU Locale', 'Locale Provider', 'Access privileges'],
    rows: [row('demo', null), row('postgres', null), row('template0', acl), row('template1', acl)],
    footers: [rowCountFooter(4)],
  });
  assert.equal(got, transcriptBlock('\\l', 'List of databases'));
});

test('format: \\d users table with footers equals psql 15 output', () => {
  const got = formatTable({
    title: 'Table "public.users"',
    headers: ['Column', 'Type', 'Collation', 'Nullable', 'Default'],
    rows: [
      ['id', 'integer', '', 'not null', "nextval('users_id_seq'::regclass)"],
      ['email', 'text', '', 'not null', ''],
      ['created_at', 'timestamp with time zone', '', '', 'now()'],
      ['profile', 'jsonb', '', '', ''],
    ],
    footers: [
      'Indexes:',
      '    "users_pkey" PRIMARY KEY, btree (id)',
      '    "users_created_idx" btree (created_at)',
      '    "users_email_key" UNIQUE CONSTRAINT, btree (email)',
      'Referenced by:',
      '    TABLE "app.orders" CONSTRAINT "orders_user_id_fkey" FOREIGN KEY (user_id) REFERENCES users(id)',
    ],
  });
  assert.equal(got, transcriptBlock('\\d users', 'Table "public.users"'));
});

test('format: numbers right-aligned, NULL empty, zero rows, zero columns', () => {
  const got = formatTable({
    headers: ['n', 'name'],
    rows: [
      ['1', 'a'],
      ['12345', null],
    ],
    rightAlign: [true, false],
    footers: [rowCountFooter(2)],
  });
  assert.equal(got, '   n   | name \n-------+------\n     1 | a\n 12345 | \n(2 rows)\n\n');
  assert.equal(formatTable({ headers: ['x'], rows: [], footers: [rowCountFooter(0)] }), ' x \n---\n(0 rows)\n\n');
  assert.equal(formatTable({ headers: [], rows: [[]], footers: [rowCountFooter(1)] }), '--\n\n(1 row)\n\n');
  // Wide characters take two columns.
  assert.equal(displayWidth('日本'), 4);
  assert.equal(formatTable({ headers: ['k'], rows: [['日本']] }), '  k   \n------\n 日本\n\n');
});

test('format: error caret lines', () => {
  assert.deepEqual(caretLines('select * form t', 10), ['LINE 1: select * form t', '                 ^']);
  assert.deepEqual(caretLines('select\n  * form t;', 12), ['LINE 2:   * form t;', '            ^']);
  assert.deepEqual(caretLines('select 1 +', 11), ['LINE 1: select 1 +', '                  ^']);
  assert.deepEqual(caretLines('a\r\nb c', 6), ['LINE 2: b c', '          ^']);
  const long = `select ${'x, '.repeat(40)}bad syntax here, ${'y, '.repeat(20)}z`;
  const [line, caret] = caretLines(long, long.indexOf('bad') + 1);
  assert.ok(line!.startsWith('LINE 1: ...') && line!.endsWith('...'), line);
  assert.equal(line!.slice(caret!.length - 1, caret!.length + 2), 'bad');
  assert.equal(
    formatError(
      {
        severity: 'ERROR',
        message: 'syntax error at or near "form"',
        position: 10,
        query: 'select * form t',
        hint: 'h',
        detail: 'd',
      },
      'nextdb:f.sql:3: ',
    ),
    'nextdb:f.sql:3: ERROR:  syntax error at or near "form"\nLINE 1: select * form t\n                 ^\nDETAIL:  d\nHINT:  h\n',
  );
});

test('format: the caret points at the error position on any line', () => {
  const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '(', ';'), maxLength: 150 });
  fc.assert(
    fc.property(fc.array(lineArb, { minLength: 1, maxLength: 4 }), fc.nat(), (lines, pick) => {
      const query = lines.join('\n');
      const pos = (pick % (query.length + 1)) + 1;
      const [excerpt, caret] = caretLines(query, pos);
      const col = caret!.length - 1;
      assert.ok(displayWidth(excerpt!) <= 'LINE 4: '.length + 60 + 6, excerpt);
      const lineNo = query.slice(0, pos - 1).split('\n').length;
      assert.ok(excerpt!.startsWith(`LINE ${lineNo}: `));
      const expected = query[pos - 1];
      if (expected !== undefined && expected !== '\n')
        assert.equal(excerpt![col], expected, `${JSON.stringify(query)} @${pos}`);
    }),
    { numRuns: 500 },
  );
});

test('format: timing', () => {
  assert.equal(formatTiming(12.3456), 'Time: 12.346 ms');
  assert.match(formatTiming(61234.5), /^Time: 61234\.500 ms \(01:01\.23[45]\)$/);
  assert.equal(formatTiming(3723000), 'Time: 3723000.000 ms (01:02:03.000)');
  assert.equal(formatTiming(90061000), 'Time: 90061000.000 ms (1 d 01:01:01.000)');
});

test('format: expanded (\\x) records', () => {
  assert.equal(
    formatExpanded({ headers: ['a', 'bb'], rows: [['1', 'hello']] }),
    '-[ RECORD 1 ]\na  | 1\nbb | hello\n\n',
  );
  const long = 'leader_pid_long_name';
  assert.equal(
    formatExpanded({
      headers: [long, 'x'],
      rows: [
        ['1', 'two\nlines'],
        [null, 'z'],
      ],
    }),
    [
      `-[ RECORD 1 ]${'-'.repeat(8)}+${'-'.repeat(6)}`,
      `${long} | 1`,
      `x${' '.repeat(19)} | two  +`,
      `${' '.repeat(20)} | lines`,
      `-[ RECORD 2 ]${'-'.repeat(8)}+${'-'.repeat(6)}`,
      `${long} | `,
      `x${' '.repeat(19)} | z`,
      '',
      '',
    ].join('\n'),
  );
  // The rule's '+' sits under the '|' of the lines: at index hwidth + 1.
  const rule = formatExpanded({ headers: [long], rows: [['v']] }).split('\n')[0]!;
  assert.equal(rule.indexOf('+'), long.length + 1);
  assert.equal(formatExpanded({ headers: ['a'], rows: [] }), '(0 rows)\n\n');
});

// The client's own array type support (src/client/pg-arrays.ts): PostgreSQL's
// array text format parsed into JS arrays and written back, for the types
// the client installs instead of postgres.js's per-connection type fetch.
// Round trips through real servers are in client.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArrayText, serializeArray } from '../../src/client/pg-arrays.ts';

const int = (s: string): number => Number(s);

test('parseArrayText: flat, nested, empty, quoted, NULL, dimension prefix', () => {
  assert.deepEqual(parseArrayText('{}'), []);
  assert.deepEqual(parseArrayText('{1,2,3}', int), [1, 2, 3]);
  assert.deepEqual(parseArrayText('{{1,2},{3,4}}', int), [
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(parseArrayText('{{},{}}'), [[], []]);
  assert.deepEqual(parseArrayText('{"a b","say \\"hi\\"","back\\\\slash","x,y","{}",NULL,null,"NULL"}'), [
    'a b',
    'say "hi"',
    'back\\slash',
    'x,y',
    '{}',
    null,
    null,
    'NULL',
  ]);
  assert.deepEqual(parseArrayText('[1:2]={7,8}', int), [7, 8]);
  assert.deepEqual(parseArrayText('{""}'), ['']);
  for (const bad of ['', '1,2', '{1,2', '{"open}', '{1}x', '{1;2}x'])
    assert.throws(() => parseArrayText(bad), SyntaxError, bad);
});

test('serializeArray: quoted elements, NULL, nesting, element serializer; round trip', () => {
  assert.equal(serializeArray([]), '{}');
  assert.equal(serializeArray([1, null, 3]), '{"1",NULL,"3"}');
  assert.equal(
    serializeArray([
      [1, 2],
      [3, 4],
    ]),
    '{{"1","2"},{"3","4"}}',
  );
  assert.equal(
    serializeArray([true], (b) => (b === true ? 't' : 'f')),
    '{"t"}',
  );
  assert.equal(serializeArray('{1,2}'), '{1,2}', 'a literal passes through');
  assert.throws(() => serializeArray([undefined]), TypeError);
  const texts = ['plain', 'a "q"', 'x,y', 'NULL', 'back\\slash', '{}', '', ' sp '];
  assert.deepEqual(parseArrayText(serializeArray(texts) as string), texts);
  assert.deepEqual(
    parseArrayText(
      serializeArray([
        ['a', null],
        ['}', '\\'],
      ]) as string,
    ),
    [
      ['a', null],
      ['}', '\\'],
    ],
  );
});

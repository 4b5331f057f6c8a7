// parseIntText's short path (up to 9 digits, no BigInt) answers exactly as
// the general path: the same value (-0 as 0), the same errors (22P02 for
// junk, 22003 out of range), for int2, int4 and int8, over edge cases and
// random strings of digits, signs, spaces and other characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIntText } from '../../src/sql/types/text-io.ts';
import { Types, type SqlType } from '../../src/sql/types/sql-type.ts';
import { NextDbError } from '../../src/util/errors.ts';

/** The general path alone (what parseIntText did before its short path). */
function reference(text: string, ty: SqlType): number | bigint | string {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) return '22P02';
  const b = BigInt(text.trim());
  if (ty.id === 'int8') return b > 9223372036854775807n || b < -9223372036854775808n ? '22003' : b;
  const max = ty.id === 'int2' ? 32767n : 2147483647n;
  return b > max || b < -max - 1n ? '22003' : Number(b);
}

function actual(text: string, ty: SqlType): number | bigint | string {
  try {
    return parseIntText(text, ty);
  } catch (e) {
    assert.ok(e instanceof NextDbError);
    return e.code;
  }
}

test('parseIntText: the short path answers as the general one', () => {
  const check = (s: string): void => {
    for (const ty of [Types.int2, Types.int4, Types.int8]) {
      const want = reference(s, ty);
      const got = actual(s, ty);
      assert.ok(Object.is(got, want), `${JSON.stringify(s)} as ${ty.id}: ${String(got)}, expected ${String(want)}`);
    }
  };
  const edges = ['', '-', '+', '-0', '+0', '0', '007', '32767', '32768', '-32768', '-32769', '999999999'];
  edges.push('-999999999', '1000000000', '2147483647', '2147483648', '-2147483648', '-2147483649', ' 12', '12 ', '1a');
  for (const s of edges) check(s);
  const alphabet = ['0', '1', '2', '9', '-', '+', ' ', 'a', '\t', '3', '7', '8', '5', '\u0660', '.'];
  let seed = 20261126;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    for (let n = next() % 12; n > 0; n--) s += alphabet[next() % alphabet.length];
    check(s);
  }
});

/**
 * What a simple query gives, as one string a test can compare: the last
 * statement's rows (columns joined by ',', rows by ';', NULL spelled out) or
 * its command tag; an error as "SQLSTATE message" (with " / detail" when
 * asked). Any error that is not a NextDbError fails the test.
 */

import assert from 'node:assert/strict';
import type { SqlSession } from '../../src/sql/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

export async function sqlOutcome(s: SqlSession, sql: string, opts: { detail?: boolean } = {}): Promise<string> {
  try {
    const r = await s.simpleQuery(sql);
    const last = r[r.length - 1]!;
    return last.rows !== undefined
      ? last.rows.map((row) => row.map((v) => v?.toString() ?? 'NULL').join(',')).join(';')
      : last.commandTag;
  } catch (e) {
    assert.ok(e instanceof NextDbError, String(e));
    const detail = opts.detail === true && e.detail !== undefined ? ` / ${e.detail}` : '';
    return `${e.code} ${e.message}${detail}`;
  }
}

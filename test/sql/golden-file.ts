/**
 * Golden SQL scripts (test/sql/golden/*.sql).
 *
 *   # a comment (kept when rewriting)
 *   > SELECT a, b
 *   > FROM t                 (several '> ' lines form one statement)
 *   a | b                    column names, then one line per row
 *   1 | NULL                 values in text format, NULL for SQL NULL
 *
 *   > INSERT INTO t VALUES (1)
 *   INSERT 0 1               statements without rows print their command tag
 *
 *   > SELECT 1/0
 *   ERROR 22012: division by zero
 *
 * Blocks are separated by blank lines. Errors compare by SQLSTATE only (the
 * message is for the reader). UPDATE_GOLDEN=1 rewrites the expected output
 * from NextDB; with GOLDEN_SOURCE=pg as well, from a throw-away PostgreSQL 15
 * (the way new scripts get their expectations: write the statements, let the
 * real PostgreSQL answer, then make NextDB agree).
 */

export interface GoldenBlock {
  comments: string[];
  sql: string;
  expected: string[];
}

export function parseGolden(text: string): GoldenBlock[] {
  const blocks: GoldenBlock[] = [];
  let comments: string[] = [];
  let cur: GoldenBlock | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('> ')) {
      if (cur !== undefined && cur.expected.length > 0) {
        blocks.push(cur);
        cur = undefined;
      }
      if (cur === undefined) {
        cur = { comments, sql: line.slice(2), expected: [] };
        comments = [];
      } else cur.sql += `\n${line.slice(2)}`;
      continue;
    }
    if (line.trim() === '') {
      if (cur !== undefined) {
        blocks.push(cur);
        cur = undefined;
      }
      continue;
    }
    if (cur === undefined) {
      comments.push(line);
      continue;
    }
    cur.expected.push(line);
  }
  if (cur !== undefined) blocks.push(cur);
  return blocks;
}

export function formatGolden(blocks: readonly GoldenBlock[]): string {
  return `${blocks
    .map((b) => [...b.comments, ...b.sql.split('\n').map((l) => `> ${l}`), ...b.expected].join('\n'))
    .join('\n\n')}\n`;
}

/** Renders one statement's outcome the way golden files spell it. */
export function renderOutcome(
  out:
    | { tag: string; columns?: readonly string[]; rows?: readonly (readonly (string | null)[])[] }
    | { code: string; message: string },
): string[] {
  if ('code' in out) return [`ERROR ${out.code}: ${out.message}`];
  if (out.columns === undefined) return [out.tag];
  return [out.columns.join(' | '), ...(out.rows ?? []).map((r) => r.map((v) => (v === null ? 'NULL' : v)).join(' | '))];
}

export function sameOutcome(expected: readonly string[], actual: readonly string[]): boolean {
  const e0 = expected[0] ?? '';
  const a0 = actual[0] ?? '';
  if (e0.startsWith('ERROR ') || a0.startsWith('ERROR '))
    return e0.slice(0, 11) === a0.slice(0, 11) && expected.length === actual.length;
  return expected.length === actual.length && expected.every((l, i) => l === actual[i]);
}

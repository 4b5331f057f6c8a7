/**
 * Output formatting of `nextdb client`, matching psql's default ("aligned",
 * border 1) format so that people and scripts that know psql's output read
 * ours the same way:
 *
 *                  Title (centred)
 *    col1  | col2 |   col3         <- headers centred, every column padded
 *   -------+------+---------
 *    text  |   42 | multi-line +   <- numbers right-aligned; '+' marks a cell
 *          |      | value           that continues on the next line
 *   (1 row)                        <- footer, then a blank line
 *
 * The last column of a data line is not padded (no trailing blanks) unless
 * it needs a continuation mark. NULL prints as an empty cell. Widths are
 * display widths: East Asian wide characters count two columns, combining
 * marks none.
 *
 * Also here: psql-style error text with the `LINE n:` excerpt and a caret
 * under the error position, and `\timing` figures.
 */

/** A result to print as a table. */
export interface TableData {
  readonly title?: string | undefined;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** Per column: right-align (numbers). */
  readonly rightAlign?: readonly boolean[] | undefined;
  /** Lines printed after the table (psql's footers: "(3 rows)", "Indexes:" ...). */
  readonly footers?: readonly string[] | undefined;
}

/** Type OIDs whose columns psql right-aligns (the numeric types). */
const NUMERIC_TYPE_OIDS = new Set([20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069]);

export function isNumericType(oid: number): boolean {
  return NUMERIC_TYPE_OIDS.has(oid);
}

/** "(1 row)" / "(N rows)". */
export function rowCountFooter(n: number): string {
  return n === 1 ? '(1 row)' : `(${n} rows)`;
}

/** The table text, ending with a newline after the blank line psql prints. */
export function formatTable(t: TableData): string {
  const ncols = t.headers.length;
  const headerLines = t.headers.map((h) => h.split('\n'));
  const cellLines = t.rows.map((r) => r.map((v) => (v === null ? [''] : v.split('\n'))));
  const widths = headerLines.map((lines) => Math.max(0, ...lines.map(displayWidth)));
  for (const row of cellLines) {
    row.forEach((lines, j) => {
      for (const l of lines) widths[j] = Math.max(widths[j] ?? 0, displayWidth(l));
    });
  }
  const out: string[] = [];
  if (t.title !== undefined) {
    // Total width of a line: each column plus its two marks, '|' between columns.
    const total = widths.reduce((a, w) => a + w + 2, 0) + Math.max(0, ncols - 1);
    const tw = displayWidth(t.title);
    out.push(tw >= total ? t.title : ' '.repeat(Math.floor((total - tw) / 2)) + t.title);
  }
  if (ncols > 0) {
    out.push(...renderLines(headerLines, widths, () => 'center', true));
    out.push(widths.map((w) => '-'.repeat(w + 2)).join('+'));
    for (const row of cellLines)
      out.push(...renderLines(row, widths, (j) => (t.rightAlign?.[j] === true ? 'right' : 'left'), false));
  } else {
    // psql prints a zero-column result as "--" and one empty line per row.
    out.push('--');
    for (let i = 0; i < t.rows.length; i++) out.push('');
  }
  for (const f of t.footers ?? []) out.push(f);
  out.push('');
  return out.join('\n') + '\n';
}

/**
 * psql's expanded layout (\x): one block per row, a "-[ RECORD n ]" rule
 * with '+' where the column separator falls, then "name | value" lines.
 * Values are left-aligned; a multi-line value marks each continued line
 * with '+'. No row count footer; "(0 rows)" when there are none.
 */
export function formatExpanded(t: TableData): string {
  if (t.rows.length === 0) return '(0 rows)\n\n';
  const hwidth = Math.max(0, ...t.headers.flatMap((h) => h.split('\n').map(displayWidth)));
  let dwidth = 0;
  for (const row of t.rows)
    for (const v of row) for (const l of (v ?? '').split('\n')) dwidth = Math.max(dwidth, displayWidth(l));
  const out: string[] = [];
  t.rows.forEach((row, r) => {
    const label = `-[ RECORD ${r + 1} ]`;
    // The rule runs to the full width, with '+' under the '|' of the lines below (when the label leaves room).
    let rule = label + '-'.repeat(Math.max(0, hwidth - label.length));
    const sep = hwidth + 1;
    if (rule.length <= sep) rule = rule.padEnd(sep, '-') + '+';
    rule += '-'.repeat(Math.max(0, hwidth + 3 + dwidth - rule.length));
    out.push(rule);
    t.headers.forEach((h, j) => {
      const lines = (row[j] ?? '').split('\n');
      lines.forEach((l, k) => {
        const name = k === 0 ? h : '';
        const more = k < lines.length - 1;
        out.push(
          `${name}${' '.repeat(hwidth - displayWidth(name))} | ${more ? l + ' '.repeat(dwidth - displayWidth(l)) + '+' : l}`,
        );
      });
    });
  });
  out.push('');
  return out.join('\n') + '\n';
}

type Align = 'left' | 'right' | 'center';

/** The physical lines of one logical row whose cells may span several lines. */
function renderLines(
  cells: readonly (readonly string[])[],
  widths: readonly number[],
  align: (j: number) => Align,
  header: boolean,
): string[] {
  const height = Math.max(1, ...cells.map((c) => c.length));
  const lines: string[] = [];
  const last = cells.length - 1;
  for (let k = 0; k < height; k++) {
    let line = '';
    for (let j = 0; j <= last; j++) {
      const cell = cells[j]!;
      const text = cell[k] ?? '';
      const more = k < cell.length - 1;
      const w = widths[j]!;
      const pad = w - displayWidth(text);
      const a = align(j);
      if (j > 0) line += '|';
      line += ' ';
      // Below the end of a multi-line cell, the last column prints nothing (psql pads only inner columns).
      if (j === last && !header && k >= cell.length) continue;
      if (j < last || header || more) {
        if (a === 'center') {
          const left = Math.floor(pad / 2);
          line += ' '.repeat(left) + text + ' '.repeat(pad - left);
        } else if (a === 'right') {
          line += ' '.repeat(pad) + text;
        } else {
          line += text + ' '.repeat(pad);
        }
        line += more ? '+' : j < last || header ? ' ' : '';
      } else {
        line += a === 'right' ? ' '.repeat(pad) + text : text;
      }
    }
    lines.push(line);
  }
  return lines;
}

/**
 * Terminal columns a string occupies: 2 for East Asian wide and fullwidth
 * characters (and emoji), 0 for combining marks and zero-width characters,
 * 1 otherwise.
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(cp: number): number {
  if (cp === 0) return 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 1; // psql shows control characters escaped; count one column
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0x20d0 && cp <= 0x20ff)
  )
    return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** The fields of a server error that psql prints. */
export interface ErrorReport {
  readonly severity: string;
  readonly message: string;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
  readonly where?: string | undefined;
  /** 1-based character position in `query`. */
  readonly position?: number | undefined;
  readonly query?: string | undefined;
}

/**
 * psql's error text: "ERROR:  message", the LINE excerpt with a caret when
 * the error has a position, then DETAIL, HINT and CONTEXT lines. `prefix` is
 * psql's "psql:file:line: " location for scripts.
 */
export function formatError(e: ErrorReport, prefix = ''): string {
  const lines = [`${prefix}${e.severity}:  ${e.message}`];
  if (e.position !== undefined && e.query !== undefined) lines.push(...caretLines(e.query, e.position));
  if (e.detail !== undefined) lines.push(`DETAIL:  ${e.detail}`);
  if (e.hint !== undefined) lines.push(`HINT:  ${e.hint}`);
  if (e.where !== undefined) lines.push(`CONTEXT:  ${e.where}`);
  return lines.join('\n') + '\n';
}

/** Screen columns shown of a long line around the error. */
const EXCERPT_COLUMNS = 60;
/** Columns kept to the right of the caret when the line must be cut. */
const EXCERPT_RIGHT_MIN = 10;

/**
 * "LINE n: <the line>" and a caret under the character at `position`
 * (1-based, counted in characters like the server does). Lines longer than
 * 60 columns are cut around the caret and marked with "...".
 */
export function caretLines(query: string, position: number): string[] {
  const chars = Array.from(query);
  const loc = Math.min(Math.max(position - 1, 0), chars.length);
  // Find the line holding loc; "\r\n", "\n" and "\r" all end a line.
  let lineNo = 1;
  let begin = 0;
  for (let i = 0; i < loc; i++) {
    const c = chars[i];
    if (c === '\n' || (c === '\r' && chars[i + 1] !== '\n')) {
      lineNo++;
      begin = i + 1;
    }
  }
  let end = begin;
  while (end < chars.length && chars[end] !== '\n' && chars[end] !== '\r') end++;
  // Screen column of every character boundary of the line (tabs show as one space).
  const shown = chars.slice(begin, end).map((c) => (c === '\t' ? ' ' : c));
  const col: number[] = [0];
  for (const c of shown) col.push(col[col.length - 1]! + Math.max(1, displayWidth(c)));
  const at = loc - begin;
  let ibeg = 0;
  let iend = shown.length;
  let cutLeft = false;
  let cutRight = false;
  if (col[iend]! - col[ibeg]! > EXCERPT_COLUMNS) {
    if (EXCERPT_COLUMNS >= col[at]! + EXCERPT_RIGHT_MIN) {
      while (col[iend]! - col[ibeg]! > EXCERPT_COLUMNS) iend--;
      cutRight = true;
    } else {
      while (col[at]! + EXCERPT_RIGHT_MIN < col[iend]!) {
        iend--;
        cutRight = true;
      }
      while (col[iend]! - col[ibeg]! > EXCERPT_COLUMNS) {
        ibeg++;
        cutLeft = true;
      }
    }
  }
  const head = `LINE ${lineNo}: ${cutLeft ? '...' : ''}`;
  const text = shown.slice(ibeg, iend).join('');
  return [head + text + (cutRight ? '...' : ''), ' '.repeat(displayWidth(head) + col[at]! - col[ibeg]!) + '^'];
}

/** psql's \timing line: "Time: 12.345 ms", with (mm:ss.sss) etc. from one second on. */
export function formatTiming(ms: number): string {
  const base = `Time: ${ms.toFixed(3)} ms`;
  if (ms < 1000) return base;
  let seconds = ms / 1000;
  const days = Math.floor(seconds / 86400);
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const ss = seconds.toFixed(3).padStart(6, '0');
  const mm = String(minutes).padStart(2, '0');
  if (days > 0) return `${base} (${days} d ${String(hours).padStart(2, '0')}:${mm}:${ss})`;
  if (hours > 0) return `${base} (${String(hours).padStart(2, '0')}:${mm}:${ss})`;
  return `${base} (${mm}:${ss})`;
}

/**
 * The SQL parser: PostgreSQL's own grammar, through pgsql-parser (libpg_query
 * compiled to WebAssembly). The WASM module is loaded once per process
 * (`loadParser()`, awaited by SqlEngine.open); after that, parsing is
 * synchronous.
 *
 * Syntax errors become NextDbError 42601 with PostgreSQL's message and its
 * 1-based character position (libpg_query reports a 0-based byte offset; we
 * convert it to characters so multi-byte text points at the right place).
 *
 * Parse cache. A parse costs ~80-200 µs (WASM + JSON), so parseSql keeps two
 * bounded LRU caches of libpg_query's raw result (see ParseCache below):
 *
 *   sql ──exact text──▶ raw result ──clone──▶ ParsedStatement[]
 *    │
 *    └─lexLiterals─▶ (key, literals) ──template──▶ raw result
 *                       clone + substitute literal values + shift locations
 *
 * The second cache serves texts that differ only in literal values (pgbench
 * -S -M simple: `... WHERE aid = 12345;` with a new aid each time). Its key is
 * the text with each literal replaced by a class marker (int4 / other numeric
 * / string). A template is only kept when every literal token of its text has
 * exactly one A_Const at its own location (or at a '-' folded into it) whose
 * value is the one the lexer computed; anything else (a literal the grammar
 * turns into something else, a token the lexer does not model) falls back to
 * a real parse. Offsets are UTF-8 bytes, as libpg_query's locations. The
 * first hit of each template is checked against a real parse as well. Every hit returns a fresh copy: the binder and DDL code may
 * keep or annotate nodes, so a cached tree is never handed out.
 */

import { isDeepStrictEqual } from 'node:util';
import { loadModule, parseSync } from 'pgsql-parser';
import type { Node, RawStmt } from '@pgsql/types';
import { NextDbError, SqlState } from '../util/errors.ts';

let loaded: Promise<void> | undefined;
let ready = false;

/** Loads the WASM parser once; later calls share the first load. */
export function loadParser(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  return loaded;
}

export interface ParsedStatement {
  readonly stmt: Node;
  /** Source text of this statement alone (for plan caching and error context). */
  readonly text: string;
  /** 0-based character offset of the statement in the whole query string. */
  readonly offset: number;
}

interface SqlErrorShape {
  readonly sqlDetails?: { readonly message: string; readonly cursorPosition: number };
  readonly message?: string;
}

/** Converts a byte offset in the UTF-8 encoding of `text` to a character offset. */
function byteToCharOffset(text: string, byteOffset: number): number {
  // Fast path: pure ASCII text has identical offsets.
  if (Buffer.byteLength(text) === text.length) return byteOffset;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.subarray(0, Math.max(0, byteOffset)).toString('utf8').length;
}

/** Parses one query string (possibly several statements separated by ';'). */
export function parseSql(sql: string): ParsedStatement[] {
  if (!ready) throw new NextDbError(SqlState.internalError, 'SQL parser not loaded: await loadParser() first');
  return toStatements(sql, parseCached(sql));
}

/** libpg_query's raw statements for `sql`, from a cache when possible (always a fresh copy). */
function parseCached(sql: string): RawStmt[] {
  if (sql.length > PARSE_CACHE_TEXT_CHARS_MAX) return parseRaw(sql);
  const exact = exactCache.get(sql);
  if (exact !== undefined) {
    stats.exactHits++;
    return cloneJson(exact);
  }
  const lexed = lexLiterals(sql);
  if (lexed === undefined || lexed.literals.length === 0) {
    const raw = parseRaw(sql);
    exactCache.set(sql, raw);
    return cloneJson(raw);
  }
  const template = templateCache.get(lexed.key);
  if (template === undefined) {
    const raw = parseRaw(sql);
    const t = makeTemplate(lexed.literals, raw);
    templateCache.set(lexed.key, t);
    if (t.rejected) exactCache.set(sql, raw);
    return cloneJson(raw);
  }
  if (template.rejected) {
    const raw = parseRaw(sql);
    exactCache.set(sql, raw);
    return cloneJson(raw);
  }
  const out = instantiate(template, lexed.literals);
  if (!template.verified) {
    // First use of this template with other values: compare with a real parse once.
    const raw = parseRaw(sql);
    if (!isDeepStrictEqual(out, raw)) {
      stats.templateMismatches++;
      template.rejected = true;
      exactCache.set(sql, raw);
      return cloneJson(raw);
    }
    template.verified = true;
  }
  stats.templateHits++;
  return out;
}

/** A real parse through libpg_query; syntax errors become 42601 with PostgreSQL's position. */
function parseRaw(sql: string): RawStmt[] {
  let result;
  try {
    result = parseSync(sql);
  } catch (e) {
    const err = e as SqlErrorShape;
    const details = err.sqlDetails;
    const message = details?.message ?? err.message ?? 'syntax error';
    const position = details === undefined ? undefined : byteToCharOffset(sql, details.cursorPosition) + 1;
    throw new NextDbError(
      SqlState.syntaxError,
      message,
      position === undefined ? { cause: e } : { position, cause: e },
    );
  }
  return result.stmts ?? [];
}

/** Statement texts and offsets of `stmts` (raw statements of `sql`). */
function toStatements(sql: string, stmts: readonly RawStmt[]): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  const asciiOnly = Buffer.byteLength(sql) === sql.length;
  const bytes = asciiOnly ? undefined : Buffer.from(sql, 'utf8');
  for (const raw of stmts) {
    if (raw.stmt === undefined) continue;
    const startByte = raw.stmt_location ?? 0;
    const lenBytes = raw.stmt_len ?? 0;
    let text: string;
    let offset: number;
    if (bytes === undefined) {
      text = lenBytes === 0 ? sql.slice(startByte) : sql.slice(startByte, startByte + lenBytes);
      offset = startByte;
    } else {
      text = (lenBytes === 0 ? bytes.subarray(startByte) : bytes.subarray(startByte, startByte + lenBytes)).toString(
        'utf8',
      );
      offset = bytes.subarray(0, startByte).toString('utf8').length;
    }
    out.push({ stmt: raw.stmt, text, offset });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parse cache

/** Entries per cache (exact texts; literal-normalized templates). */
const PARSE_CACHE_ENTRIES_MAX = 1000;
/** Total key characters per cache. */
const PARSE_CACHE_TEXT_CHARS_MAX_TOTAL = 4 * 1024 * 1024;
/** Longer query texts are never cached (bulk INSERTs, scripts). */
const PARSE_CACHE_TEXT_CHARS_MAX = 64 * 1024;

/**
 * A bounded map from query text (or normalized key) to a value, bounded by
 * entry count and key characters. Eviction is LRU-like by second chance
 * (CLOCK): a hit only marks the entry, so lookups never reorder the Map; when
 * over a bound, the oldest entry goes unless it was used since it was last
 * passed over, in which case it moves to the young end, unmarked.
 */
class ParseCache<V> {
  private readonly map = new Map<string, { readonly value: V; used: boolean }>();
  private chars = 0;

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    e.used = true;
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.map.delete(key)) this.chars -= key.length;
    this.map.set(key, { value, used: false });
    this.chars += key.length;
    while (this.map.size > PARSE_CACHE_ENTRIES_MAX || this.chars > PARSE_CACHE_TEXT_CHARS_MAX_TOTAL) {
      const oldest = this.map.entries().next();
      if (oldest.done === true) break;
      const [k, e] = oldest.value;
      this.map.delete(k);
      if (e.used && k !== key) {
        e.used = false;
        this.map.set(k, e);
      } else this.chars -= k.length;
    }
  }

  clear(): void {
    this.map.clear();
    this.chars = 0;
  }

  get size(): number {
    return this.map.size;
  }
}

interface Template {
  readonly stmts: RawStmt[];
  /** Literal start offsets in the template text (ascending). */
  readonly starts: readonly number[];
  /** Template literal lengths. */
  readonly lengths: readonly number[];
  /** A_Const location of each literal: its own start, or the '-' the grammar folded into it. */
  readonly constAt: ReadonlyMap<number, number>;
  /** Whether the literal at index i is negated by a folded '-'. */
  readonly negated: readonly boolean[];
  rejected: boolean;
  verified: boolean;
}

const exactCache = new ParseCache<RawStmt[]>();
const templateCache = new ParseCache<Template>();

/** Empties both parse caches (tests). */
export function clearParseCache(): void {
  exactCache.clear();
  templateCache.clear();
  stats.exactHits = 0;
  stats.templateHits = 0;
  stats.templateMismatches = 0;
}

/** Parse cache counters since the last clearParseCache (tests, metrics). */
const stats = { exactHits: 0, templateHits: 0, templateMismatches: 0 };

/**
 * Entries in the exact-text and the template cache, and counters: hits of
 * each, and templates dropped because their first hit differed from a real
 * parse (never expected: each one is a case the template checks missed).
 */
export function parseCacheStats(): {
  exact: number;
  templates: number;
  exactHits: number;
  templateHits: number;
  templateMismatches: number;
} {
  return { exact: exactCache.size, templates: templateCache.size, ...stats };
}

/** A deep copy of a JSON tree (plain objects, arrays, primitives). */
function cloneJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const a: unknown[] = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) a[i] = cloneJson(v[i] as unknown);
    return a as T;
  }
  const o: Record<string, unknown> = {};
  for (const k in v) o[k] = cloneJson((v as Record<string, unknown>)[k]);
  return o as T;
}

/** Literal classes: the grammar token (ICONST / FCONST / SCONST) and the A_Const value field. */
type LiteralClass = 'i' | 'n' | 's';

interface Literal {
  /** Byte offset of the literal token in the UTF-8 text (the unit of node locations). */
  readonly start: number;
  readonly end: number;
  readonly cls: LiteralClass;
  /** int4 value, or the numeric text, or the decoded string. */
  readonly value: number | string;
  /** Byte offset of a '-' directly before the literal (only blanks between), else -1. */
  readonly minusAt: number;
}

/** Keys of node fields that hold byte offsets into the query text. */
const POSITION_KEYS = new Set([
  'location',
  'name_location',
  'list_start',
  'list_end',
  'rexpr_list_start',
  'rexpr_list_end',
  'stmt_location',
]);

/** PostgreSQL's ident_cont: letters, digits, '_', '$' and every non-ASCII character. */
function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 128;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isBlank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Splits `sql` into a normalized key (literals replaced by a class marker) and
 * its literals (at byte offsets), following PostgreSQL's lexical rules;
 * undefined whenever the text holds something this small lexer does not model
 * exactly (control characters, U& strings, numbers with trailing junk, string
 * continuation across lines, unterminated tokens). Literals it does not
 * normalize (E'', B'', X'', N'', dollar quotes, numbers with leading zeros,
 * hex/octal/binary or `_` digits) stay in the key verbatim.
 */
function lexLiterals(sql: string): { key: string; literals: Literal[] } | undefined {
  const n = sql.length;
  const literals: Literal[] = [];
  let key = '';
  let copied = 0;
  let lastMinus = -1; // offset of the latest '-' operator char, when only blanks followed it
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if ((c < 32 && !isBlank(c)) || c === 127) return undefined;
    if (isBlank(c)) {
      i++;
      continue;
    }
    const minusBefore = lastMinus;
    lastMinus = -1;
    if (c === 39 /* ' */) {
      const end = scanQuoted(sql, i + 1, 39);
      if (end < 0 || continuesString(sql, end)) return undefined;
      const value = sql.slice(i + 1, end - 1).replaceAll("''", "'");
      key += sql.slice(copied, i) + '\u0001s';
      copied = end;
      literals.push({ start: i, end, cls: 's', value, minusAt: -1 });
      i = end;
    } else if (c === 34 /* " */) {
      const end = scanQuoted(sql, i + 1, 34);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) return undefined;
        const d = sql.charCodeAt(j);
        if (d === 47 && sql.charCodeAt(j + 1) === 42) {
          depth++;
          j += 2;
        } else if (d === 42 && sql.charCodeAt(j + 1) === 47) {
          depth--;
          j += 2;
        } else j++;
      }
      i = j;
    } else if (c === 36 /* $ */) {
      if (isDigit(sql.charCodeAt(i + 1))) {
        let j = i + 1;
        while (isDigit(sql.charCodeAt(j))) j++;
        if (isIdentChar(sql.charCodeAt(j))) return undefined;
        i = j;
      } else {
        let j = i + 1;
        if (isIdentChar(sql.charCodeAt(j)) && !isDigit(sql.charCodeAt(j))) {
          while (isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
        }
        if (sql.charCodeAt(j) !== 36) return undefined;
        const delim = sql.slice(i, j + 1);
        const close = sql.indexOf(delim, j + 1);
        if (close < 0) return undefined;
        i = close + delim.length;
      }
    } else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128) {
      let j = i + 1;
      while (isIdentChar(sql.charCodeAt(j))) j++;
      const next = sql.charCodeAt(j);
      if (j === i + 1 && (c | 32) === 117 /* u */ && next === 38 /* & */) return undefined;
      if (next === 39 && j === i + 1) {
        const lower = c | 32;
        let end: number;
        if (lower === 101 /* e */) end = scanEscapeString(sql, j + 1);
        else if (lower === 98 /* b */ || lower === 120 /* x */ || lower === 110 /* n */)
          end = scanQuoted(sql, j + 1, 39);
        else end = j; // an identifier followed by a string: the string is lexed next
        if (end < 0 || (end > j && continuesString(sql, end))) return undefined;
        i = end;
      } else i = j;
    } else if (isDigit(c) || (c === 46 /* . */ && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      let isFloat = false;
      while (isDigit(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) === 46) {
        if (sql.charCodeAt(j + 1) === 46) return undefined;
        isFloat = true;
        j++;
        while (isDigit(sql.charCodeAt(j))) j++;
      }
      if ((sql.charCodeAt(j) | 32) === 101 /* e */) {
        let k = j + 1;
        const s = sql.charCodeAt(k);
        if (s === 43 || s === 45) k++;
        if (!isDigit(sql.charCodeAt(k))) return undefined;
        while (isDigit(sql.charCodeAt(k))) k++;
        isFloat = true;
        j = k;
      }
      const after = sql.charCodeAt(j);
      if (isIdentChar(after)) {
        // PostgreSQL 16+ numbers: 0x1F, 0o17, 0b101, 1_000, 1_0.5e1_0 stay in the key verbatim.
        EXTENDED_NUMBER.lastIndex = i;
        const m = EXTENDED_NUMBER.exec(sql);
        if (m === null) return undefined;
        const end = i + m[0].length;
        if (isIdentChar(sql.charCodeAt(end)) || sql.charCodeAt(end) === 46) return undefined;
        i = end;
        continue;
      }
      if (after === 46) return undefined;
      const text = sql.slice(i, j);
      if (!isFloat && text.length > 1 && c === 48) {
        i = j; // leading zeros: kept verbatim in the key
        continue;
      }
      const int4 = !isFloat && (text.length < 10 || (text.length === 10 && text <= '2147483647'));
      const cls: LiteralClass = int4 ? 'i' : 'n';
      key += sql.slice(copied, i) + (int4 ? '\u0001i' : '\u0001n');
      copied = j;
      literals.push({ start: i, end: j, cls, value: int4 ? Number(text) : text, minusAt: minusBefore });
      i = j;
    } else {
      if (c === 45) lastMinus = i;
      i++;
    }
  }
  return { key: key + sql.slice(copied), literals: toByteOffsets(sql, literals) };
}

/** `literals` with character offsets turned into UTF-8 byte offsets (the same array for ASCII text). */
function toByteOffsets(sql: string, literals: Literal[]): Literal[] {
  if (literals.length === 0 || Buffer.byteLength(sql) === sql.length) return literals;
  const out: Literal[] = [];
  let chars = 0;
  let bytes = 0;
  /** Advances the running (characters, bytes) pair to character offset `to` and returns its byte offset. */
  const byteAt = (to: number): number => {
    for (; chars < to; chars++) {
      const c = sql.charCodeAt(chars);
      // A surrogate pair is 4 bytes: 2 for each half.
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
    }
    return bytes;
  };
  for (const lit of literals) {
    const minusAt = lit.minusAt < 0 ? -1 : byteAt(lit.minusAt);
    const start = byteAt(lit.start);
    const end = byteAt(lit.end);
    out.push({ start, end, cls: lit.cls, value: lit.value, minusAt });
  }
  return out;
}

/** PostgreSQL's hexinteger / octinteger / bininteger / decinteger-based numeric and real, with '_' separators. */
const EXTENDED_NUMBER =
  /0[xX](?:_?[0-9A-Fa-f])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;

/** End (past the closing quote) of a quoted token whose body starts at `from`, with doubled-quote escapes; -1 if unterminated. */
function scanQuoted(sql: string, from: number, quote: number): number {
  let j = from;
  for (;;) {
    const k = sql.indexOf(quote === 39 ? "'" : '"', j);
    if (k < 0) return -1;
    if (sql.charCodeAt(k + 1) === quote) j = k + 2;
    else return k + 1;
  }
}

/** End of an E'...' string body starting at `from` (backslash escapes, '' too); -1 if unterminated. */
function scanEscapeString(sql: string, from: number): number {
  let j = from;
  while (j < sql.length) {
    const d = sql.charCodeAt(j);
    if (d === 92 /* \\ */) j += 2;
    else if (d === 39) {
      if (sql.charCodeAt(j + 1) === 39) j += 2;
      else return j + 1;
    } else j++;
  }
  return -1;
}

/** Whether a string literal ending at `end` is followed (after blanks) by another quote: PG may join them. */
function continuesString(sql: string, end: number): boolean {
  let j = end;
  while (j < sql.length && isBlank(sql.charCodeAt(j))) j++;
  if (sql.charCodeAt(j) === 39) return true;
  // A comment between two string parts counts as whitespace for continuation.
  return sql.startsWith('--', j) || sql.startsWith('/*', j);
}

/** The A_Const value field and value object for literal `lit` (negated when the grammar folded a '-'). */
function constValue(lit: Literal, negated: boolean): [string, Record<string, unknown>] {
  switch (lit.cls) {
    case 'i': {
      const v = negated ? -(lit.value as number) : (lit.value as number);
      return ['ival', v === 0 ? {} : { ival: v }];
    }
    case 'n': {
      const text = lit.value as string;
      return ['fval', { fval: negated ? '-' + text : text }];
    }
    case 's':
      return ['sval', { sval: lit.value as string }];
  }
}

/**
 * A template from the raw parse of `sql`, or a rejected one when some literal
 * does not map to exactly one A_Const holding its value (see the file header).
 */
function makeTemplate(literals: readonly Literal[], stmts: RawStmt[]): Template {
  const consts = new Map<number, Record<string, unknown>[]>();
  const positions: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'number' && POSITION_KEYS.has(k)) positions.push(x);
      else if (k === 'stmt_len' && typeof x === 'number')
        positions.push(((o['stmt_location'] as number | undefined) ?? 0) + x);
      if (k === 'A_Const' && typeof x === 'object' && x !== null) {
        const c = x as Record<string, unknown>;
        const loc = (c['location'] as number | undefined) ?? 0;
        const list = consts.get(loc);
        if (list === undefined) consts.set(loc, [c]);
        else list.push(c);
      }
      walk(x);
    }
  };
  walk(stmts);
  const constAt = new Map<number, number>();
  const negated: boolean[] = [];
  let ok = true;
  for (let i = 0; i < literals.length && ok; i++) {
    const lit = literals[i]!;
    let neg = false;
    let list = consts.get(lit.start);
    if (list === undefined && lit.minusAt >= 0) {
      list = consts.get(lit.minusAt);
      neg = true;
    }
    if (list?.length !== 1) {
      ok = false;
      break;
    }
    const c = list[0]!;
    const [field, value] = constValue(lit, neg);
    if (Object.keys(c).length !== 2 || !isDeepStrictEqual(c[field], value)) ok = false;
    constAt.set(neg ? lit.minusAt : lit.start, i);
    negated.push(neg);
  }
  // No position may point inside a literal (or between a folded '-' and its number).
  if (ok) {
    for (const p of positions) {
      for (let i = 0; i < literals.length; i++) {
        const lit = literals[i]!;
        const from = negated[i] === true ? lit.minusAt : lit.start;
        if (p > from && p < lit.end) ok = false;
      }
      if (!ok) break;
    }
  }
  return {
    stmts,
    starts: literals.map((l) => l.start),
    lengths: literals.map((l) => l.end - l.start),
    constAt,
    negated,
    rejected: !ok,
    verified: false,
  };
}

/** A copy of `t`'s statements for a text with the same key and literals `lits`. */
function instantiate(t: Template, lits: readonly Literal[]): RawStmt[] {
  return new Instantiation(t, lits).copy(t.stmts) as RawStmt[];
}

/** One template copy: literal values substituted, offsets shifted by the literals' length changes. */
class Instantiation {
  /** cum[i]: total length change of literals 0..i. */
  private readonly cum: number[];

  constructor(
    private readonly t: Template,
    private readonly lits: readonly Literal[],
  ) {
    const count = lits.length;
    this.cum = new Array<number>(count);
    let sum = 0;
    for (let i = 0; i < count; i++) {
      sum += lits[i]!.end - lits[i]!.start - t.lengths[i]!;
      this.cum[i] = sum;
    }
  }

  /** Shifts a template offset by the length changes of the literals that start before it. */
  shift(p: number): number {
    const starts = this.t.starts;
    const count = starts.length;
    if (p < 0 || count === 0 || p <= starts[0]!) return p;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! < p) lo = mid;
      else hi = mid - 1;
    }
    return p + this.cum[lo]!;
  }

  copy(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) {
      const a: unknown[] = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) a[i] = this.copy(v[i]);
      return a;
    }
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'number') {
        if (POSITION_KEYS.has(k)) out[k] = this.shift(x);
        else if (k === 'stmt_len' && x > 0) {
          const loc = (o['stmt_location'] as number | undefined) ?? 0;
          out[k] = this.shift(loc + x) - this.shift(loc);
        } else out[k] = x;
      } else if (k === 'A_Const' && typeof x === 'object' && x !== null) {
        out[k] = this.copyConst(x as Record<string, unknown>);
      } else out[k] = this.copy(x);
    }
    return out;
  }

  private copyConst(c: Record<string, unknown>): Record<string, unknown> {
    const loc = (c['location'] as number | undefined) ?? 0;
    const idx = this.t.constAt.get(loc);
    if (idx === undefined) return this.copy(c) as Record<string, unknown>;
    const [field, value] = constValue(this.lits[idx]!, this.t.negated[idx]!);
    // The template's A_Const holds exactly its value field and its location (checked by makeTemplate).
    return { [field]: value, location: this.shift(loc) };
  }
}

/** Converts a node `location` (0-based byte offset into the whole query) to PostgreSQL's 1-based position. */
export function positionOf(sql: string, location: number | undefined): number | undefined {
  if (location === undefined || location < 0) return undefined;
  return byteToCharOffset(sql, location) + 1;
}

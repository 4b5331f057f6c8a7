/**
 * The SQL parser: PostgreSQL's own grammar, through pgsql-parser (libpg_query
 * compiled to WebAssembly). The WASM module is loaded once per process
 * (`loadParser()`, awaited by SqlEngine.open); after that, parsing is
 * synchronous.
 *
 * Syntax errors become NextDbError 42601 with PostgreSQL's message and its
 * 1-based character position (libpg_query reports a 0-based byte offset; we
 * convert it to characters so multi-byte text points at the right place).
 */

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
  const out: ParsedStatement[] = [];
  const stmts: RawStmt[] = result.stmts ?? [];
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

/** Converts a node `location` (0-based byte offset into the whole query) to PostgreSQL's 1-based position. */
export function positionOf(sql: string, location: number | undefined): number | undefined {
  if (location === undefined || location < 0) return undefined;
  return byteToCharOffset(sql, location) + 1;
}

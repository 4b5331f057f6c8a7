/**
 * COPY data in and out of the SQL engine: option parsing, the row loader of
 * COPY ... FROM STDIN, and the formatter of COPY ... TO STDOUT. The byte
 * formats (text, CSV) are src/wire's CopyRowParser / formatCopyRow; this
 * module converts fields with the column types' input/output functions and
 * hands rows to the session in batches (the session inserts them through an
 * ordinary INSERT plan, so defaults, constraints and indexes apply).
 *
 *   CopyData chunks ─▶ CopyRowParser ─▶ fields ─▶ parseText per column ─▶ batch ─▶ INSERT
 *
 * Errors name the place as PostgreSQL's CONTEXT does: `COPY t, line 3,
 * column x: "abc"`. Line numbers count data lines (after a header line); a
 * CSV value spanning lines makes later numbers too small (PostgreSQL counts
 * physical lines).
 *
 * Limits: binary format, COPY to/from a file or program, WHERE, FORCE_QUOTE,
 * FORCE_NOT_NULL, FORCE_NULL and ENCODING other than UTF8 raise 0A000.
 */

import type { Node } from '@pgsql/types';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { CopyRowParser, formatCopyRow, type CopyFormatOptions, type CopyRow } from '../../wire/copy-format.ts';
import type { SqlType, Value } from '../types/sql-type.ts';
import { formatText, parseText, type IoSettings } from '../types/text-io.ts';

/** Rows handed to the inserter at a time (fewer for wide tables: at most this many values). */
const COPY_BATCH_VALUES_MAX = 4096;
/** Output chunk size of COPY TO STDOUT (one CopyData message each). */
const COPY_OUT_CHUNK_CHARS = 64 * 1024;

function optionText(defname: string, arg: Node | undefined): string {
  if (arg === undefined) throw new NextDbError(SqlState.syntaxError, `${defname} requires a parameter`);
  if ('String' in arg) return arg.String.sval ?? '';
  if ('Integer' in arg) return String(arg.Integer.ival ?? 0);
  if ('Boolean' in arg) return arg.Boolean.boolval === true ? 'true' : 'false';
  throw new NextDbError(SqlState.syntaxError, `${defname} requires a string value`);
}

function optionBool(defname: string, arg: Node | undefined): boolean {
  if (arg === undefined) return true;
  const v = optionText(defname, arg).toLowerCase();
  if (['true', 'on', '1', 'yes'].includes(v)) return true;
  if (['false', 'off', '0', 'no'].includes(v)) return false;
  if (v === 'match') throw notSupported('COPY HEADER MATCH');
  throw new NextDbError(SqlState.syntaxError, `${defname} requires a Boolean value`);
}

/** COPY's WITH (...) options (and the old-style ones the parser maps onto them). */
export function copyOptions(options: readonly Node[] | undefined, isFrom: boolean): CopyFormatOptions {
  let format: 'text' | 'csv' = 'text';
  let delimiter: string | undefined;
  let nullString: string | undefined;
  let quote: string | undefined;
  let escape: string | undefined;
  let header = false;
  for (const o of options ?? []) {
    if (!('DefElem' in o)) continue;
    const name = o.DefElem.defname ?? '';
    const arg = o.DefElem.arg;
    switch (name) {
      case 'format': {
        const f = optionText(name, arg).toLowerCase();
        if (f === 'binary') throw notSupported('COPY in binary format', 'use FORMAT text or FORMAT csv');
        if (f !== 'text' && f !== 'csv')
          throw new NextDbError(SqlState.invalidParameterValue, `COPY format "${f}" not recognized`);
        format = f;
        break;
      }
      case 'delimiter':
        delimiter = optionText(name, arg);
        break;
      case 'null':
        nullString = optionText(name, arg);
        break;
      case 'quote':
        quote = optionText(name, arg);
        break;
      case 'escape':
        escape = optionText(name, arg);
        break;
      case 'header':
        header = optionBool(name, arg);
        break;
      case 'freeze':
        // A bulk-load hint (rows visible to all at once); NextDB's MVCC needs nothing for it.
        optionBool(name, arg);
        break;
      case 'encoding': {
        const e = optionText(name, arg).toLowerCase().replace(/[-_]/g, '');
        if (e !== 'utf8') throw notSupported(`COPY ENCODING '${optionText(name, arg)}'`, 'data must be UTF8');
        break;
      }
      case 'force_quote':
      case 'force_not_null':
      case 'force_null':
      case 'default':
        throw notSupported(`COPY option ${name.toUpperCase()}`);
      default:
        throw new NextDbError(SqlState.syntaxError, `option "${name}" not recognized`);
    }
  }
  if (format !== 'csv' && (quote !== undefined || escape !== undefined)) {
    throw new NextDbError(
      SqlState.featureNotSupported,
      `COPY ${quote !== undefined ? 'quote' : 'escape'} available only in CSV mode`,
    );
  }
  if (delimiter !== undefined && delimiter.length !== 1)
    throw new NextDbError(SqlState.featureNotSupported, 'COPY delimiter must be a single one-byte character');
  if (delimiter === '\n' || delimiter === '\r')
    throw new NextDbError(SqlState.invalidParameterValue, 'COPY delimiter cannot be newline or carriage return');
  if (format === 'text' && delimiter === '\\')
    throw new NextDbError(SqlState.invalidParameterValue, 'COPY delimiter cannot be "\\"');
  void isFrom;
  return {
    format,
    header,
    ...(delimiter === undefined ? {} : { delimiter }),
    ...(nullString === undefined ? {} : { null: nullString }),
    ...(quote === undefined ? {} : { quote }),
    ...(escape === undefined ? {} : { escape }),
  };
}

export interface CopyTarget {
  /** Table name for messages. */
  readonly table: string;
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
}

/**
 * COPY FROM STDIN: parses chunks into typed rows and hands them to `insert`
 * in batches. `insert` returns how many rows it inserted.
 */
export class CopyLoader {
  private readonly parser: CopyRowParser;
  private batch: Value[][] = [];
  private readonly batchRowsMax: number;
  private dataLine: number;
  /** Rows inserted so far (COPY n). */
  count = 0;

  constructor(
    private readonly target: CopyTarget,
    options: CopyFormatOptions,
    private readonly io: IoSettings,
    private readonly insert: (rows: Value[][]) => Promise<number>,
  ) {
    // The parser skips a header line only in CSV; PostgreSQL 15 allows HEADER with text too.
    this.parser = new CopyRowParser(options.format === 'text' ? { ...options, header: false } : options);
    this.skipTextHeader = options.format === 'text' && options.header === true;
    this.dataLine = options.header === true ? 1 : 0;
    this.batchRowsMax = Math.max(1, Math.floor(COPY_BATCH_VALUES_MAX / Math.max(1, target.columns.length)));
  }

  private skipTextHeader: boolean;

  async write(chunk: Buffer): Promise<void> {
    const rows = this.wrapParse(() => this.parser.push(chunk));
    await this.take(rows);
  }

  /** End of data: the last rows, then the final batch. Returns the row count. */
  async finish(): Promise<number> {
    await this.take(this.wrapParse(() => this.parser.end()));
    await this.flush();
    return this.count;
  }

  private wrapParse(fn: () => CopyRow[]): CopyRow[] {
    try {
      return fn();
    } catch (e) {
      if (e instanceof NextDbError) {
        throw new NextDbError(e.code, e.message, {
          where: `COPY ${this.target.table}, line ${this.dataLine + 1}`,
          cause: e,
        });
      }
      throw e;
    }
  }

  private async take(rows: readonly CopyRow[]): Promise<void> {
    const cols = this.target.columns;
    for (const fields of rows) {
      if (this.skipTextHeader) {
        this.skipTextHeader = false;
        continue;
      }
      const line = ++this.dataLine;
      const where = `COPY ${this.target.table}, line ${line}`;
      // A lone empty line is one empty field (PostgreSQL reads it as a row of one empty value).
      if (fields.length < cols.length) {
        throw new NextDbError('22P04', `missing data for column "${cols[fields.length]!.name}"`, { where });
      }
      if (fields.length > cols.length)
        throw new NextDbError('22P04', 'extra data after last expected column', { where });
      const row: Value[] = new Array<Value>(cols.length);
      for (let i = 0; i < cols.length; i++) {
        const f = fields[i]!;
        if (f === null) {
          row[i] = null;
          continue;
        }
        try {
          row[i] = parseText(cols[i]!.type, f, this.io);
        } catch (e) {
          if (!(e instanceof NextDbError)) throw e;
          throw new NextDbError(e.code, e.message, {
            where: `${where}, column ${cols[i]!.name}: "${f.length > 30 ? `${f.slice(0, 30)}...` : f}"`,
            ...(e.detail === undefined ? {} : { detail: e.detail }),
            cause: e,
          });
        }
      }
      this.batch.push(row);
      if (this.batch.length >= this.batchRowsMax) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    const firstLine = this.dataLine - rows.length + 1;
    try {
      this.count += await this.insert(rows);
    } catch (e) {
      if (!(e instanceof NextDbError) || e.where !== undefined) throw e;
      // Constraint errors name the batch's lines (the row itself is in the detail).
      throw new NextDbError(e.code, e.message, {
        severity: e.severity,
        where:
          rows.length === 1
            ? `COPY ${this.target.table}, line ${firstLine}`
            : `COPY ${this.target.table}, lines ${firstLine}-${this.dataLine}`,
        ...(e.detail === undefined ? {} : { detail: e.detail }),
        ...(e.hint === undefined ? {} : { hint: e.hint }),
        ...(e.table === undefined ? {} : { table: e.table }),
        ...(e.column === undefined ? {} : { column: e.column }),
        ...(e.constraint === undefined ? {} : { constraint: e.constraint }),
        ...(e.schema === undefined ? {} : { schema: e.schema }),
        cause: e,
      });
    }
  }
}

/** COPY TO STDOUT: the rows in the COPY format, in chunks of about 64 KiB. */
export function copyOutChunks(
  cols: readonly { readonly name: string; readonly type: SqlType }[],
  rows: readonly (readonly Value[])[],
  options: CopyFormatOptions,
  io: IoSettings,
): Buffer[] {
  const chunks: Buffer[] = [];
  let text = '';
  if (options.header === true)
    text += formatCopyRow(
      cols.map((c) => c.name),
      options,
    );
  const fields: (string | null)[] = new Array<string | null>(cols.length);
  for (const r of rows) {
    for (let i = 0; i < cols.length; i++) {
      const v = r[i] ?? null;
      fields[i] = v === null ? null : formatText(cols[i]!.type, v, io);
    }
    text += formatCopyRow(fields, options);
    if (text.length >= COPY_OUT_CHUNK_CHARS) {
      chunks.push(Buffer.from(text, 'utf8'));
      text = '';
    }
  }
  if (text.length > 0) chunks.push(Buffer.from(text, 'utf8'));
  return chunks;
}

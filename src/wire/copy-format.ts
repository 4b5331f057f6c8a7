/**
 * COPY data formats (text and CSV), as PostgreSQL reads and writes them:
 * an incremental row parser for COPY FROM STDIN and a row formatter for
 * COPY TO STDOUT. Pure: strings and Buffers in, strings out; the SQL layer
 * converts each field with the column type's input/output function.
 *
 * Text format: one row per line, fields split by the delimiter (tab), NULL
 * written as `\N`, backslash escapes (\b \f \n \r \t \v \\, octal \NNN, hex
 * \xHH, any other escaped character stands for itself). A line `\.` ends the
 * data. Line ends: \n or \r\n.
 *
 * CSV format: fields split by the delimiter (comma), quoted with `"` when they
 * contain the delimiter, a quote, CR or LF; a quote inside quotes is doubled
 * (or preceded by the ESCAPE character). NULL is an unquoted empty field
 * (the NULL string, by default empty); a quoted empty field is an empty
 * string. HEADER skips the first line on input and writes column names on
 * output.
 *
 * Chunk boundaries are arbitrary (CopyData need not align with rows, and a
 * UTF-8 character may be split): the parser keeps the unfinished row and
 * the partial character between pushes.
 *
 * Errors: NextDbError 22P04 (bad_copy_file_format) naming the line.
 */

import { StringDecoder } from 'node:string_decoder';
import { NextDbError } from '../util/errors.ts';

export interface CopyFormatOptions {
  readonly format: 'text' | 'csv';
  /** Default: tab (text), comma (csv). */
  readonly delimiter?: string;
  /** Default: `\N` (text), empty string (csv). */
  readonly null?: string;
  /** CSV only; default `"`. */
  readonly quote?: string;
  /** CSV only; default: the quote character. */
  readonly escape?: string;
  /** CSV only: first line is a header (skipped on input). */
  readonly header?: boolean;
}

export type CopyRow = (string | null)[];

const badCopyFileFormat = '22P04';

function copyError(line: number, message: string): NextDbError {
  return new NextDbError(badCopyFileFormat, message, { detail: `COPY line ${line}` });
}

/** Incremental parser of COPY FROM STDIN data. */
export class CopyRowParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private line = 0;
  private ended = false;
  private headerSkipped: boolean;
  private readonly delimiter: string;
  private readonly nullString: string;
  private readonly quote: string;
  private readonly escape: string;
  private readonly csv: boolean;

  constructor(options: CopyFormatOptions) {
    this.csv = options.format === 'csv';
    this.delimiter = options.delimiter ?? (this.csv ? ',' : '\t');
    this.nullString = options.null ?? (this.csv ? '' : '\\N');
    this.quote = options.quote ?? '"';
    this.escape = options.escape ?? this.quote;
    this.headerSkipped = !(this.csv && options.header === true);
    if (this.delimiter.length !== 1)
      throw new NextDbError('0A000', 'COPY delimiter must be a single one-byte character');
    if (this.csv && (this.quote.length !== 1 || this.escape.length !== 1))
      throw new NextDbError('0A000', 'COPY quote and escape must be single one-byte characters');
  }

  /** Lines of data consumed so far (for messages). */
  get lineNumber(): number {
    return this.line;
  }

  /** True once the end marker `\.` was seen; later data is ignored. */
  get done(): boolean {
    return this.ended;
  }

  /** Rows completed by this chunk. */
  push(chunk: Buffer): CopyRow[] {
    if (this.ended) return [];
    this.pending += this.decoder.write(chunk);
    return this.drain(false);
  }

  /** Rows left at the end of the data (a last line without its newline). */
  end(): CopyRow[] {
    if (this.ended) return [];
    this.pending += this.decoder.end();
    const rows = this.drain(true);
    this.ended = true;
    return rows;
  }

  private drain(final: boolean): CopyRow[] {
    const rows: CopyRow[] = [];
    let at = 0;
    const text = this.pending;
    while (at < text.length && !this.ended) {
      const lineEnd = this.csv ? this.csvRecordEnd(text, at) : text.indexOf('\n', at);
      if (lineEnd < 0) {
        if (!final) break;
        this.consumeLine(text.slice(at), rows);
        at = text.length;
        break;
      }
      let line = text.slice(at, lineEnd);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.consumeLine(line, rows);
      at = lineEnd + 1;
    }
    this.pending = this.ended ? '' : text.slice(at);
    return rows;
  }

  /** Index of the newline ending the CSV record that starts at `from` (newlines inside quotes do not count), or -1. */
  private csvRecordEnd(text: string, from: number): number {
    let inQuotes = false;
    for (let i = from; i < text.length; i++) {
      const c = text[i]!;
      if (inQuotes) {
        const next = text[i + 1];
        if (c === this.escape && (next === this.quote || next === this.escape)) i++;
        else if (c === this.quote) inQuotes = false;
      } else if (c === this.quote) inQuotes = true;
      else if (c === '\n') return i;
    }
    return -1;
  }

  private consumeLine(line: string, rows: CopyRow[]): void {
    this.line++;
    if (line === '\\.') {
      this.ended = true;
      return;
    }
    if (!this.headerSkipped) {
      this.headerSkipped = true;
      return;
    }
    rows.push(this.csv ? this.parseCsv(line) : this.parseText(line));
  }

  private parseText(line: string): CopyRow {
    const out: CopyRow = [];
    let start = 0;
    // Split at delimiters that are not escaped; a backslash always takes the next character with it.
    for (let i = 0; i <= line.length; i++) {
      const c = line[i];
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === this.delimiter || c === undefined) {
        const raw = line.slice(start, i);
        out.push(raw === this.nullString ? null : this.unescapeText(raw));
        start = i + 1;
      }
    }
    return out;
  }

  private unescapeText(raw: string): string {
    if (!raw.includes('\\')) return raw;
    let s = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c !== '\\') {
        s += c;
        continue;
      }
      const n = raw[++i];
      if (n === undefined)
        throw copyError(
          this.line,
          'end-of-copy marker does not match previous newline style or a field ends in a lone backslash',
        );
      switch (n) {
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'v':
          s += '\v';
          break;
        case 'x': {
          const m = /^[0-9a-fA-F]{1,2}/.exec(raw.slice(i + 1));
          if (m === null) {
            s += 'x';
          } else {
            s += String.fromCharCode(parseInt(m[0], 16));
            i += m[0].length;
          }
          break;
        }
        default:
          if (n >= '0' && n <= '7') {
            const m = /^[0-7]{1,3}/.exec(raw.slice(i))!;
            s += String.fromCharCode(parseInt(m[0], 8) & 0xff);
            i += m[0].length - 1;
          } else {
            s += n;
          }
      }
    }
    return s;
  }

  private parseCsv(line: string): CopyRow {
    const out: CopyRow = [];
    let i = 0;
    for (;;) {
      let value = '';
      let quoted = false;
      // A field: unquoted text and quoted sections may alternate (PostgreSQL accepts a"b"c).
      while (i < line.length && line[i] !== this.delimiter) {
        const c = line[i]!;
        if (c === this.quote) {
          quoted = true;
          i++;
          for (;;) {
            if (i >= line.length) throw copyError(this.line, 'unterminated CSV quoted field');
            const q = line[i]!;
            if (q === this.escape) {
              // Inside quotes the escape character takes the next quote or escape literally; "" is the default case.
              const next = line[i + 1];
              if (next === this.quote || next === this.escape) {
                value += next;
                i += 2;
                continue;
              }
            }
            if (q === this.quote) {
              i++;
              break;
            }
            value += q;
            i++;
          }
        } else {
          value += c;
          i++;
        }
      }
      out.push(!quoted && value === this.nullString ? null : value);
      if (i >= line.length) break;
      i++; // the delimiter
    }
    return out;
  }
}

/** Formats one row for COPY TO STDOUT, newline included. */
export function formatCopyRow(values: readonly (string | null)[], options: CopyFormatOptions): string {
  const csv = options.format === 'csv';
  const delimiter = options.delimiter ?? (csv ? ',' : '\t');
  const nullString = options.null ?? (csv ? '' : '\\N');
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += delimiter;
    const v = values[i]!;
    if (v === null) line += nullString;
    else
      line += csv
        ? csvField(v, delimiter, nullString, options.quote ?? '"', options.escape ?? options.quote ?? '"')
        : textField(v, delimiter);
  }
  return line + '\n';
}

function textField(v: string, delimiter: string): string {
  let s = '';
  for (const c of v) {
    switch (c) {
      case '\\':
        s += '\\\\';
        break;
      case '\n':
        s += '\\n';
        break;
      case '\r':
        s += '\\r';
        break;
      case '\t':
        s += '\\t';
        break;
      case '\b':
        s += '\\b';
        break;
      case '\f':
        s += '\\f';
        break;
      case '\v':
        s += '\\v';
        break;
      default:
        s += c === delimiter ? '\\' + c : c;
    }
  }
  return s;
}

function csvField(v: string, delimiter: string, nullString: string, quote: string, escape: string): string {
  const needsQuotes =
    v === nullString ||
    v.includes(delimiter) ||
    v.includes(quote) ||
    v.includes('\n') ||
    v.includes('\r') ||
    v === '\\.';
  if (!needsQuotes) return v;
  let s = quote;
  for (const c of v) s += c === quote || c === escape ? escape + c : c;
  return s + quote;
}

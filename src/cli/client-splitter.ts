/**
 * Splits the text a person types (or a script file) into SQL statements and
 * backslash meta-commands, the way psql's lexer does, one input line at a
 * time.
 *
 * A statement ends at a `;` that is outside quotes, comments and
 * parentheses. The splitter understands:
 *   'single' quotes (with '' inside), E'escape' strings (backslash escapes),
 *   "quoted identifiers" (with "" inside), $$dollar$$ and $tag$dollar$tag$
 *   quotes, -- line comments and nested slash-star block comments, and
 *   parentheses (a `;` inside them does not end the statement, as in psql).
 * A backslash outside all of those starts a meta-command that runs to the end
 * of the line (`\d users`) or the next backslash; `\g` sends the statement
 * collected so far, and `\\` separates a meta-command from SQL on one line
 * (`\timing on \\ select 1;`).
 *
 * Like psql, whitespace and -- comments before a statement's first token are
 * dropped, so a comment line alone sends nothing; text after the first token
 * is kept byte for byte, which keeps server error positions meaningful.
 *
 * Limits: CREATE FUNCTION ... BEGIN ATOMIC ... END bodies (SQL-standard
 * function bodies, which psql tracks with a BEGIN/END depth) are not
 * recognised: write those with a dollar-quoted body. U&'...' strings are read
 * as ordinary strings, which is right because they use '' like them.
 */

/** One unit of work found in the input. */
export type SplitPiece =
  | { readonly kind: 'sql'; readonly text: string }
  | { readonly kind: 'meta'; readonly name: string; readonly args: readonly string[]; readonly raw: string };

type LexState = 'normal' | 'squote' | 'equote' | 'dquote' | 'dollar' | 'comment';

const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

export class StatementSplitter {
  private buf = '';
  private state: LexState = 'normal';
  private dollarTag = '';
  private commentDepth = 0;
  private parenDepth = 0;

  /** Whether part of a statement is waiting for its `;`. */
  get pending(): boolean {
    return this.buf.length > 0;
  }

  /** The statement collected so far (what `\g` would send, `\p` would show). */
  get buffer(): string {
    return this.buf;
  }

  /**
   * psql's prompt marker for the current state: '=' when idle, '-' inside a
   * statement, and the open quote, '(' or '*' (comment) when inside one.
   */
  get promptMarker(): string {
    switch (this.state) {
      case 'squote':
      case 'equote':
        return "'";
      case 'dquote':
        return '"';
      case 'dollar':
        return '$';
      case 'comment':
        return '*';
      case 'normal':
        return this.parenDepth > 0 ? '(' : this.buf.length > 0 ? '-' : '=';
    }
  }

  /** Drops the statement collected so far (`\r`, Ctrl+C). */
  reset(): void {
    this.buf = '';
    this.state = 'normal';
    this.dollarTag = '';
    this.commentDepth = 0;
    this.parenDepth = 0;
  }

  /**
   * The unterminated rest at end of input: psql sends it as a statement when
   * reading a script, so this returns it (and clears the buffer).
   */
  finish(): string | undefined {
    const rest = this.buf.replace(/\s+$/, '');
    this.reset();
    return rest.length > 0 ? rest : undefined;
  }

  /** Feeds one line (without its newline); returns what it completed. */
  feed(line: string): SplitPiece[] {
    const out: SplitPiece[] = [];
    let i = 0;
    const n = line.length;
    while (i < n) {
      const c = line[i]!;
      switch (this.state) {
        case 'squote':
        case 'equote':
          if (c === '\\' && this.state === 'equote' && i + 1 < n) {
            this.buf += line.slice(i, i + 2);
            i += 2;
          } else if (c === "'" && line[i + 1] === "'") {
            this.buf += "''";
            i += 2;
          } else {
            if (c === "'") this.state = 'normal';
            this.buf += c;
            i++;
          }
          continue;
        case 'dquote':
          if (c === '"' && line[i + 1] === '"') {
            this.buf += '""';
            i += 2;
          } else {
            if (c === '"') this.state = 'normal';
            this.buf += c;
            i++;
          }
          continue;
        case 'dollar': {
          const end = line.indexOf(this.dollarTag, i);
          if (end === -1) {
            this.buf += line.slice(i);
            i = n;
          } else {
            this.buf += line.slice(i, end + this.dollarTag.length);
            i = end + this.dollarTag.length;
            this.state = 'normal';
          }
          continue;
        }
        case 'comment':
          if (c === '/' && line[i + 1] === '*') {
            this.commentDepth++;
            this.buf += '/*';
            i += 2;
          } else if (c === '*' && line[i + 1] === '/') {
            this.commentDepth--;
            this.buf += '*/';
            i += 2;
            if (this.commentDepth === 0) this.state = 'normal';
          } else {
            this.buf += c;
            i++;
          }
          continue;
        case 'normal':
          break;
      }
      // Normal state.
      if (c === '-' && line[i + 1] === '-') {
        if (this.buf.length > 0) this.buf += line.slice(i);
        i = n;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        if (this.buf.length > 0) this.buf += c;
        i++;
      } else if (c === '/' && line[i + 1] === '*') {
        this.state = 'comment';
        this.commentDepth = 1;
        this.buf += '/*';
        i += 2;
      } else if (c === "'") {
        // E'...' (or e'...') is an escape string when the E is a token of its own.
        const prev = this.buf[this.buf.length - 1];
        const before = this.buf[this.buf.length - 2];
        this.state =
          (prev === 'E' || prev === 'e') && (before === undefined || !IDENT_CHAR.test(before)) ? 'equote' : 'squote';
        this.buf += c;
        i++;
      } else if (c === '"') {
        this.state = 'dquote';
        this.buf += c;
        i++;
      } else if (c === '$') {
        const prev = this.buf[this.buf.length - 1];
        const m = prev !== undefined && IDENT_CHAR.test(prev) ? null : DOLLAR_TAG.exec(line.slice(i));
        if (m === null) {
          this.buf += c;
          i++;
        } else {
          this.state = 'dollar';
          this.dollarTag = m[0];
          this.buf += m[0];
          i += m[0].length;
        }
      } else if (c === '(') {
        this.parenDepth++;
        this.buf += c;
        i++;
      } else if (c === ')') {
        if (this.parenDepth > 0) this.parenDepth--;
        this.buf += c;
        i++;
      } else if (c === ';' && this.parenDepth === 0) {
        this.buf += ';';
        out.push({ kind: 'sql', text: this.buf });
        this.buf = '';
        i++;
      } else if (c === '\\' && line[i + 1] === '\\') {
        // psql's "\\" separator alone: nothing to run.
        i += 2;
      } else if (c === '\\') {
        const { meta, end } = scanMeta(line.slice(i + 1));
        if (meta.name === 'g' || meta.name === 'gx') {
          // \g sends the buffer (psql: or the previous statement when empty; we send nothing then).
          const text = this.buf.replace(/\s+$/, '');
          this.reset();
          if (text.length > 0) out.push({ kind: 'sql', text });
        } else {
          out.push(meta);
        }
        // A meta-command ends at the end of the line or at the next backslash;
        // "\\" (psql's separator) lets SQL follow on the same line.
        i += 1 + end;
        if (line.startsWith('\\\\', i)) i += 2;
        continue;
      } else {
        this.buf += c;
        i++;
      }
    }
    if (this.buf.length > 0) this.buf += '\n';
    return out;
  }
}

/**
 * A meta-command line after its backslash: the name, then arguments split at
 * whitespace. 'single quotes' group (and are removed, with '' for a quote);
 * "double quotes" group and are kept, because \d uses them for identifiers.
 */
export function parseMeta(text: string): Extract<SplitPiece, { kind: 'meta' }> {
  return scanMeta(text).meta;
}

/** parseMeta, and where the command ended in `text` (its end or an unquoted backslash). */
function scanMeta(text: string): { meta: Extract<SplitPiece, { kind: 'meta' }>; end: number } {
  const nameMatch = /^[^\s\\]*/.exec(text);
  const name = nameMatch === null ? '' : nameMatch[0];
  const args: string[] = [];
  let i = name.length;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n || text[i] === '\\') break;
    let arg = '';
    while (i < n && !/\s/.test(text[i]!) && text[i] !== '\\') {
      const c = text[i]!;
      if (c === "'") {
        i++;
        while (i < n) {
          if (text[i] === "'" && text[i + 1] === "'") {
            arg += "'";
            i += 2;
          } else if (text[i] === "'") {
            i++;
            break;
          } else {
            arg += text[i++];
          }
        }
      } else if (c === '"') {
        arg += c;
        i++;
        while (i < n) {
          const d = text[i++]!;
          arg += d;
          if (d === '"') {
            if (text[i] === '"') arg += text[i++];
            else break;
          }
        }
      } else {
        arg += c;
        i++;
      }
    }
    args.push(arg);
  }
  return { meta: { kind: 'meta', name, args, raw: `\\${text.slice(0, i).trimEnd()}` }, end: i };
}

/**
 * A sqllogictest runner following the rules in ../shared/corpus/README.md
 * (engine name `postgresql`): records separated by blank lines, `#`
 * comments, skipif/onlyif conditions, `statement ok|error`, `query <types>
 * [sortmode [label]]` with `----` results, hash-threshold, halt, labels that
 * must agree (also for skipped records, whose expected block is hashed).
 *
 * Values are rendered as the reference harness does: NULL, `I` as %d of the
 * value read as an integer (booleans 1/0, floats truncated, non-numeric 0),
 * `R` as %.3f, `T` as the text with `(empty)` for '' and bytes outside
 * 0x20..0x7e replaced by '@'.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SqlEngine } from '../../../src/sql/index.ts';
import { MemoryEngine } from '../../../src/storage/index.ts';
import { NextDbError } from '../../../src/util/errors.ts';

export const ENGINE_NAME = 'postgresql';

export interface SltRecord {
  readonly line: number;
  readonly kind: 'statement' | 'query' | 'halt' | 'hash-threshold';
  readonly skip: boolean;
  readonly expectError?: boolean;
  readonly sql?: string;
  readonly types?: string;
  readonly sortMode?: 'nosort' | 'rowsort' | 'valuesort';
  readonly label?: string;
  readonly expected?: string[];
  readonly threshold?: number;
}

export function parseSlt(text: string): SltRecord[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const records: SltRecord[] = [];
  let i = 0;
  while (i < lines.length) {
    // Gather one record: non-blank lines (comments dropped) up to a blank line.
    const block: { text: string; line: number }[] = [];
    while (i < lines.length && lines[i]!.trim() === '') i++;
    while (i < lines.length && lines[i]!.trim() !== '') {
      if (!lines[i]!.startsWith('#')) block.push({ text: lines[i]!, line: i + 1 });
      i++;
    }
    if (block.length === 0) continue;
    let skip = false;
    let k = 0;
    for (; k < block.length; k++) {
      const toks = block[k]!.text.trim().split(/\s+/);
      if (toks[0] === 'skipif') {
        if ((toks[1] ?? '').toLowerCase() === ENGINE_NAME) skip = true;
      } else if (toks[0] === 'onlyif') {
        if ((toks[1] ?? '').toLowerCase() !== ENGINE_NAME) skip = true;
      } else break;
    }
    const head = block[k];
    if (head === undefined) continue;
    const toks = head.text.trim().split(/\s+/);
    const rest = block.slice(k + 1).map((b) => b.text);
    switch (toks[0]) {
      case 'statement':
        records.push({
          line: head.line,
          kind: 'statement',
          skip,
          expectError: toks[1] === 'error',
          sql: rest.join('\n'),
        });
        break;
      case 'query': {
        const sep = rest.indexOf('----');
        const sql = (sep < 0 ? rest : rest.slice(0, sep)).join('\n');
        const expected = sep < 0 ? [] : rest.slice(sep + 1);
        const sortMode = (toks[2] ?? 'nosort') as 'nosort' | 'rowsort' | 'valuesort';
        records.push({
          line: head.line,
          kind: 'query',
          skip,
          sql,
          types: toks[1] ?? '',
          sortMode,
          ...(toks[3] === undefined ? {} : { label: toks[3] }),
          expected,
        });
        break;
      }
      case 'halt':
        records.push({ line: head.line, kind: 'halt', skip });
        break;
      case 'hash-threshold':
        records.push({ line: head.line, kind: 'hash-threshold', skip: false, threshold: Number(toks[1] ?? '8') });
        break;
      default:
        break;
    }
  }
  return records;
}

function renderValue(v: string | null, type: string): string {
  if (v === null) return 'NULL';
  switch (type) {
    case 'I': {
      if (v === 't') return '1';
      if (v === 'f') return '0';
      const m = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(v);
      if (m === null) return '0';
      const n = Number(m[0]);
      if (!Number.isFinite(n)) return '0';
      const t = Math.trunc(n);
      return Object.is(t, -0) ? '0' : BigInt(/^-?\d+$/.test(v.trim()) ? v.trim() : String(t)).toString();
    }
    case 'R': {
      const n = v === 't' ? 1 : v === 'f' ? 0 : Number(v);
      if (Number.isNaN(n)) return '0.000';
      return n.toFixed(3) === '-0.000' ? '0.000' : n.toFixed(3);
    }
    default: {
      if (v === '') return '(empty)';
      let out = '';
      for (const b of Buffer.from(v, 'utf8')) out += b < 0x20 || b > 0x7e ? '@' : String.fromCharCode(b);
      return out;
    }
  }
}

function hashValues(values: readonly string[]): string {
  const h = createHash('md5');
  for (const v of values) h.update(`${v}\n`);
  return h.digest('hex');
}

const HASH_LINE = /^(\d+) values hashing to ([0-9a-f]{32})$/;

export interface FileResult {
  readonly file: string;
  pass: number;
  fail: number;
  skip: number;
  readonly failures: { line: number; sql: string; message: string }[];
  ms: number;
}

export async function runSltFile(
  path: string,
  options: { maxFailuresKept?: number; timeLimitMs?: number } = {},
): Promise<FileResult> {
  const t0 = performance.now();
  const result: FileResult = { file: path, pass: 0, fail: 0, skip: 0, failures: [], ms: 0 };
  const records = parseSlt(readFileSync(path, 'utf8'));
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1 });
  const session = engine.createSession({ user: 'postgres', database: 'postgres' });
  let threshold = 8;
  const labels = new Map<string, string>();
  const fail = (r: SltRecord, message: string): void => {
    result.fail++;
    if (result.failures.length < (options.maxFailuresKept ?? 50))
      result.failures.push({ line: r.line, sql: r.sql ?? '', message });
  };
  try {
    for (const r of records) {
      if (options.timeLimitMs !== undefined && performance.now() - t0 > options.timeLimitMs) {
        result.skip++;
        continue;
      }
      if (r.kind === 'hash-threshold') {
        threshold = r.threshold ?? 8;
        continue;
      }
      if (r.kind === 'halt') {
        if (r.skip) continue;
        break;
      }
      if (r.kind === 'statement') {
        if (r.skip) {
          result.skip++;
          continue;
        }
        let err: unknown;
        try {
          await session.simpleQuery(r.sql!);
        } catch (e) {
          err = e;
          if (!(e instanceof NextDbError)) throw e;
        }
        if (r.expectError === true && err === undefined) fail(r, 'expected an error, statement succeeded');
        else if (r.expectError !== true && err !== undefined)
          fail(r, `${(err as NextDbError).code} ${(err as Error).message}`);
        else result.pass++;
        if (err !== undefined && session.txnStatus === 'E') await session.simpleQuery('ROLLBACK');
        continue;
      }
      // query
      const expected = r.expected ?? [];
      const expectedHash = (): string | undefined => {
        if (expected.length === 1) {
          const m = HASH_LINE.exec(expected[0]!);
          if (m !== null) return `${m[1]}:${m[2]}`;
        }
        return undefined;
      };
      if (r.skip) {
        result.skip++;
        if (r.label !== undefined) {
          const h = expectedHash() ?? `${expected.length}:${hashValues(expected)}`;
          if (!labels.has(r.label)) labels.set(r.label, h);
        }
        continue;
      }
      let rows: (string | null)[][];
      try {
        const res = await session.simpleQuery(r.sql!);
        const last = res[res.length - 1];
        rows = (last?.rows ?? []).map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
        const ncols = last?.columns?.length ?? 0;
        if (ncols !== (r.types ?? '').length) {
          fail(r, `expected ${(r.types ?? '').length} columns, got ${ncols}`);
          continue;
        }
      } catch (e) {
        if (!(e instanceof NextDbError)) throw e;
        fail(r, `${e.code} ${e.message}`);
        if (session.txnStatus === 'E') await session.simpleQuery('ROLLBACK');
        continue;
      }
      const types = r.types ?? '';
      let rendered = rows.map((row) => row.map((v, i) => renderValue(v, types[i] ?? 'T')));
      if (r.sortMode === 'rowsort') {
        rendered = rendered.sort((a, b) => {
          for (let i = 0; i < a.length; i++) {
            const c = Buffer.compare(Buffer.from(a[i]!), Buffer.from(b[i]!));
            if (c !== 0) return c;
          }
          return 0;
        });
      }
      let values = rendered.flat();
      if (r.sortMode === 'valuesort') values = values.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const gotHash = `${values.length}:${hashValues(values)}`;
      const eh = expectedHash();
      let ok: boolean;
      if (eh !== undefined) ok = eh === gotHash;
      else ok = expected.length === values.length && expected.every((v, i) => v === values[i]);
      if (ok && r.label !== undefined) {
        const prev = labels.get(r.label);
        if (prev !== undefined && prev !== gotHash) ok = false;
        if (prev === undefined) labels.set(r.label, gotHash);
      }
      if (!ok) {
        const shown =
          threshold > 0 && values.length > threshold
            ? `${values.length} values hashing to ${hashValues(values)}`
            : values.slice(0, 12).join(' ');
        fail(r, `wrong result: got ${shown}; expected ${expected.slice(0, 12).join(' ')}`);
      } else result.pass++;
    }
  } finally {
    await session.close();
    await engine.close();
  }
  result.ms = performance.now() - t0;
  return result;
}

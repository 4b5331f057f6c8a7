/**
 * Spill files: where a blocking operator puts rows that do not fit in
 * work_mem (external merge sort runs, hash aggregate and hash join
 * partitions, DISTINCT partitions).
 *
 * A spill file is a sequence of records, written once and then read once
 * from the start:
 *
 *   u32 length (big-endian) | uvarint valueCount | tagged values...
 *
 * Values are self-describing (a tag byte, then the body), so an operator
 * can spill any row without knowing its column types, and a value reads
 * back exactly as it was written (a float keeps every bit, a jsonb its
 * key order, a numeric its scale). See docs/internals/spill.md.
 *
 * Files live in one directory per engine (`<data dir>/tmp`, or a
 * per-process directory under os.tmpdir() for an in-memory database),
 * named `nextdb_tmp.<pid>.<n>`. A SpillSpace (one per session) knows every
 * file its statements created: the executor's runPlan removes those a
 * statement created when it ends, fails or is cancelled (SpillSpace.mark /
 * releaseFrom), and SqlEngine.open empties the directory at start-up
 * (files left by a crash). temp_file_limit caps the bytes a session holds
 * in spill files at once (53400, as PostgreSQL).
 *
 * Row sizes are estimated, not measured (estimateRowBytes): a few bytes per
 * value plus string and bytea lengths, close to what V8 holds for them.
 */

import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptionError, NextDbError } from '../../util/errors.ts';
import { assert } from '../../util/assert.ts';
import { Decimal } from '../types/decimal.ts';
import { ByteReader, ByteWriter } from '../row-codec.ts';
import type { ArrayValue, Interval, JsonBox, JsonValue, Value } from '../types/sql-type.ts';

/** Bytes buffered before a write, and read at a time per reader. */
const WRITE_CHUNK_BYTES = 256 * 1024;
export const READ_CHUNK_BYTES = 64 * 1024;

const T_NULL = 0;
const T_FALSE = 1;
const T_TRUE = 2;
const T_NUMBER = 3;
const T_BIGINT = 4;
const T_STRING = 5;
const T_DECIMAL = 6;
const T_BYTES = 7;
const T_INTERVAL = 8;
const T_ARRAY = 9;
const T_JSONB = 10;
/** A bigint beyond 64 bits: its decimal text. */
const T_BIGINT_TEXT = 11;
/** An array value with more fields than kind and elems: those fields as JSON text after the elements. */
const T_ARRAY_EXTRA = 12;

const J_NULL = 0;
const J_FALSE = 1;
const J_TRUE = 2;
const J_STRING = 3;
const J_NUMBER = 4;
const J_ARRAY = 5;
const J_OBJECT = 6;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Estimated bytes a row holds in memory (the work_mem accounting of every spilling operator). */
export function estimateRowBytes(row: readonly Value[]): number {
  let n = 32 + 8 * row.length;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') continue;
    if (typeof v === 'string') n += 16 + v.length;
    else if (typeof v === 'bigint') n += 16;
    else if (Buffer.isBuffer(v)) n += 96 + v.length;
    else if (v instanceof Decimal) n += 64;
    else if ('kind' in v) n += v.kind === 'array' ? 32 + estimateRowBytes(v.elems) : 64 + jsonBytes(v.json);
    else n += 40;
  }
  return n;
}

function jsonBytes(j: JsonValue): number {
  if (j === null || typeof j === 'boolean') return 8;
  if (typeof j === 'string') return 16 + j.length;
  if (j instanceof Decimal) return 64;
  let n = 32;
  if (Array.isArray(j)) for (const e of j as readonly JsonValue[]) n += 8 + jsonBytes(e);
  else for (const [k, e] of Object.entries(j)) n += 24 + k.length + jsonBytes(e);
  return n;
}

// ---- record codec ----

/** Spill records: tagged values over row-codec's ByteWriter (every varint here is a length or count below 2^31). */
class RecordWriter extends ByteWriter {
  constructor() {
    super(WRITE_CHUNK_BYTES + 1024);
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  value(v: Value | undefined): void {
    if (v === null || v === undefined) return this.byte(T_NULL);
    switch (typeof v) {
      case 'boolean':
        return this.byte(v ? T_TRUE : T_FALSE);
      case 'number':
        this.ensure(9);
        this.buf[this.len++] = T_NUMBER;
        this.buf.writeDoubleBE(v, this.len);
        this.len += 8;
        return;
      case 'bigint':
        if (v < I64_MIN || v > I64_MAX) {
          this.byte(T_BIGINT_TEXT);
          return this.string(v.toString());
        }
        this.ensure(9);
        this.buf[this.len++] = T_BIGINT;
        this.buf.writeBigInt64BE(v, this.len);
        this.len += 8;
        return;
      case 'string':
        this.byte(T_STRING);
        return this.string(v);
      default:
        break;
    }
    if (v instanceof Decimal) {
      this.byte(T_DECIMAL);
      return this.string(v.toString());
    }
    if (Buffer.isBuffer(v)) {
      this.byte(T_BYTES);
      this.uvarint(v.length);
      this.ensure(v.length);
      this.buf.set(v, this.len);
      this.len += v.length;
      return;
    }
    if ('kind' in v) {
      if (v.kind === 'array') {
        const extra = Object.keys(v).length > 2 ? arrayExtra(v) : undefined;
        this.byte(extra === undefined ? T_ARRAY : T_ARRAY_EXTRA);
        this.uvarint(v.elems.length);
        for (const e of v.elems) this.value(e);
        if (extra !== undefined) this.string(extra);
        return;
      }
      this.byte(T_JSONB);
      return this.json((v as JsonBox).json);
    }
    const iv = v;
    this.ensure(17);
    this.buf[this.len++] = T_INTERVAL;
    this.buf.writeInt32BE(iv.months, this.len);
    this.buf.writeInt32BE(iv.days, this.len + 4);
    this.buf.writeBigInt64BE(iv.micros, this.len + 8);
    this.len += 16;
  }
  json(j: JsonValue): void {
    if (j === null) return this.byte(J_NULL);
    if (typeof j === 'boolean') return this.byte(j ? J_TRUE : J_FALSE);
    if (typeof j === 'string') {
      this.byte(J_STRING);
      return this.string(j);
    }
    if (j instanceof Decimal) {
      this.byte(J_NUMBER);
      return this.string(j.toString());
    }
    if (Array.isArray(j)) {
      const a = j as readonly JsonValue[];
      this.byte(J_ARRAY);
      this.uvarint(a.length);
      for (const e of a) this.json(e);
      return;
    }
    const entries = Object.entries(j);
    this.byte(J_OBJECT);
    this.uvarint(entries.length);
    for (const [k, e] of entries) {
      this.string(k);
      this.json(e);
    }
  }
  /** Appends one record: the first `count` of `values`, then `tail`'s (a record may be two arrays laid end to end). */
  record(values: readonly Value[], tail: readonly Value[] | undefined, count: number): void {
    const at = this.len;
    this.ensure(4);
    this.len += 4;
    this.uvarint(count + (tail?.length ?? 0));
    for (let i = 0; i < count; i++) this.value(values[i]);
    if (tail !== undefined) for (let i = 0; i < tail.length; i++) this.value(tail[i]);
    this.buf.writeUInt32BE(this.len - at - 4, at);
  }
}

/** Fields of an array value beyond kind and elems (dimensions, bounds), as JSON. */
function arrayExtra(v: ArrayValue): string {
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k !== 'kind' && k !== 'elems') o[k] = x;
  return JSON.stringify(o);
}

/** Reads one record's values; a record that does not hold what its tags say is a CorruptionError. */
class RecordReader extends ByteReader {
  constructor(buf: Buffer, pos: number, end: number) {
    super(buf, end, 'spill file');
    this.pos = pos;
  }
  /** A count of values that follow (each takes at least one byte). */
  count(): number {
    const n = this.uvarint();
    if (n > this.end - this.pos) throw new CorruptionError(this.what, `count ${n} beyond the record`, this.pos);
    return n;
  }
  value(): Value {
    this.need(1);
    const tag = this.buf[this.pos++];
    switch (tag) {
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_NUMBER: {
        this.need(8);
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case T_BIGINT: {
        this.need(8);
        const v = this.buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return v;
      }
      case T_BIGINT_TEXT:
        return BigInt(this.string());
      case T_STRING:
        return this.string();
      case T_DECIMAL:
        return this.decimal();
      case T_BYTES:
        return this.bytes();
      case T_INTERVAL: {
        this.need(16);
        const iv: Interval = {
          months: this.buf.readInt32BE(this.pos),
          days: this.buf.readInt32BE(this.pos + 4),
          micros: this.buf.readBigInt64BE(this.pos + 8),
        };
        this.pos += 16;
        return iv;
      }
      case T_ARRAY:
      case T_ARRAY_EXTRA: {
        const n = this.count();
        const elems = new Array<Value>(n);
        for (let i = 0; i < n; i++) elems[i] = this.value();
        if (tag === T_ARRAY) return { kind: 'array', elems } satisfies ArrayValue;
        const extra = JSON.parse(this.string()) as Record<string, unknown>;
        return { ...extra, kind: 'array', elems } as ArrayValue;
      }
      case T_JSONB:
        return { kind: 'jsonb', json: this.json() } satisfies JsonBox;
      default:
        throw new CorruptionError(this.what, `unknown value tag ${String(tag)}`, this.pos - 1);
    }
  }
  json(): JsonValue {
    this.need(1);
    const tag = this.buf[this.pos++];
    switch (tag) {
      case J_NULL:
        return null;
      case J_FALSE:
        return false;
      case J_TRUE:
        return true;
      case J_STRING:
        return this.string();
      case J_NUMBER:
        return this.decimal();
      case J_ARRAY: {
        const n = this.count();
        const a: JsonValue[] = [];
        for (let i = 0; i < n; i++) a.push(this.json());
        return a;
      }
      case J_OBJECT: {
        const n = this.count();
        const o: Record<string, JsonValue> = {};
        for (let i = 0; i < n; i++) {
          const k = this.string();
          o[k] = this.json();
        }
        return o;
      }
      default:
        throw new CorruptionError(this.what, `unknown json tag ${String(tag)}`, this.pos - 1);
    }
  }
  private decimal(): Decimal {
    const d = Decimal.parse(this.string());
    if (d === undefined) throw new CorruptionError(this.what, 'bad numeric', this.pos);
    return d;
  }
}

// ---- files ----

interface ReadState {
  readPos: number;
  rbuf: Buffer | undefined;
  rlen: number;
}

/**
 * One spill file: append rows, then finish() and read them back in order
 * (once). Writes are buffered; add() never awaits, flushIfFull() does.
 */
export class SpillFile {
  private fh: FileHandle | undefined;
  private readonly w = new RecordWriter();
  /** Bytes written to disk so far. */
  bytes = 0;
  rows = 0;
  /** Where read() is (rewind() resets it; cursor() makes others). */
  private readonly main: ReadState = { readPos: 0, rbuf: undefined, rlen: 0 };
  private finished = false;
  released = false;

  constructor(
    readonly space: SpillSpace,
    readonly id: number,
    readonly path: string,
  ) {}

  /** Buffers one row (`tail` appended to `values`); call flushIfFull() once per batch. */
  add(values: readonly Value[], tail?: readonly Value[], count = values.length): void {
    assert(!this.finished, 'spill file written after finish');
    this.w.record(values, tail, count);
    this.rows++;
  }

  flushIfFull(): Promise<void> | undefined {
    return this.w.len >= WRITE_CHUNK_BYTES ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.w.len === 0) return;
    this.space.charge(this.w.len);
    this.fh ??= await open(this.path, 'w+');
    const n = this.w.len;
    let off = 0;
    while (off < n) {
      const { bytesWritten } = await this.fh.write(this.w.buf, off, n - off, this.bytes + off);
      off += bytesWritten;
    }
    this.bytes += n;
    this.w.len = 0;
  }

  /** Ends writing; the file can be read from its start. */
  async finish(): Promise<void> {
    await this.flush();
    this.finished = true;
  }

  /** The next rows in write order (up to about `max`), or null at the end. */
  read(max: number): Promise<Value[][] | null> {
    return this.readWith(this.main, max);
  }

  /** An independent reader from the first record (several scans of one materialized CTE). */
  cursor(): { read(max: number): Promise<Value[][] | null> } {
    const st: ReadState = { readPos: 0, rbuf: undefined, rlen: 0 };
    return { read: (max) => this.readWith(st, max) };
  }

  private async readWith(st: ReadState, max: number): Promise<Value[][] | null> {
    assert(this.finished && !this.released, 'spill file read before finish or after release');
    st.rbuf ??= Buffer.allocUnsafe(READ_CHUNK_BYTES);
    const out: Value[][] = [];
    for (;;) {
      // Decode every complete record in the buffer.
      let p = 0;
      while (out.length < max && p + 4 <= st.rlen) {
        const n = st.rbuf.readUInt32BE(p);
        if (p + 4 + n > st.rlen) break;
        const r = new RecordReader(st.rbuf, p + 4, p + 4 + n);
        const count = r.count();
        const row = new Array<Value>(count);
        for (let i = 0; i < count; i++) row[i] = r.value();
        if (r.pos !== r.end) throw new CorruptionError(r.what, 'record longer than its values', r.pos);
        out.push(row);
        p += 4 + n;
      }
      if (p > 0) {
        st.rbuf.copy(st.rbuf, 0, p, st.rlen);
        st.rlen -= p;
      }
      if (out.length >= max) return out;
      if (st.readPos >= this.bytes) {
        assert(st.rlen === 0, 'spill file ends inside a record');
        return out.length > 0 ? out : null;
      }
      if (out.length > 0) return out;
      // A record larger than the buffer: grow it.
      if (st.rlen >= 4) {
        const need = 4 + st.rbuf.readUInt32BE(0);
        if (need > st.rbuf.length) {
          const b = Buffer.allocUnsafe(need);
          st.rbuf.copy(b, 0, 0, st.rlen);
          st.rbuf = b;
        }
      }
      const { bytesRead } = await this.fh!.read(st.rbuf, st.rlen, st.rbuf.length - st.rlen, st.readPos);
      assert(bytesRead > 0, 'spill file shorter than written');
      st.readPos += bytesRead;
      st.rlen += bytesRead;
    }
  }

  /** Reads again from the first record (a nested loop's inner side is read once per outer batch). */
  rewind(): void {
    assert(this.finished && !this.released, 'spill file rewound before finish or after release');
    this.main.readPos = 0;
    this.main.rlen = 0;
  }

  /** Closes and removes the file (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.main.rbuf = undefined;
    this.space.forget(this);
    const fh = this.fh;
    this.fh = undefined;
    if (fh !== undefined) {
      await fh.close().catch(() => undefined);
      await rm(this.path, { force: true });
    }
  }
}

export interface SpillSettings {
  /** work_mem in bytes: what one sort or hash operator may hold before it spills. */
  readonly workMemBytes: number;
  /** temp_file_limit in bytes (-1: none). */
  readonly tempFileLimitBytes: number;
}

/** The spill files of one session (see the module comment). */
export class SpillSpace {
  private readonly files = new Map<number, SpillFile>();
  private nextId = 0;
  /** Bytes in this session's spill files now (temp_file_limit). */
  private usedBytes = 0;
  private dirMade = false;

  constructor(
    private readonly dir: SpillDir,
    /** Read when an operator starts (settings may change between statements). */
    readonly settings: () => SpillSettings,
  ) {}

  /** Files created from now on are > the mark. */
  mark(): number {
    return this.nextId;
  }

  get openFiles(): number {
    return this.files.size;
  }

  async create(): Promise<SpillFile> {
    if (!this.dirMade) {
      await mkdir(this.dir.path, { recursive: true });
      this.dirMade = true;
    }
    const id = this.nextId++;
    const f = new SpillFile(this, id, join(this.dir.path, `nextdb_tmp.${process.pid}.${this.dir.nextNumber()}`));
    this.files.set(id, f);
    return f;
  }

  /** Counts bytes about to be written; 53400 beyond temp_file_limit. */
  charge(n: number): void {
    const limit = this.settings().tempFileLimitBytes;
    if (limit >= 0 && this.usedBytes + n > limit)
      throw new NextDbError('53400', `temporary file size exceeds temp_file_limit (${Math.floor(limit / 1024)}kB)`);
    this.usedBytes += n;
  }

  forget(f: SpillFile): void {
    if (this.files.delete(f.id)) this.usedBytes -= f.bytes;
  }

  /** Removes the files created after `mark` (a statement or subplan ended, however it ended). */
  async releaseFrom(mark: number): Promise<void> {
    for (const f of [...this.files.values()]) if (f.id >= mark) await f.release();
  }
}

/** The directory of an engine's spill files and the counter naming them. */
export class SpillDir {
  private n = 0;
  constructor(
    readonly path: string,
    /** Remove the directory itself when the engine closes (a per-process directory under os.tmpdir()). */
    readonly owned: boolean,
  ) {}

  nextNumber(): number {
    return this.n++;
  }

  /**
   * The spill directory of an engine: `<dataDir>/tmp`, emptied now (files
   * left by a crashed process), or for an in-memory engine a fresh
   * directory under os.tmpdir(); directories there of processes that no
   * longer run are removed.
   */
  static async open(dataDir: string | undefined): Promise<SpillDir> {
    if (dataDir !== undefined) {
      const path = join(dataDir, 'tmp');
      await rm(path, { recursive: true, force: true });
      return new SpillDir(path, false);
    }
    const base = tmpdir();
    const names = await readdir(base).catch(() => [] as string[]);
    for (const name of names) {
      const m = /^nextdb-spill-(\d+)-/.exec(name);
      if (m === null || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
      await rm(join(base, name), { recursive: true, force: true });
    }
    const suffix = Math.floor(Math.random() * 0xffffffff).toString(16);
    return new SpillDir(join(base, `nextdb-spill-${process.pid}-${suffix}`), true);
  }

  /** A per-process directory under os.tmpdir(), without the start-up sweep (an engine core made directly). */
  static fallback(): SpillDir {
    return new SpillDir(join(tmpdir(), `nextdb-spill-${process.pid}-core`), true);
  }

  async close(): Promise<void> {
    if (this.owned) await rm(this.path, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Parses a memory setting in PostgreSQL's units (a bare number is `unit` kB blocks); bytes, or undefined. */
export function parseMemorySetting(v: string, unitKb = 1): number | undefined {
  const m = /^\s*(-?\d+)\s*(B|kB|MB|GB|TB)?\s*$/.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const mult = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[2] ?? ''] ?? unitKb * 1024;
  return n * mult;
}

/** Bytes in PostgreSQL's display form: the largest unit that divides them (4MB, 64kB). */
export function formatMemoryKb(kb: number): string {
  if (kb !== 0 && kb % (1024 * 1024 * 1024) === 0) return `${kb / (1024 * 1024 * 1024)}TB`;
  if (kb !== 0 && kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
  if (kb !== 0 && kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}kB`;
}

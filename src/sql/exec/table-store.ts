/**
 * Table storage: how rows and index entries of one table map to keys and
 * values, and the reads and writes DML needs.
 *
 *   primary index (id 1):  't' int(table) int(1) <pk values>               → encodeRow(all columns)
 *   secondary index (id n): 't' int(table) int(n) <index values> <pk values> → primary key (bytes)
 *   unique secondary index, no NULL among the values:
 *                           't' int(table) int(n) <index values>             → primary key (bytes)
 *
 * Tables without a primary key have a hidden int8 column `rowid` (filled by
 * unique_rowid()) as their primary key. Index key values use the key codec,
 * so byte order is SQL order. An entry of a unique index whose values hold
 * a NULL keeps the primary key in its key: NULLs are distinct, so several
 * rows may share those values.
 *
 * Concurrency: a primary key, and the entry key of a unique secondary index
 * (keyed by the unique values alone), is probed with getForUpdate before it
 * is written, so two concurrent transactions writing one key or one unique
 * value collide on the same key: the second waits for the first and then
 * gets 23505 (READ COMMITTED, or the insert goes ahead when the first rolled
 * back or deleted the value) or 40001, never a duplicate.
 */

import { KeyWriter, prefixSuccessor } from '../../encoding/key-codec.ts';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { assert } from '../../util/assert.ts';
import type { Txn } from '../../txn/api.ts';
import type { IndexDef, TableDef } from '../catalog/catalog.ts';
import { indexPrefix } from '../catalog/catalog.ts';
import { Decimal } from '../types/decimal.ts';
import type { Interval, SqlType, Value } from '../types/sql-type.ts';
import { decodeRow, encodeRow } from '../row-codec.ts';
import { formatText, defaultIoSettings } from '../types/text-io.ts';

const writer = new KeyWriter(128);

/** Appends one value in key encoding. */
export function writeKeyValue(w: KeyWriter, ty: SqlType, v: Value, desc = false): void {
  if (v === null) {
    w.null(desc);
    return;
  }
  switch (ty.id) {
    case 'bool':
      w.bool(v as boolean, desc);
      return;
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      w.int(v as number | bigint, desc);
      return;
    case 'float4':
    case 'float8':
      w.float(v as number, desc);
      return;
    case 'numeric':
      w.decimal((v as Decimal).toString(), desc);
      return;
    case 'text':
    case 'varchar':
    case 'name':
    case 'char':
    case 'uuid':
      w.string(v as string, desc);
      return;
    case 'bpchar':
      // Trailing blanks are insignificant for bpchar equality and order.
      w.string((v as string).replace(/ +$/, ''), desc);
      return;
    case 'bytea':
      w.bytes(v as Buffer, desc);
      return;
    case 'interval': {
      const iv = v as Interval;
      w.int(BigInt(iv.months) * 30n * 86_400_000_000n + BigInt(iv.days) * 86_400_000_000n + iv.micros, desc);
      return;
    }
    case 'jsonb':
      w.string(formatText(ty, v, defaultIoSettings), desc);
      return;
    default:
      throw notSupported(`indexes on type ${ty.name}`);
  }
}

export class TableStore {
  readonly types: SqlType[];
  readonly primary: IndexDef;
  readonly primaryPrefix: Buffer;
  readonly primaryEnd: Buffer;
  private readonly secondary: { index: IndexDef; prefix: Buffer }[];

  constructor(readonly table: TableDef) {
    this.types = table.columns.map((c) => c.type);
    const p = table.indexes.find((i) => i.primary);
    assert(p !== undefined, `table ${table.name} has no primary index`);
    this.primary = p;
    this.primaryPrefix = indexPrefix(table.oid, p.id);
    this.primaryEnd = prefixSuccessor(this.primaryPrefix)!;
    this.secondary = table.indexes.filter((i) => !i.primary).map((index) => ({ index, prefix: indexPrefix(table.oid, index.id) }));
  }

  primaryKey(row: readonly Value[]): Buffer {
    const w = writer.reset();
    w.raw(this.primaryPrefix);
    for (const c of this.primary.columns) writeKeyValue(w, this.types[c]!, row[c] ?? null);
    return w.finish();
  }

  /** The index key prefix for `values` of the index's leading columns. */
  indexKeyPrefix(index: IndexDef, values: readonly Value[]): Buffer {
    const w = writer.reset();
    w.raw(indexPrefix(this.table.oid, index.id));
    values.forEach((v, i) => writeKeyValue(w, this.types[index.columns[i]!]!, v, index.desc[i] ?? false));
    return w.finish();
  }

  /** The entry key of `row` in a secondary index (without the primary key for a unique index over non-NULL values). */
  private indexKey(index: IndexDef, prefix: Buffer, row: readonly Value[]): Buffer {
    const w = writer.reset();
    w.raw(prefix);
    let sawNull = false;
    for (let i = 0; i < index.columns.length; i++) {
      const c = index.columns[i]!;
      const v = row[c] ?? null;
      if (v === null) sawNull = true;
      writeKeyValue(w, this.types[c]!, v, index.desc[i] ?? false);
    }
    if (!index.unique || sawNull) for (const c of this.primary.columns) writeKeyValue(w, this.types[c]!, row[c] ?? null);
    return w.finish();
  }

  decode(value: Buffer): Value[] {
    return decodeRow(this.types, value);
  }

  async get(txn: Txn, key: Uint8Array): Promise<Value[] | undefined> {
    const v = await txn.get(key);
    return v === undefined ? undefined : this.decode(v);
  }

  /** Locks the key and reads the version a write must start from (see Txn.getForUpdate). */
  async getForUpdate(txn: Txn, key: Uint8Array): Promise<Value[] | undefined> {
    const v = await txn.getForUpdate(key);
    return v === undefined ? undefined : this.decode(v);
  }

  /**
   * Locks the row an UPDATE/DELETE found with its snapshot and returns the
   * version to change: `row` itself when it is unchanged, the latest
   * committed version when a concurrent transaction changed it (READ
   * COMMITTED only; the caller re-checks its WHERE clause on that), or
   * undefined when it was deleted (or its primary key changed: PostgreSQL
   * follows the update chain to the moved row, NextDB skips it).
   */
  async lockRow(txn: Txn, row: readonly Value[]): Promise<readonly Value[] | undefined> {
    const v = await txn.getForUpdate(this.primaryKey(row));
    if (v === undefined) return undefined;
    // Under REPEATABLE READ / SERIALIZABLE getForUpdate returns the snapshot's version (or 40001).
    if (txn.isolation !== 'read committed' || v.equals(encodeRow(this.types, row))) return row;
    return this.decode(v);
  }

  private uniqueViolation(index: IndexDef, row: readonly Value[]): NextDbError {
    const names = index.columns.map((c) => this.table.columns[c]!.name);
    const vals = index.columns.map((c) => {
      const v = row[c] ?? null;
      return v === null ? 'null' : formatText(this.types[c]!, v, defaultIoSettings);
    });
    return new NextDbError(SqlState.uniqueViolation, `duplicate key value violates unique constraint "${index.name}"`, {
      detail: `Key (${names.join(', ')})=(${vals.join(', ')}) already exists.`,
      table: this.table.name,
      constraint: index.name,
      schema: this.table.schema,
    });
  }

  /**
   * Finds an existing row conflicting with `row` on `index` (primary or
   * unique); returns its primary key. With `lock` a primary-key probe locks
   * the key first (getForUpdate), so a concurrent uncommitted insert of the
   * same key is waited for and seen instead of overwritten later.
   */
  async findConflict(txn: Txn, index: IndexDef, row: readonly Value[], lock = false): Promise<Buffer | undefined> {
    if (index.primary) {
      const key = this.primaryKey(row);
      return (await (lock ? txn.getForUpdate(key) : txn.get(key))) === undefined ? undefined : key;
    }
    assert(index.unique, 'conflicts exist only on unique indexes');
    const vals = index.columns.map((c) => row[c] ?? null);
    if (vals.some((v) => v === null)) return undefined;
    // The entry key is the unique values alone (see the header).
    const key = this.indexKeyPrefix(index, vals);
    return lock ? txn.getForUpdate(key) : txn.get(key);
  }

  /** Inserts a new row; 23505 on a duplicate primary or unique key. */
  async insert(txn: Txn, row: readonly Value[], skipUniqueOf?: Buffer): Promise<Buffer> {
    const key = this.primaryKey(row);
    if (skipUniqueOf === undefined || !key.equals(skipUniqueOf)) {
      if ((await txn.getForUpdate(key)) !== undefined) throw this.uniqueViolation(this.primary, row);
    }
    for (const { index, prefix } of this.secondary) {
      if (index.unique) {
        const other = await this.findConflict(txn, index, row, true);
        if (other !== undefined && (skipUniqueOf === undefined || !other.equals(skipUniqueOf))) throw this.uniqueViolation(index, row);
      }
      await txn.put(this.indexKey(index, prefix, row), key);
    }
    await txn.put(key, encodeRow(this.types, row));
    return key;
  }

  async delete(txn: Txn, row: readonly Value[]): Promise<void> {
    for (const { index, prefix } of this.secondary) await txn.delete(this.indexKey(index, prefix, row));
    await txn.delete(this.primaryKey(row));
  }

  /** Replaces `oldRow` with `newRow` (the primary key may change). */
  async update(txn: Txn, oldRow: readonly Value[], newRow: readonly Value[]): Promise<void> {
    const oldKey = this.primaryKey(oldRow);
    const newKey = this.primaryKey(newRow);
    const keyChanged = !oldKey.equals(newKey);
    if (keyChanged && (await txn.getForUpdate(newKey)) !== undefined) throw this.uniqueViolation(this.primary, newRow);
    for (const { index, prefix } of this.secondary) {
      const ok = this.indexKey(index, prefix, oldRow);
      const nk = this.indexKey(index, prefix, newRow);
      if (ok.equals(nk) && !keyChanged) continue;
      if (index.unique) {
        const other = await this.findConflict(txn, index, newRow, true);
        if (other !== undefined && !other.equals(oldKey)) throw this.uniqueViolation(index, newRow);
      }
      await txn.delete(ok);
      await txn.put(nk, newKey);
    }
    if (keyChanged) await txn.delete(oldKey);
    await txn.put(newKey, encodeRow(this.types, newRow));
  }

  /** Writes index entries for every existing row (CREATE INDEX); checks uniqueness. */
  async buildIndex(txn: Txn, index: IndexDef): Promise<void> {
    const prefix = indexPrefix(this.table.oid, index.id);
    const seen = new Set<string>();
    for await (const row of this.scanAll(txn)) {
      if (index.unique) {
        const vals = index.columns.map((c) => row[c] ?? null);
        if (!vals.some((v) => v === null)) {
          const k = this.indexKeyPrefix(index, vals).toString('latin1');
          if (seen.has(k)) {
            throw new NextDbError(SqlState.uniqueViolation, `could not create unique index "${index.name}"`, {
              detail: `Key (${index.columns.map((c) => this.table.columns[c]!.name).join(', ')})=(${vals.map((v, i) => formatText(this.types[index.columns[i]!]!, v!, defaultIoSettings)).join(', ')}) is duplicated.`,
            });
          }
          seen.add(k);
        }
      }
      await txn.put(this.indexKey(index, prefix, row), this.primaryKey(row));
    }
  }

  async *scanAll(txn: Txn): AsyncGenerator<Value[]> {
    let start: Buffer = this.primaryPrefix;
    for (;;) {
      const page = await txn.scan({ start, end: this.primaryEnd, limit: 512 });
      for (const kv of page) yield this.decode(kv.value);
      if (page.length < 512) return;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /** Deletes every key of the table (all indexes). */
  async truncate(txn: Txn, tablePrefixKey: Buffer): Promise<void> {
    const end = prefixSuccessor(tablePrefixKey)!;
    for (;;) {
      const page = await txn.scan({ start: tablePrefixKey, end, limit: 512 });
      for (const kv of page) await txn.delete(kv.key);
      if (page.length < 512) return;
    }
  }
}

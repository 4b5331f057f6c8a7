/**
 * Table storage: how rows and index entries of one table map to keys and
 * values, and the reads and writes DML needs.
 *
 *   primary index (id 1):  't' int(table) int(1) <pk values>               → encodeRow(all columns)
 *   secondary index (id n): 't' int(table) int(n) <index values> <pk values> → primary key (bytes)
 *   unique secondary index, no NULL among the values (IndexDef.valueKeyed):
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
 *
 * A primary-key change leaves a forwarding entry at the old key's place
 * under index id 0:
 *
 *   't' int(table) int(0) <old pk values> → new primary key (bytes)
 *
 * so a READ COMMITTED writer that found the row by its old key follows it
 * to the new one (PostgreSQL follows the update chain), see lockRow.
 *
 * Expression indexes store the computed values of their key expressions;
 * a partial index has entries only for rows where its predicate is true, so
 * a unique partial index constrains only those rows (index-keys.ts compiles
 * both).
 */

import { KeyWriter, prefixSuccessor } from '../../encoding/key-codec.ts';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { assert } from '../../util/assert.ts';
import type { Txn } from '../../txn/api.ts';
import { MvccTxn } from '../../txn/transaction.ts';
import type { IndexDef, TableDef } from '../catalog/catalog.ts';
import { indexPrefix } from '../catalog/catalog.ts';
import { Decimal } from '../types/decimal.ts';
import type { Interval, SqlType, Value } from '../types/sql-type.ts';
import { decodeRow, encodeRow } from '../row-codec.ts';
import { formatText, defaultIoSettings } from '../types/text-io.ts';
import { evalIndexExpr, indexEval, type IndexEval } from './index-keys.ts';

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
  /** Prefix of the forwarding entries left by primary-key changes (index id 0). */
  private readonly forwardPrefix: Buffer;
  private readonly secondary: { index: IndexDef; prefix: Buffer; ev: IndexEval | undefined }[];

  constructor(readonly table: TableDef) {
    this.types = table.columns.map((c) => c.type);
    const p = table.indexes.find((i) => i.primary);
    assert(p !== undefined, `table ${table.name} has no primary index`);
    this.primary = p;
    this.primaryPrefix = indexPrefix(table.oid, p.id);
    this.primaryEnd = prefixSuccessor(this.primaryPrefix)!;
    this.forwardPrefix = indexPrefix(table.oid, 0);
    this.secondary = table.indexes
      .filter((i) => !i.primary)
      .map((index) => ({
        index,
        prefix: indexPrefix(table.oid, index.id),
        ev: index.exprs !== undefined || index.predicate !== undefined ? indexEval(table, index) : undefined,
      }));
  }

  /** The compiled expressions and predicate of an expression or partial index (undefined for a plain one). */
  private evalOf(index: IndexDef): IndexEval | undefined {
    if (index.exprs === undefined && index.predicate === undefined) return undefined;
    return this.secondary.find((x) => x.index.id === index.id)?.ev ?? indexEval(this.table, index);
  }

  /** The type of key column `i` of `index`. */
  private keyType(index: IndexDef, i: number): SqlType {
    return index.exprs?.[i]?.type ?? this.types[index.columns[i]!]!;
  }

  /** Whether `row` has an entry in the index (a partial index's predicate holds). */
  private covers(ev: IndexEval | undefined, row: readonly Value[]): boolean {
    return ev?.pred === undefined || evalIndexExpr(ev.pred, row) === true;
  }

  /** The key values of `row` in `index` (expression keys computed). */
  private keyValues(index: IndexDef, ev: IndexEval | undefined, row: readonly Value[]): Value[] {
    return index.columns.map((c, i) => {
      const f = ev?.keys[i];
      return f === undefined ? (row[c] ?? null) : evalIndexExpr(f, row);
    });
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
    values.forEach((v, i) => writeKeyValue(w, this.keyType(index, i), v, index.desc[i] ?? false));
    return w.finish();
  }

  /** The entry key of `row` in a secondary index (without the primary key for a unique index over non-NULL values). */
  private indexKey(index: IndexDef, prefix: Buffer, row: readonly Value[], ev: IndexEval | undefined): Buffer {
    const vals = ev === undefined ? undefined : this.keyValues(index, ev, row);
    const w = writer.reset();
    w.raw(prefix);
    let sawNull = false;
    for (let i = 0; i < index.columns.length; i++) {
      const v = vals === undefined ? (row[index.columns[i]!] ?? null) : vals[i]!;
      if (v === null) sawNull = true;
      writeKeyValue(w, this.keyType(index, i), v, index.desc[i] ?? false);
    }
    if (!index.unique || sawNull || index.valueKeyed !== true)
      for (const c of this.primary.columns) writeKeyValue(w, this.types[c]!, row[c] ?? null);
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
   * undefined when it was deleted. When a concurrent transaction changed
   * the row's primary key, READ COMMITTED follows the forwarding entry to
   * the row's new key, as PostgreSQL follows the update chain.
   */
  async lockRow(txn: Txn, row: readonly Value[]): Promise<readonly Value[] | undefined> {
    const key = this.primaryKey(row);
    const v = await txn.getForUpdate(key);
    if (v === undefined) return txn.isolation === 'read committed' ? this.followMoved(txn, key) : undefined;
    // Under REPEATABLE READ / SERIALIZABLE getForUpdate returns the snapshot's version (or 40001).
    if (txn.isolation !== 'read committed' || v.equals(encodeRow(this.types, row))) return row;
    return this.decode(v);
  }

  /** How 23505 details name the key: column names, or the expression text. */
  private keyNames(index: IndexDef): string[] {
    return index.columns.map((c, i) => index.exprs?.[i]?.sql ?? this.table.columns[c]!.name);
  }

  /**
   * The latest version of a row whose primary key `key` is gone: if a
   * transaction that committed after this statement's snapshot moved it
   * (its forwarding entry is newer than the snapshot's), lock and return
   * it at its new key, following further moves; undefined when the row
   * was deleted. A forwarding entry the snapshot already sees is older
   * than the row this statement found, so it says nothing about it.
   */
  private async followMoved(txn: Txn, key: Buffer): Promise<Value[] | undefined> {
    let pk = key;
    for (let hops = 0; hops < 64; hops++) {
      const fwd = Buffer.concat([this.forwardPrefix, pk.subarray(this.primaryPrefix.length)]);
      // The snapshot's version first: once this transaction holds the lock, reads return the latest.
      const seen = await txn.get(fwd);
      const latest = await txn.getForUpdate(fwd);
      if (latest === undefined || (seen !== undefined && seen.equals(latest))) return undefined;
      pk = latest;
      const v = await txn.getForUpdate(pk);
      if (v !== undefined) return this.decode(v);
    }
    return undefined;
  }

  private uniqueViolation(index: IndexDef, row: readonly Value[]): NextDbError {
    const names = this.keyNames(index);
    const vals = this.keyValues(index, this.evalOf(index), row).map((v, i) =>
      v === null ? 'null' : formatText(this.keyType(index, i), v, defaultIoSettings),
    );
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
    const ev = this.evalOf(index);
    if (!this.covers(ev, row)) return undefined;
    const vals = this.keyValues(index, ev, row);
    if (vals.some((v) => v === null)) return undefined;
    // The entry key is the unique values alone (see the header).
    const key = this.indexKeyPrefix(index, vals);
    if (index.valueKeyed === true) return lock ? txn.getForUpdate(key) : txn.get(key);
    // A unique index stored before that layout: its entries carry the primary key; probe the snapshot.
    const page = await txn.scan({ start: key, end: prefixSuccessor(key)!, limit: 1 });
    return page[0]?.value;
  }

  /** Inserts a new row; 23505 on a duplicate primary or unique key. */
  async insert(txn: Txn, row: readonly Value[], skipUniqueOf?: Buffer): Promise<Buffer> {
    const key = this.primaryKey(row);
    if (this.secondary.length === 0 && skipUniqueOf === undefined && txn instanceof MvccTxn) {
      // Only the primary key to check: the probe and the write are one step (same locks, same errors).
      if ((await txn.putIfAbsent(key, encodeRow(this.types, row))) !== undefined)
        throw this.uniqueViolation(this.primary, row);
      return key;
    }
    if (skipUniqueOf === undefined || !key.equals(skipUniqueOf)) {
      if ((await txn.getForUpdate(key)) !== undefined) throw this.uniqueViolation(this.primary, row);
    }
    for (const { index, prefix, ev } of this.secondary) {
      if (!this.covers(ev, row)) continue;
      if (index.unique) {
        const other = await this.findConflict(txn, index, row, true);
        if (other !== undefined && (skipUniqueOf === undefined || !other.equals(skipUniqueOf)))
          throw this.uniqueViolation(index, row);
      }
      await txn.put(this.indexKey(index, prefix, row, ev), key);
    }
    await txn.put(key, encodeRow(this.types, row));
    return key;
  }

  async delete(txn: Txn, row: readonly Value[]): Promise<void> {
    for (const { index, prefix, ev } of this.secondary)
      if (this.covers(ev, row)) await txn.delete(this.indexKey(index, prefix, row, ev));
    await txn.delete(this.primaryKey(row));
  }

  /** Replaces `oldRow` with `newRow` (the primary key may change). */
  async update(txn: Txn, oldRow: readonly Value[], newRow: readonly Value[]): Promise<void> {
    const oldKey = this.primaryKey(oldRow);
    const newKey = this.primaryKey(newRow);
    const keyChanged = !oldKey.equals(newKey);
    if (keyChanged && (await txn.getForUpdate(newKey)) !== undefined) throw this.uniqueViolation(this.primary, newRow);
    for (const { index, prefix, ev } of this.secondary) {
      const inOld = this.covers(ev, oldRow);
      const inNew = this.covers(ev, newRow);
      const ok = inOld ? this.indexKey(index, prefix, oldRow, ev) : undefined;
      const nk = inNew ? this.indexKey(index, prefix, newRow, ev) : undefined;
      if (ok !== undefined && nk !== undefined && ok.equals(nk) && !keyChanged) continue;
      if (nk !== undefined && index.unique) {
        const other = await this.findConflict(txn, index, newRow, true);
        if (other !== undefined && !other.equals(oldKey)) throw this.uniqueViolation(index, newRow);
      }
      if (ok !== undefined) await txn.delete(ok);
      if (nk !== undefined) await txn.put(nk, newKey);
    }
    if (keyChanged) {
      await txn.delete(oldKey);
      // Concurrent READ COMMITTED writers that found the row by its old key follow this (lockRow).
      await txn.put(Buffer.concat([this.forwardPrefix, oldKey.subarray(this.primaryPrefix.length)]), newKey);
    }
    await txn.put(newKey, encodeRow(this.types, newRow));
  }

  /** Writes index entries for every existing row (CREATE INDEX); checks uniqueness. */
  async buildIndex(txn: Txn, index: IndexDef): Promise<void> {
    const prefix = indexPrefix(this.table.oid, index.id);
    const ev = this.evalOf(index);
    const seen = new Set<string>();
    for await (const row of this.scanAll(txn)) {
      if (!this.covers(ev, row)) continue;
      if (index.unique) {
        const vals = this.keyValues(index, ev, row);
        if (!vals.some((v) => v === null)) {
          const k = this.indexKeyPrefix(index, vals).toString('latin1');
          if (seen.has(k)) {
            throw new NextDbError(SqlState.uniqueViolation, `could not create unique index "${index.name}"`, {
              detail: `Key (${this.keyNames(index).join(', ')})=(${vals.map((v, i) => formatText(this.keyType(index, i), v!, defaultIoSettings)).join(', ')}) is duplicated.`,
            });
          }
          seen.add(k);
        }
      }
      await txn.put(this.indexKey(index, prefix, row, ev), this.primaryKey(row));
    }
  }

  /**
   * ALTER TABLE ... ADD PRIMARY KEY on a table keyed by its hidden rowid:
   * moves every row of `old` (same columns, the old primary key) to its key
   * in this store. One pass reads the rows at the transaction's snapshot and
   * deletes their old keys (each page resumes after the last key, see
   * truncate); the new keys are then checked in memory, NULLs first (23502)
   * and duplicates next to each other once sorted (23505, as CREATE UNIQUE
   * INDEX reports them), before anything is written under them; the rows
   * are written in key order with their stored values unchanged (the
   * columns are the same), and the secondary indexes rebuilt. An error
   * leaves the table as it was when the transaction (or the statement's
   * savepoint) rolls back, as for any statement.
   */
  async rekeyFrom(txn: Txn, old: TableStore): Promise<void> {
    const rows: Value[][] = [];
    const values: Buffer[] = [];
    let start: Buffer = old.primaryPrefix;
    for (;;) {
      const page = await txn.scan({ start, end: old.primaryEnd, limit: 512 });
      for (const kv of page) {
        rows.push(this.decode(kv.value));
        values.push(kv.value);
        await txn.delete(kv.key);
      }
      if (page.length < 512) break;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
    // Forwarding entries and secondary index entries name old primary keys.
    for (const id of [0, ...this.table.indexes.filter((i) => !i.primary).map((i) => i.id)])
      await this.truncate(txn, indexPrefix(this.table.oid, id));
    for (const c of this.primary.columns) {
      if (rows.some((r) => r[c] === null))
        throw new NextDbError(
          SqlState.notNullViolation,
          `column "${this.table.columns[c]!.name}" of relation "${this.table.name}" contains null values`,
          { table: this.table.name, column: this.table.columns[c]!.name, schema: this.table.schema },
        );
    }
    const keys = rows.map((r) => this.primaryKey(r));
    // Usually already in key order (rowids follow insertion order): the sort is then one linear pass.
    const order = keys.map((_, i) => i).sort((a, b) => Buffer.compare(keys[a]!, keys[b]!));
    for (let i = 1; i < order.length; i++) {
      if (keys[order[i]!]!.equals(keys[order[i - 1]!]!)) {
        const row = rows[order[i]!]!;
        const vals = this.primary.columns.map((c) => formatText(this.types[c]!, row[c]!, defaultIoSettings));
        throw new NextDbError(SqlState.uniqueViolation, `could not create unique index "${this.primary.name}"`, {
          detail: `Key (${this.keyNames(this.primary).join(', ')})=(${vals.join(', ')}) is duplicated.`,
          table: this.table.name,
          constraint: this.primary.name,
          schema: this.table.schema,
        });
      }
    }
    for (const i of order) await txn.put(keys[i]!, values[i]!);
    for (const { index } of this.secondary) await this.buildIndex(txn, index);
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

  /**
   * Deletes every key of the table (all indexes). Each page resumes after
   * the last key deleted: a scan from the prefix again would walk over this
   * transaction's own deletions each time (quadratic in the table's size).
   */
  async truncate(txn: Txn, tablePrefixKey: Buffer): Promise<void> {
    const end = prefixSuccessor(tablePrefixKey)!;
    let start = tablePrefixKey;
    for (;;) {
      const page = await txn.scan({ start, end, limit: 512 });
      for (const kv of page) await txn.delete(kv.key);
      if (page.length < 512) return;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }
}

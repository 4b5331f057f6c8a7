/**
 * CREATE [TEMP] TABLE name [(columns)] AS query [WITH [NO] DATA] and
 * SELECT ... INTO [TEMP] name: the query is bound once for its output
 * columns, the table is made by createTable from those names and types
 * (so constraints, ON COMMIT and temporary tables work as in CREATE TABLE),
 * then the session runs INSERT INTO name query in the same transaction.
 */

import type { CreateStmt, CreateTableAsStmt, InsertStmt, Node } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import { parseSql } from '../parser.ts';
import { formatType, Types } from '../types/sql-type.ts';
import { createTable, isTempRelation, type DdlContext } from './ddl.ts';

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** The table's columns from the query; `insert` runs INSERT INTO the new table (after the catalog change) and counts rows. */
export async function createTableAs(
  ctx: DdlContext,
  s: CreateTableAsStmt,
  insert: (stmt: InsertStmt) => Promise<number>,
): Promise<string> {
  if (s.objtype === 'OBJECT_MATVIEW') throw notSupported('materialized views');
  const into = s.into!;
  const rv = into.rel!;
  const query = s.query!;
  if (!('SelectStmt' in query)) throw notSupported(`CREATE TABLE AS ${Object.keys(query)[0] ?? ''}`);
  const tag = s.is_select_into === true ? 'SELECT' : 'CREATE TABLE AS';
  const bound = ctx.binder('').bindTopQuery(query);
  const names = (into.colNames ?? []).map((n: Node) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (names.length > bound.cols.length) throw new NextDbError('42601', 'too many column names were specified');
  const cols = bound.cols.map((c, i) => ({
    name: names[i] ?? c.name,
    // An untyped literal column becomes text, as in PostgreSQL.
    type: c.type.id === 'unknown' ? Types.text : c.type,
  }));
  const text = `CREATE TABLE x (${cols.map((c) => `${quoteIdent(c.name)} ${formatType(c.type)}`).join(', ')})`;
  const parsed = parseSql(text)[0]!.stmt;
  if (!('CreateStmt' in parsed)) throw new NextDbError('XX000', 'CREATE TABLE AS: column list did not parse');
  const cs: CreateStmt = {
    ...parsed.CreateStmt,
    relation: rv,
    ...(into.onCommit === undefined ? {} : { oncommit: into.onCommit }),
    ...(s.if_not_exists === true ? { if_not_exists: true } : {}),
  };
  const before = ctx.notices.length;
  await createTable(ctx, cs);
  // IF NOT EXISTS over an existing table: its notice, and nothing inserted.
  if (ctx.notices.length > before && ctx.notices[ctx.notices.length - 1]!.code === '42P07')
    return s.is_select_into === true ? 'SELECT 0' : tag;
  if (into.skipData === true) return tag;
  // The schema createTable chose (a temporary table of the same name must not catch the rows).
  const schema = isTempRelation(rv)
    ? 'pg_temp'
    : (rv.schemaname ??
      ctx.searchPath.find(
        (sc) => sc !== 'pg_catalog' && !sc.startsWith('pg_temp') && ctx.catalog.schema(ctx.dbOid, sc) !== undefined,
      ));
  const n = await insert({
    relation: { relname: rv.relname ?? '', ...(schema === undefined ? {} : { schemaname: schema }), inh: true },
    selectStmt: query,
  });
  return `SELECT ${n}`;
}

/**
 * CREATE [OR REPLACE] TRIGGER, DROP TRIGGER and ALTER TABLE ... ENABLE /
 * DISABLE TRIGGER. A table's triggers live in its TableDef (`triggers`),
 * so they go with DROP TABLE and cost DML nothing on tables without any.
 * The function must exist and return trigger; a function used by a trigger
 * cannot be dropped (2BP01, checked in dropFunctions).
 */

import type { CreateTrigStmt, DropStmt, Node } from '@pgsql/types';
import { deparseSync } from 'pgsql-parser';
import { NextDbError, notSupported } from '../../util/errors.ts';
import { CatalogStore, type TableDef, type TriggerDef } from '../catalog/catalog.ts';
import type { DdlContext } from './ddl.ts';
import { requirePrivilege } from './privileges.ts';

function str(n: Node | undefined): string {
  if (n !== undefined && 'String' in n) return n.String.sval ?? '';
  return '';
}

function findTable(ctx: DdlContext, schema: string | undefined, name: string): TableDef | undefined {
  for (const s of schema !== undefined ? [schema] : ctx.searchPath) {
    const t = ctx.catalog.table(ctx.dbOid, s, name);
    if (t !== undefined) return t;
  }
  return undefined;
}

// PostgreSQL's TRIGGER_TYPE bits in CreateTrigStmt.timing / events.
const BEFORE = 2;
const INSTEAD = 64;
const INSERT = 4;
const DELETE = 8;
const UPDATE = 16;
const TRUNCATE = 32;

export async function createTrigger(ctx: DdlContext, s: CreateTrigStmt): Promise<string> {
  const name = s.trigname ?? '';
  const rel = s.relation;
  const t = findTable(ctx, rel?.schemaname, rel?.relname ?? '');
  if (t === undefined) throw new NextDbError('42P01', `relation "${rel?.relname ?? ''}" does not exist`);
  if (t.kind !== 'r')
    throw new NextDbError('42809', `"${t.name}" is a view`, {
      detail: 'Views cannot have row-level BEFORE or AFTER triggers.',
    });
  if (ctx.user !== undefined) requirePrivilege(ctx.catalog, ctx.user, t.oid, 'r', 't', t.name, 'table');
  if (s.isconstraint === true) throw notSupported('CREATE CONSTRAINT TRIGGER');
  if ((s.transitionRels ?? []).length > 0) throw notSupported('REFERENCING (transition tables) in triggers');
  const timing = s.timing ?? 0;
  if ((timing & INSTEAD) !== 0) throw notSupported('INSTEAD OF triggers');
  const ev = s.events ?? 0;
  if ((ev & TRUNCATE) !== 0) throw notSupported('TRUNCATE triggers');
  const events: TriggerDef['events'][number][] = [];
  if ((ev & INSERT) !== 0) events.push('insert');
  if ((ev & UPDATE) !== 0) events.push('update');
  if ((ev & DELETE) !== 0) events.push('delete');
  const level = s.row === true ? 'row' : 'statement';
  if (s.whenClause !== undefined && level === 'statement')
    throw new NextDbError('0A000', "statement trigger's WHEN condition cannot reference column values");
  const fnames = (s.funcname ?? []).map(str);
  const fname = fnames[fnames.length - 1] ?? '';
  const schemas = fnames.length > 1 ? [fnames[0]!] : ctx.searchPath;
  const f = schemas
    .flatMap((sc) => ctx.catalog.functionsNamed(ctx.dbOid, sc, fname))
    .find((x) => x.argTypes.length === 0);
  if (f === undefined) throw new NextDbError('42883', `function ${fname}() does not exist`);
  if (f.returnsTrigger !== true) throw new NextDbError('42P17', `function ${fname} must return type trigger`);
  const columns = (s.columns ?? []).map((c) => {
    const col = str(c);
    const i = t.columns.findIndex((x) => x.name === col && x.dropped !== true && x.hidden !== true);
    if (i < 0) throw new NextDbError('42703', `column "${col}" of relation "${t.name}" does not exist`);
    return i;
  });
  const existing = (t.triggers ?? []).find((x) => x.name === name);
  if (existing !== undefined && s.replace !== true)
    throw new NextDbError('42710', `trigger "${name}" for relation "${t.name}" already exists`);
  const when = s.whenClause === undefined ? undefined : deparseSync(s.whenClause as never);
  if (when !== undefined && level === 'row') {
    // NEW in a DELETE trigger or OLD in an INSERT trigger: PostgreSQL refuses at CREATE.
    const lower = ` ${when.toLowerCase()}`;
    if (events.includes('delete') && /[^a-z_"]new\./.test(lower))
      throw new NextDbError('42P17', "DELETE trigger's WHEN condition cannot reference NEW values");
    if (events.includes('insert') && /[^a-z_"]old\./.test(lower))
      throw new NextDbError('42P17', "INSERT trigger's WHEN condition cannot reference OLD values");
  }
  const def: TriggerDef = {
    oid: existing?.oid ?? (await CatalogStore.allocOid(ctx.txn)),
    name,
    funcOid: f.oid,
    timing: (timing & BEFORE) !== 0 ? 'before' : 'after',
    level,
    events,
    ...(columns.length > 0 ? { columns } : {}),
    ...(when === undefined ? {} : { when }),
    args: (s.args ?? []).map(str),
  };
  const triggers = [...(t.triggers ?? []).filter((x) => x.name !== name), def];
  await CatalogStore.put(ctx.txn, 'rel', t.oid, { ...t, triggers } satisfies TableDef);
  return 'CREATE TRIGGER';
}

/** DROP TRIGGER [IF EXISTS] name ON table. */
export async function dropTrigger(ctx: DdlContext, s: DropStmt): Promise<string> {
  for (const obj of s.objects ?? []) {
    const names = 'List' in obj ? (obj.List.items ?? []).map(str) : [];
    const trig = names[names.length - 1] ?? '';
    const tname = names[names.length - 2] ?? '';
    const t = findTable(ctx, names.length > 2 ? names[0] : undefined, tname);
    if (t === undefined) {
      if (s.missing_ok === true) {
        ctx.notices.push({
          severity: 'NOTICE',
          code: '00000',
          message: `relation "${tname}" does not exist, skipping`,
        });
        continue;
      }
      throw new NextDbError('42P01', `relation "${tname}" does not exist`);
    }
    if (!(t.triggers ?? []).some((x) => x.name === trig)) {
      if (s.missing_ok === true) {
        ctx.notices.push({
          severity: 'NOTICE',
          code: '00000',
          message: `trigger "${trig}" for relation "${t.name}" does not exist, skipping`,
        });
        continue;
      }
      throw new NextDbError('42704', `trigger "${trig}" for table "${t.name}" does not exist`);
    }
    if (ctx.user !== undefined) requirePrivilege(ctx.catalog, ctx.user, t.oid, 'r', 't', t.name, 'table');
    const triggers = (t.triggers ?? []).filter((x) => x.name !== trig);
    const { triggers: _old, ...rest } = t;
    void _old;
    await CatalogStore.put(
      ctx.txn,
      'rel',
      t.oid,
      (triggers.length > 0 ? { ...rest, triggers } : rest) satisfies TableDef,
    );
  }
  return 'DROP TRIGGER';
}

/** ALTER TABLE t ENABLE/DISABLE TRIGGER name | ALL | USER: the new trigger list. */
export function setTriggersEnabled(t: TableDef, which: string | undefined, enabled: boolean): TableDef {
  const all = which === undefined || which === 'ALL' || which === 'USER';
  if (!all && !(t.triggers ?? []).some((x) => x.name === which))
    throw new NextDbError('42704', `trigger "${which}" for table "${t.name}" does not exist`);
  const triggers = (t.triggers ?? []).map((x) => {
    if (!all && x.name !== which) return x;
    const { disabled: _d, ...rest } = x;
    void _d;
    return enabled ? rest : { ...rest, disabled: true };
  });
  return { ...t, triggers };
}

/** The trigger definition text (pg_get_triggerdef). */
export function triggerDef(t: TableDef, g: TriggerDef, fnName: string): string {
  const events = g.events
    .map((e) =>
      e === 'update' && g.columns !== undefined
        ? `UPDATE OF ${g.columns.map((c) => t.columns[c]!.name).join(', ')}`
        : e.toUpperCase(),
    )
    .join(' OR ');
  const when = g.when === undefined ? '' : ` WHEN (${g.when})`;
  const args = g.args.map((a) => `'${a.replace(/'/g, "''")}'`).join(', ');
  return `CREATE TRIGGER ${g.name} ${g.timing.toUpperCase()} ${events} ON ${t.schema}.${t.name} FOR EACH ${g.level.toUpperCase()}${when} EXECUTE FUNCTION ${fnName}(${args})`;
}

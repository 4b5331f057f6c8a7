/**
 * The PL/pgSQL interpreter: runs a compiled function (compile.ts) over the
 * statement tree. Every expression and SQL statement inside runs through
 * the ordinary SQL engine (PlHost.query: bind, plan once per statement and
 * parameter types, execute in the caller's transaction) with the variables
 * it reads as parameters. Control flow (EXIT, CONTINUE, RETURN) is a value
 * returned up the statement lists; errors are NextDbErrors.
 *
 * BEGIN ... EXCEPTION blocks are subtransactions: a savepoint before the
 * block, rolled back when an error is caught, so the block's writes vanish
 * as in PostgreSQL.
 *
 * Simplifications (documented in docs/reference/sql.md): declarations are
 * initialized once at function entry (a nested block's DECLARE inside a
 * loop is not re-initialized per iteration); a name used in nested blocks
 * refers to the innermost declaration everywhere.
 */

import type { Node } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import type { Notice } from '../api.ts';
import type { OutputColumn } from '../plan/plan.ts';
import { resolveTypeName } from '../plan/type-names.ts';
import { parseSql } from '../parser.ts';
import { castFunction } from '../types/cast.ts';
import { Types, formatType, type ArrayValue, type SqlType, type Value } from '../types/sql-type.ts';
import { formatText, parseText, type IoSettings } from '../types/text-io.ts';
import {
  assignmentParts,
  outDnos,
  prepareSql,
  type PlExprNode,
  type PlFunction,
  type PlStmt,
  type PlStmtBody,
  type PlTargetJson,
} from './compile.ts';
import { conditionCode, conditionMatches } from './conditions.ts';

/** A record value: NEW, OLD, `r record`, a row of a query. */
export interface PlRecord {
  readonly names: readonly string[];
  readonly types: readonly SqlType[];
  readonly values: Value[];
}

export interface PlQueryResult {
  readonly cols: readonly OutputColumn[];
  readonly rows: Value[][];
  /** Rows changed by INSERT/UPDATE/DELETE/MERGE; -1 for a SELECT. */
  readonly changed: number;
}

/** What the interpreter needs from the session that runs it. */
export interface PlHost {
  readonly io: IoSettings;
  /**
   * Binds (cached by `key` and the parameter types), plans and runs one SQL
   * statement in the current transaction.
   */
  query(
    key: object | string,
    stmt: Node,
    text: string,
    params: readonly Value[],
    paramTypes: readonly SqlType[],
  ): Promise<PlQueryResult>;
  notice(n: Notice): void;
  /** Each loop iteration: 57014 when cancelled or past statement_timeout; sometimes a promise to let the event loop run. */
  tick(): Promise<void> | undefined;
  /** Subtransactions (BEGIN ... EXCEPTION blocks). */
  savepoint(): string;
  rollbackTo(name: string): Promise<void>;
  release(name: string): void;
  /** A table's columns (`%ROWTYPE`, `%TYPE`). */
  tableColumns(name: string): { names: string[]; types: SqlType[] };
}

export interface TriggerInfo {
  readonly new: PlRecord | null;
  readonly old: PlRecord | null;
  readonly name: string;
  readonly when: 'BEFORE' | 'AFTER';
  readonly level: 'ROW' | 'STATEMENT';
  readonly op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
  readonly relid: number;
  readonly table: string;
  readonly schema: string;
  readonly args: readonly string[];
}

export interface PlCall {
  readonly args: readonly Value[];
  readonly argTypes: readonly SqlType[];
  /** The declared result (void for DO); with `outColumns`, each OUT column. */
  readonly retType: SqlType;
  readonly retSet: boolean;
  readonly outColumns?: readonly { readonly name: string; readonly type: SqlType }[];
  readonly trigger?: TriggerInfo;
}

export interface PlResult {
  /** A scalar function's value (or a trigger's returned record, or null). */
  readonly value: Value;
  /** A trigger's returned row (null: RETURN NULL). */
  readonly record?: PlRecord | null;
  /** SETOF / TABLE / OUT parameters: the result rows. */
  readonly rows?: Value[][];
}

type Flow =
  | undefined
  | { readonly k: 'exit'; readonly label?: string | undefined }
  | { readonly k: 'continue'; readonly label?: string | undefined }
  | { readonly k: 'return' };

type Slot = { value: Value; type: SqlType } | { rec: PlRecord | null; typename: string };

const NOTICE_LEVELS: Readonly<Record<number, Notice['severity']>> = {
  17: 'INFO',
  18: 'NOTICE',
  19: 'WARNING',
};

/** Plain type names already resolved (not %TYPE, which depends on the catalog). */
const typeNames = new Map<string, SqlType>();

/** Resolves a declared type name (`int`, `numeric(10,2)`, `text[]`, `t.col%TYPE`); undefined for a record. */
function declaredType(typname: string, host: PlHost): SqlType | undefined {
  const known = typeNames.get(typname);
  if (known !== undefined) return known;
  const lower = typname.toLowerCase();
  if (lower === 'record' || lower.endsWith('%rowtype')) return undefined;
  if (lower.endsWith('%type')) {
    const ref = typname.slice(0, -5);
    const dot = ref.lastIndexOf('.');
    if (dot < 0) throw notSupported(`%TYPE of a variable (${typname})`);
    const cols = host.tableColumns(ref.slice(0, dot));
    const col = ref.slice(dot + 1).toLowerCase();
    const i = cols.names.indexOf(col);
    if (i < 0) throw new NextDbError('42703', `column "${col}" of relation "${ref.slice(0, dot)}" does not exist`);
    return cols.types[i]!;
  }
  const st = parseSql(`SELECT NULL::${typname}`)[0]?.stmt;
  const target = st !== undefined && 'SelectStmt' in st ? st.SelectStmt.targetList?.[0] : undefined;
  const val = target !== undefined && 'ResTarget' in target ? target.ResTarget.val : undefined;
  if (val === undefined || !('TypeCast' in val) || val.TypeCast.typeName === undefined)
    throw new NextDbError('42704', `type "${typname}" does not exist`);
  const type = resolveTypeName(val.TypeCast.typeName).type;
  if (typeNames.size < 1000) typeNames.set(typname, type);
  return type;
}

/** Converts a value to a variable's type: the assignment cast, else through text (PL/pgSQL's I/O conversion). */
export function convertValue(v: Value, from: SqlType, to: SqlType, io: IoSettings): Value {
  if (v === null || from.oid === to.oid) {
    if (v !== null && to.typmod >= 0 && to.typmod !== from.typmod) {
      const fn = castFunction(from, to, 'assignment');
      if (fn !== undefined) return fn(v, io);
    }
    return v;
  }
  if (from.id === 'unknown') return parseText(to, v as string, io);
  const fn = castFunction(from, to, 'assignment');
  if (fn !== undefined) return fn(v, io);
  if (to.id === 'record' || from.id === 'record') return v;
  return parseText(to, formatText(from, v, io), io);
}

export class PlInterpreter {
  private readonly slots: Slot[] = [];
  private rowCount = 0;
  private retValue: Value = null;
  private retRecord: PlRecord | null | undefined;
  private readonly retRows: Value[][] = [];
  /** The error a handler is handling (RAISE; and GET STACKED DIAGNOSTICS read it). */
  private handling: NextDbError | undefined;

  constructor(
    private readonly f: PlFunction,
    private readonly host: PlHost,
    private readonly call: PlCall,
  ) {}

  async run(): Promise<PlResult> {
    const f = this.f;
    const io = this.host.io;
    // Slots for every datum, in order; arguments get the call's values.
    const outs = outDnos(f);
    let argi = 0;
    for (let dno = 0; dno < f.datums.length; dno++) {
      const d = f.datums[dno]!;
      if (d.kind === 'rec') {
        let rec: PlRecord | null = null;
        const t = this.call.trigger;
        if (t !== undefined && dno < 2 && (d.name === 'new' || d.name === 'old'))
          rec = d.name === 'new' ? t.new : t.old;
        else if (d.typname.toLowerCase().endsWith('%rowtype')) {
          const cols = this.host.tableColumns(d.typname.slice(0, -8));
          rec = { names: cols.names, types: cols.types, values: cols.names.map(() => null) };
        }
        this.slots.push({ rec, typename: d.typname });
        continue;
      }
      if (d.kind !== 'var') {
        this.slots.push({ value: null, type: Types.record });
        continue;
      }
      const type = declaredType(d.typname, this.host) ?? Types.record;
      let value: Value = null;
      if (dno < f.datums.length && argi < f.nargs && !outs.has(dno) && d.lineno === 0 && !d.name.startsWith('tg_')) {
        const a = this.call.args[argi];
        const at = this.call.argTypes[argi];
        argi++;
        value = a === undefined || at === undefined ? null : convertValue(a, at, type, io);
      }
      this.slots.push({ value, type });
    }
    const t = this.call.trigger;
    if (t !== undefined) {
      const set = (name: string, v: Value): void => {
        const dno = f.names.get(name);
        if (dno !== undefined) (this.slots[dno] as { value: Value }).value = v;
      };
      set('tg_name', t.name);
      set('tg_when', t.when);
      set('tg_level', t.level);
      set('tg_op', t.op);
      set('tg_relid', t.relid);
      set('tg_relname', t.table);
      set('tg_table_name', t.table);
      set('tg_table_schema', t.schema);
      set('tg_nargs', t.args.length);
      set('tg_argv', { kind: 'array', elems: [...t.args] } satisfies ArrayValue);
    }
    this.setFound(false);
    // Declarations with defaults, in order (a default may read earlier variables).
    for (let dno = 0; dno < f.datums.length; dno++) {
      const d = f.datums[dno]!;
      if (d.defaultExpr !== undefined) await this.assignDno(dno, ...(await this.eval(d.defaultExpr)));
      else if (d.notnull && d.kind === 'var')
        throw new NextDbError('22004', `variable "${d.name}" must have a default value, since it's declared NOT NULL`);
    }
    const flow = await this.exec([f.action]);
    if (flow?.k !== 'return' && !this.call.retSet && this.call.trigger === undefined) {
      if (f.outDno !== undefined) this.retValue = null;
      else if (this.call.retType.id !== 'void')
        throw new NextDbError('2F005', 'control reached end of function without RETURN');
    }
    if (this.call.trigger !== undefined) {
      if (flow?.k !== 'return')
        throw new NextDbError('2F005', 'control reached end of trigger procedure without RETURN');
      return { value: null, record: this.retRecord ?? null };
    }
    if (this.call.retSet) return { value: null, rows: this.retRows };
    if (f.outDno !== undefined && this.call.outColumns !== undefined && this.call.outColumns.length > 1)
      return { value: null, rows: [this.outRow()] };
    if (f.outDno !== undefined) return { value: this.outRow()[0] ?? null };
    return { value: this.retValue };
  }

  // ------------------------------------------------------------ values

  private setFound(v: boolean): void {
    if (this.f.foundDno >= 0) this.slots[this.f.foundDno] = { value: v, type: Types.bool };
  }

  private outRow(): Value[] {
    const row = this.f.datums[this.f.outDno!]!;
    // One OUT parameter: the variable itself, not a row.
    const dnos = row.kind === 'var' ? [this.f.outDno!] : (row.fields ?? []);
    return dnos.map((dno, i) => {
      const s = this.slots[dno]!;
      const v = 'value' in s ? s.value : null;
      const want = this.call.outColumns?.[i]?.type;
      return want === undefined || !('type' in s) ? v : convertValue(v, s.type, want, this.host.io);
    });
  }

  private param(dno: number, field: string | undefined): { value: Value; type: SqlType } {
    const s = this.slots[dno]!;
    const d = this.f.datums[dno]!;
    if ('value' in s) {
      if (field !== undefined) throw new NextDbError('42703', `missing FROM-clause entry for table "${d.name}"`);
      return { value: s.value, type: s.type };
    }
    if (s.rec === null)
      throw new NextDbError('55000', `record "${d.name}" is not assigned yet`, {
        detail: 'The tuple structure of a not-yet-assigned record is indeterminate.',
      });
    if (field === undefined) throw notSupported(`a whole record variable ("${d.name}") in a SQL expression`);
    const i = s.rec.names.indexOf(field);
    if (i < 0) throw new NextDbError('42703', `record "${d.name}" has no field "${field}"`);
    return { value: s.rec.values[i] ?? null, type: s.rec.types[i]! };
  }

  /** Runs an embedded statement with the variables it reads as parameters. */
  private async query(e: PlExprNode): Promise<PlQueryResult> {
    const p = prepareSql(this.f, e);
    const params: Value[] = [];
    const types: SqlType[] = [];
    for (const r of p.refs) {
      const v = this.param(r.dno, r.field);
      params.push(v.value);
      types.push(v.type);
    }
    return this.host.query(p, p.stmt, p.text, params, types);
  }

  /** One value: the expression's single column of its single row (NULL for no row). */
  private async eval(e: PlExprNode): Promise<[Value, SqlType]> {
    const r = await this.query(e);
    if (r.cols.length !== 1)
      throw new NextDbError('42601', `query "${e.PLpgSQL_expr.query}" returned ${r.cols.length} columns`);
    if (r.rows.length > 1) throw new NextDbError('21000', `query "${e.PLpgSQL_expr.query}" returned more than one row`);
    return [r.rows[0]?.[0] ?? null, r.cols[0]!.type];
  }

  private async evalBool(e: PlExprNode): Promise<boolean> {
    const [v, t] = await this.eval(e);
    if (t.id !== 'bool' && t.id !== 'unknown' && v !== null)
      return convertValue(v, t, Types.bool, this.host.io) === true;
    return v === true || v === 't' || v === 'true';
  }

  private async evalText(e: PlExprNode): Promise<string | null> {
    const [v, t] = await this.eval(e);
    return v === null ? null : formatText(t, v, this.host.io);
  }

  private async assignDno(dno: number, v: Value, t: SqlType): Promise<void> {
    const s = this.slots[dno]!;
    const d = this.f.datums[dno]!;
    if ('value' in s) {
      if (d.notnull && v === null)
        throw new NextDbError('22004', `null value cannot be assigned to variable "${d.name}" declared NOT NULL`);
      s.value = convertValue(v, t, s.type, this.host.io);
      return;
    }
    if (v === null) {
      s.rec = null;
      return;
    }
    throw notSupported(`assigning a ${formatType(t)} value to record "${d.name}"`);
  }

  private async assignTarget(target: string, v: Value, t: SqlType): Promise<void> {
    const m = /^("?)([^".[]+)\1(?:\s*\.\s*("?)([^"[]+)\3)?\s*(?:\[(.*)\])?$/s.exec(target);
    if (m === null) throw notSupported(`assignment target ${target}`);
    const name = m[2]!.toLowerCase();
    const field = m[4]?.toLowerCase();
    const subscript = m[5];
    let dno = this.f.names.get(name);
    let fld = field;
    if (dno === undefined && field !== undefined && this.f.qualifiers.has(name)) {
      dno = this.f.names.get(field);
      fld = undefined;
    }
    if (dno === undefined) throw new NextDbError('42601', `"${target}" is not a known variable`);
    const d = this.f.datums[dno]!;
    if (d.isconst) throw new NextDbError('22005', `variable "${d.name}" is declared CONSTANT`);
    const s = this.slots[dno]!;
    if (subscript !== undefined) {
      if (!('value' in s) || fld !== undefined) throw notSupported('subscripted record fields as assignment targets');
      const [iv] = await this.evalExprText(subscript);
      if (iv === null) throw new NextDbError('22004', 'array subscript in assignment must not be null');
      const idx = Number(iv);
      const elemType = s.type.elem ?? Types.text;
      const cur = (s.value as ArrayValue | null)?.elems ?? [];
      const elems = [...cur];
      while (elems.length < idx) elems.push(null);
      if (idx < 1) throw notSupported('array subscripts below 1 in assignments');
      elems[idx - 1] = convertValue(v, t, elemType, this.host.io);
      s.value = { kind: 'array', elems } satisfies ArrayValue;
      return;
    }
    if (fld === undefined) return this.assignDno(dno, v, t);
    if ('value' in s) throw notSupported(`field assignment to scalar variable "${d.name}"`);
    if (s.rec === null) throw new NextDbError('55000', `record "${d.name}" is not assigned yet`);
    const i = s.rec.names.indexOf(fld);
    if (i < 0) throw new NextDbError('42703', `record "${d.name}" has no field "${fld}"`);
    s.rec.values[i] = convertValue(v, t, s.rec.types[i]!, this.host.io);
  }

  /** Evaluates the text of a subscript (an expression over variables). */
  private async evalExprText(text: string): Promise<[Value, SqlType]> {
    const node: PlExprNode = this.exprCache.get(text) ?? { PLpgSQL_expr: { query: text, parseMode: 2 } };
    this.exprCache.set(text, node);
    return this.eval(node);
  }
  private readonly exprCache = new Map<string, PlExprNode>();

  /** Stores a query's row into an INTO target (a row of variables or a record). */
  private async storeRow(target: PlTargetJson, cols: readonly OutputColumn[], row: Value[] | undefined): Promise<void> {
    if (target.PLpgSQL_rec !== undefined) {
      const dno = target.PLpgSQL_rec.dno ?? 0;
      const s = this.slots[dno]!;
      if ('rec' in s)
        s.rec =
          row === undefined
            ? { names: cols.map((c) => c.name), types: cols.map((c) => c.type), values: cols.map(() => null) }
            : { names: cols.map((c) => c.name), types: cols.map((c) => c.type), values: [...row] };
      return;
    }
    if (target.PLpgSQL_row !== undefined) {
      const fields = target.PLpgSQL_row.fields ?? [];
      // One record variable named in INTO: the whole row goes into it.
      if (fields.length === 1) {
        const dno = fields[0]!.varno ?? 0;
        const s = this.slots[dno]!;
        if ('rec' in s) return this.storeRow({ PLpgSQL_rec: { dno } }, cols, row);
      }
      for (let i = 0; i < fields.length; i++) {
        const dno = fields[i]!.varno ?? 0;
        const c = cols[i];
        await this.assignDno(dno, row?.[i] ?? null, c?.type ?? Types.unknown);
      }
      return;
    }
    if (target.PLpgSQL_var !== undefined) {
      const dno = this.varDno(target.PLpgSQL_var);
      await this.assignDno(dno, row?.[0] ?? null, cols[0]?.type ?? Types.unknown);
    }
  }

  private varDno(v: { refname?: string; lineno?: number }): number {
    const ds = this.f.datums;
    for (let i = ds.length - 1; i >= 0; i--) {
      const d = ds[i]!;
      if (d.name === v.refname && d.lineno === (v.lineno ?? 0)) return i;
    }
    const dno = this.f.names.get(v.refname ?? '');
    if (dno === undefined) throw new NextDbError('42601', `"${v.refname ?? ''}" is not a known variable`);
    return dno;
  }

  // ------------------------------------------------------------ statements

  private async exec(stmts: readonly PlStmt[] | undefined): Promise<Flow> {
    for (const s of stmts ?? []) {
      for (const [kind, b] of Object.entries(s)) {
        const flow = await this.stmt(kind, b);
        if (flow !== undefined) return flow;
      }
    }
    return undefined;
  }

  private async stmt(kind: string, b: PlStmtBody): Promise<Flow> {
    switch (kind) {
      case 'PLpgSQL_stmt_block':
        return this.block(b);
      case 'PLpgSQL_stmt_assign': {
        const e = b.expr!;
        const [v, t] = await this.eval(e);
        await this.assignTarget(assignmentParts(e.PLpgSQL_expr.query).target, v, t);
        return undefined;
      }
      case 'PLpgSQL_stmt_if': {
        if (await this.evalBool(b.cond!)) return this.exec(b.then_body);
        for (const e of b.elsif_list ?? [])
          if (await this.evalBool(e.PLpgSQL_if_elsif.cond)) return this.exec(e.PLpgSQL_if_elsif.stmts);
        return this.exec(b.else_body);
      }
      case 'PLpgSQL_stmt_case': {
        if (b.t_expr !== undefined) {
          const [v, t] = await this.eval(b.t_expr);
          const dno = b.t_varno ?? 0;
          this.slots[dno] = { value: v, type: t.id === 'unknown' ? Types.text : t };
        }
        for (const w of b.case_when_list ?? [])
          if (await this.evalBool(w.PLpgSQL_case_when.expr)) return this.exec(w.PLpgSQL_case_when.stmts);
        if (b.have_else === true) return this.exec(b.else_stmts);
        throw new NextDbError('20000', 'case not found', {
          hint: 'CASE statement is missing ELSE part.',
        });
      }
      case 'PLpgSQL_stmt_loop':
        for (;;) {
          const f = await this.loop(b.body, b.label);
          if (f === 'break') return undefined;
          if (f !== 'next') return f;
        }
      case 'PLpgSQL_stmt_while':
        while (await this.evalBool(b.cond!)) {
          const f = await this.loop(b.body, b.label);
          if (f === 'break') return undefined;
          if (f !== 'next') return f;
        }
        return undefined;
      case 'PLpgSQL_stmt_fori':
        return this.forInteger(b);
      case 'PLpgSQL_stmt_fors': {
        const r = await this.query(b.query!);
        return this.forRows(b, r.cols, r.rows);
      }
      case 'PLpgSQL_stmt_dynfors': {
        const r = await this.dynamic(b.query!, b.params);
        return this.forRows(b, r.cols, r.rows);
      }
      case 'PLpgSQL_stmt_foreach_a': {
        const [v] = await this.eval(b.expr!);
        if (v === null) throw new NextDbError('22004', 'FOREACH expression must not be null');
        const arr = v as ArrayValue;
        if (arr.kind !== 'array')
          throw new NextDbError('42804', 'FOREACH expression must yield an array, not a scalar');
        const [, at] = await this.eval(b.expr!);
        let found = false;
        for (const el of arr.elems) {
          found = true;
          await this.assignDno(b.varno ?? 0, el, at.elem ?? Types.text);
          const f = await this.loop(b.body, b.label);
          if (f === 'break') break;
          if (f !== 'next') return f;
        }
        this.setFound(found);
        return undefined;
      }
      case 'PLpgSQL_stmt_exit': {
        if (b.cond !== undefined && !(await this.evalBool(b.cond))) return undefined;
        return b.is_exit === true ? { k: 'exit', label: b.label } : { k: 'continue', label: b.label };
      }
      case 'PLpgSQL_stmt_return':
        return this.doReturn(b);
      case 'PLpgSQL_stmt_return_next': {
        if (!this.call.retSet) throw new NextDbError('42804', 'cannot use RETURN NEXT in a non-SETOF function');
        if (b.expr !== undefined) {
          const r = await this.query(b.expr);
          const row = r.rows[0] ?? r.cols.map(() => null);
          this.retRows.push(this.shapeRow(row, r.cols));
        } else if (b.retvarno !== undefined) {
          const s = this.slots[b.retvarno]!;
          if (b.retvarno === this.f.outDno) this.retRows.push(this.outRow());
          else if ('value' in s) this.retRows.push(this.shapeRow([s.value], [{ type: s.type }]));
          else if (s.rec !== null)
            this.retRows.push(
              this.shapeRow(
                s.rec.values,
                s.rec.types.map((type) => ({ type })),
              ),
            );
        } else if (this.f.outDno !== undefined) this.retRows.push(this.outRow());
        return undefined;
      }
      case 'PLpgSQL_stmt_return_query': {
        const r = b.query !== undefined ? await this.query(b.query) : await this.dynamic(b.dynquery!, b.params);
        for (const row of r.rows) this.retRows.push(this.shapeRow(row, r.cols));
        this.rowCount = r.rows.length;
        this.setFound(r.rows.length > 0);
        return undefined;
      }
      case 'PLpgSQL_stmt_raise':
        await this.raise(b);
        return undefined;
      case 'PLpgSQL_stmt_assert': {
        if (await this.evalBool(b.cond!)) return undefined;
        const msg = b.message !== undefined && typeof b.message === 'object' ? await this.evalText(b.message) : null;
        throw new NextDbError('P0004', msg ?? 'assertion failed');
      }
      case 'PLpgSQL_stmt_execsql': {
        const r = await this.query(b.sqlstmt!);
        await this.afterQuery(b, r);
        return undefined;
      }
      case 'PLpgSQL_stmt_dynexecute': {
        const r = await this.dynamic(b.query!, b.params);
        await this.afterQuery(b, r);
        return undefined;
      }
      case 'PLpgSQL_stmt_perform': {
        const r = await this.query(b.expr!);
        this.rowCount = r.rows.length;
        this.setFound(r.rows.length > 0);
        return undefined;
      }
      case 'PLpgSQL_stmt_getdiag': {
        for (const item of b.diag_items ?? []) {
          const k = item.PLpgSQL_diag_item.kind ?? '';
          const dno = item.PLpgSQL_diag_item.target ?? 0;
          const err = this.handling;
          if (b.is_stacked === true && err === undefined)
            throw new NextDbError('0Z002', 'GET STACKED DIAGNOSTICS cannot be used outside an exception handler');
          let v: Value;
          let t: SqlType = Types.text;
          switch (k) {
            case 'ROW_COUNT':
              v = BigInt(this.rowCount);
              t = Types.int8;
              break;
            case 'RETURNED_SQLSTATE':
              v = err?.code ?? null;
              break;
            case 'MESSAGE_TEXT':
              v = err?.message ?? null;
              break;
            case 'PG_EXCEPTION_DETAIL':
              v = err?.detail ?? '';
              break;
            case 'PG_EXCEPTION_HINT':
              v = err?.hint ?? '';
              break;
            default:
              v = `PL/pgSQL function ${this.f.name}`;
          }
          await this.assignDno(dno, v, t);
        }
        return undefined;
      }
      default:
        throw notSupported(`PL/pgSQL statement ${kind.replace('PLpgSQL_stmt_', '')}`);
    }
  }

  /** A loop body's flow: 'next' iteration, 'break' out of this loop, or a flow for an outer construct. */
  private async loop(body: readonly PlStmt[] | undefined, label: string | undefined): Promise<'next' | 'break' | Flow> {
    const y = this.host.tick();
    if (y !== undefined) await y;
    return this.loopFlow(await this.exec(body), label);
  }

  private loopFlow(f: Flow, label: string | undefined): 'next' | 'break' | Flow {
    if (f === undefined) return 'next';
    if (f.k === 'exit' && (f.label === undefined || f.label === label)) return 'break';
    if (f.k === 'continue' && (f.label === undefined || f.label === label)) return 'next';
    return f;
  }

  private async block(b: PlStmtBody): Promise<Flow> {
    const handlers = b.exceptions?.PLpgSQL_exception_block.exc_list;
    if (handlers === undefined) return this.exitBlock(await this.exec(b.body), b.label);
    const sp = this.host.savepoint();
    try {
      const f = await this.exec(b.body);
      this.host.release(sp);
      return this.exitBlock(f, b.label);
    } catch (e) {
      if (!(e instanceof NextDbError)) throw e;
      await this.host.rollbackTo(sp);
      for (const h of handlers) {
        const conds = h.PLpgSQL_exception.conditions ?? [];
        if (!conds.some((c) => conditionMatches(c.PLpgSQL_condition.condname ?? '', e.code))) continue;
        const prev = this.handling;
        this.handling = e;
        const state = this.f.names.get('sqlstate');
        const errm = this.f.names.get('sqlerrm');
        if (state !== undefined) this.slots[state] = { value: e.code, type: Types.text };
        if (errm !== undefined) this.slots[errm] = { value: e.message, type: Types.text };
        try {
          return this.exitBlock(await this.exec(h.PLpgSQL_exception.action), b.label);
        } finally {
          this.handling = prev;
        }
      }
      throw e;
    }
  }

  private exitBlock(f: Flow, label: string | undefined): Flow {
    if (f?.k === 'exit' && f.label !== undefined && f.label === label) return undefined;
    return f;
  }

  private async forInteger(b: PlStmtBody): Promise<Flow> {
    const [lo, lt] = await this.eval(b.lower!);
    const [hi, ht] = await this.eval(b.upper!);
    const st = b.step === undefined ? undefined : await this.eval(b.step);
    const io = this.host.io;
    if (lo === null) throw new NextDbError('22004', 'lower bound of FOR loop cannot be null');
    if (hi === null) throw new NextDbError('22004', 'upper bound of FOR loop cannot be null');
    const from = Number(convertValue(lo, lt, Types.int4, io));
    const to = Number(convertValue(hi, ht, Types.int4, io));
    let step = 1;
    if (st !== undefined) {
      if (st[0] === null) throw new NextDbError('22004', 'BY value of FOR loop cannot be null');
      step = Number(convertValue(st[0], st[1], Types.int4, io));
      if (step <= 0) throw new NextDbError('22023', 'BY value of FOR loop must be greater than zero');
    }
    const dno = this.varDno(b.var!.PLpgSQL_var!);
    const reverse = b.reverse === true;
    let found = false;
    for (let i = from; reverse ? i >= to : i <= to; i += reverse ? -step : step) {
      found = true;
      this.slots[dno] = { value: i, type: Types.int4 };
      const f = await this.loop(b.body, b.label);
      if (f === 'break') break;
      if (f !== 'next') {
        this.setFound(true);
        return f;
      }
    }
    this.setFound(found);
    return undefined;
  }

  private async forRows(b: PlStmtBody, cols: readonly OutputColumn[], rows: Value[][]): Promise<Flow> {
    let found = false;
    for (const row of rows) {
      found = true;
      await this.storeRow(b.var!, cols, row);
      const f = await this.loop(b.body, b.label);
      if (f === 'break') break;
      if (f !== 'next') {
        this.setFound(true);
        return f;
      }
    }
    this.setFound(found);
    return undefined;
  }

  /** EXECUTE text [USING ...]: parsed and bound each time (no variables of the function are visible). */
  private async dynamic(query: PlExprNode, using: readonly PlExprNode[] | undefined): Promise<PlQueryResult> {
    const text = await this.evalText(query);
    if (text === null) throw new NextDbError('22004', 'query string argument of EXECUTE is null');
    const params: Value[] = [];
    const types: SqlType[] = [];
    for (const u of using ?? []) {
      const [v, t] = await this.eval(u);
      params.push(v);
      types.push(t.id === 'unknown' ? Types.text : t);
    }
    const stmts = parseSql(text);
    if (stmts.length !== 1)
      throw new NextDbError(
        '42601',
        stmts.length === 0 ? 'cannot EXECUTE an empty query' : 'cannot EXECUTE more than one statement',
      );
    return this.host.query(text, stmts[0]!.stmt, text, params, types);
  }

  private async afterQuery(b: PlStmtBody, r: PlQueryResult): Promise<void> {
    const n = r.changed >= 0 ? r.changed : r.rows.length;
    this.rowCount = n;
    if (b.into === true && b.target !== undefined) {
      if (b.strict === true) {
        if (r.rows.length === 0) throw new NextDbError('P0002', 'query returned no rows');
        if (r.rows.length > 1)
          throw new NextDbError('P0003', 'query returned more than one row', {
            hint: 'Make sure the query returns a single row, or use LIMIT 1.',
          });
      }
      await this.storeRow(b.target, r.cols, r.rows[0]);
      this.setFound(r.rows.length > 0);
      return;
    }
    if (r.changed < 0 && r.cols.length > 0 && b.into !== true && b.sqlstmt !== undefined)
      throw new NextDbError('42601', 'query has no destination for result data', {
        hint: 'If you want to discard the results of a SELECT, use PERFORM instead.',
      });
    this.setFound(n > 0);
  }

  /** A returned row in the declared result's types. */
  private shapeRow(row: readonly Value[], cols: readonly { type: SqlType }[]): Value[] {
    const want = this.call.outColumns?.map((c) => c.type) ?? [this.call.retType];
    if (row.length !== want.length)
      throw new NextDbError('42804', 'structure of query does not match function result type', {
        detail: `Number of returned columns (${row.length}) does not match expected column count (${want.length}).`,
      });
    return row.map((v, i) => convertValue(v, cols[i]!.type, want[i]!, this.host.io));
  }

  private async doReturn(b: PlStmtBody): Promise<Flow> {
    // The plpgsql parser ends every body with an implicit RETURN (no line number): falling off the end.
    if (b.lineno === undefined && b.expr === undefined && b.retvarno === undefined) return undefined;
    if (this.call.trigger !== undefined) {
      if (b.retvarno !== undefined) {
        const s = this.slots[b.retvarno]!;
        this.retRecord = 'rec' in s ? s.rec : null;
      } else if (b.expr !== undefined) {
        const [v] = await this.eval(b.expr);
        if (v !== null) throw notSupported('a trigger returning something other than NEW, OLD or NULL');
        this.retRecord = null;
      } else this.retRecord = null;
      return { k: 'return' };
    }
    if (this.call.retSet || this.f.outDno !== undefined) return { k: 'return' };
    if (b.retvarno !== undefined) {
      const s = this.slots[b.retvarno]!;
      if (!('value' in s)) throw notSupported('returning a record from a scalar function');
      this.retValue = convertValue(s.value, s.type, this.call.retType, this.host.io);
    } else if (b.expr !== undefined) {
      const [v, t] = await this.eval(b.expr);
      if (this.call.retType.id === 'void') this.retValue = null;
      else this.retValue = convertValue(v, t, this.call.retType, this.host.io);
    }
    return { k: 'return' };
  }

  private async raise(b: PlStmtBody): Promise<void> {
    const level = b.elog_level ?? 21;
    if (b.condname === undefined && b.message === undefined && (b.options ?? []).length === 0) {
      if (this.handling === undefined)
        throw new NextDbError('0Z002', 'RAISE without parameters cannot be used outside an exception handler');
      throw this.handling;
    }
    let code = b.condname !== undefined ? conditionCode(b.condname) : undefined;
    if (b.condname !== undefined && code === undefined)
      throw new NextDbError('42704', `unrecognized exception condition "${b.condname}"`);
    let message: string | undefined;
    if (typeof b.message === 'string') {
      const params = b.params ?? [];
      const vals: string[] = [];
      for (const p of params) vals.push((await this.evalText(p)) ?? '<NULL>');
      let k = 0;
      message = b.message.replace(/%%|%/g, (m) => (m === '%%' ? '%' : (vals[k++] ?? '%')));
      if (k < vals.length) throw new NextDbError('42601', 'too many parameters specified for RAISE');
    }
    let detail: string | undefined;
    let hint: string | undefined;
    for (const o of b.options ?? []) {
      const opt = o.PLpgSQL_raise_option;
      const v = await this.evalText(opt.expr);
      if (v === null) throw new NextDbError('22004', 'RAISE statement option cannot be null');
      switch (opt.opt_type ?? 0) {
        case 0: {
          code = conditionCode(v);
          if (code === undefined) throw new NextDbError('42704', `unrecognized exception condition "${v}"`);
          break;
        }
        case 1:
          message = v;
          break;
        case 2:
          detail = v;
          break;
        case 3:
          hint = v;
          break;
        default:
          break;
      }
    }
    const fields = { ...(detail === undefined ? {} : { detail }), ...(hint === undefined ? {} : { hint }) };
    if (level >= 21) {
      const c = code ?? 'P0001';
      throw new NextDbError(c, message ?? b.condname ?? c, fields);
    }
    const severity = NOTICE_LEVELS[level];
    if (severity === undefined) return; // DEBUG and LOG: below client_min_messages (notice)
    this.host.notice({ severity, code: code ?? (level === 19 ? '01000' : '00000'), message: message ?? '', ...fields });
  }
}

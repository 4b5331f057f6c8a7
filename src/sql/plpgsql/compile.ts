/**
 * PL/pgSQL compilation: PostgreSQL's own PL/pgSQL parser (libpg_query's
 * plpgsql compiler, `parsePlPgSQLSync`) turns a function or DO body into
 * its statement tree and variable table ("datums"); this file checks that
 * every statement is one the interpreter runs (0A000 naming the construct
 * otherwise, at CREATE time) and prepares each embedded SQL expression
 * once: parsed with the SQL parser, its references to PL/pgSQL variables
 * (`x`, `rec.field`, `$1`, `label.x`) replaced by parameters $1..$n, so the
 * statement is bound and planned by the ordinary SQL engine with the
 * variables' values as parameters (see interpreter.ts).
 *
 * The JSON from libpg_query leaves out fields whose value is 0 (a datum
 * number 0, `recparentno` 0), so absent numbers read as 0 here.
 */

import { parsePlPgSQLSync } from 'libpg-query';
import type { Node } from '@pgsql/types';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { parseSql } from '../parser.ts';
import type { FunctionDef } from '../catalog/catalog.ts';
import { formatType } from '../types/sql-type.ts';

/** One PL/pgSQL expression or SQL statement as the plpgsql parser gives it. */
export interface PlExprJson {
  readonly query: string;
  /** 0 a statement, 2 an expression, 3/4 an assignment `target := expr`. */
  readonly parseMode?: number;
}
export interface PlExprNode {
  readonly PLpgSQL_expr: PlExprJson;
}

export interface PlTargetJson {
  readonly PLpgSQL_row?: { readonly refname?: string; readonly fields?: readonly { name: string; varno?: number }[] };
  readonly PLpgSQL_rec?: { readonly refname?: string; readonly dno?: number };
  readonly PLpgSQL_var?: { readonly refname?: string; readonly lineno?: number };
}

/** The fields of every statement kind the interpreter reads (each kind uses some). */
export interface PlStmtBody {
  readonly lineno?: number;
  readonly label?: string;
  readonly body?: readonly PlStmt[];
  readonly cond?: PlExprNode;
  readonly then_body?: readonly PlStmt[];
  readonly elsif_list?: readonly {
    readonly PLpgSQL_if_elsif: { readonly cond: PlExprNode; readonly stmts?: readonly PlStmt[] };
  }[];
  readonly else_body?: readonly PlStmt[];
  readonly t_expr?: PlExprNode;
  readonly t_varno?: number;
  readonly case_when_list?: readonly {
    readonly PLpgSQL_case_when: { readonly expr: PlExprNode; readonly stmts?: readonly PlStmt[] };
  }[];
  readonly have_else?: boolean;
  readonly else_stmts?: readonly PlStmt[];
  readonly var?: PlTargetJson;
  readonly lower?: PlExprNode;
  readonly upper?: PlExprNode;
  readonly step?: PlExprNode;
  readonly reverse?: boolean;
  readonly query?: PlExprNode;
  readonly params?: readonly PlExprNode[];
  readonly is_exit?: boolean;
  readonly expr?: PlExprNode;
  readonly retvarno?: number;
  readonly varno?: number;
  readonly slice?: number;
  readonly elog_level?: number;
  readonly condname?: string;
  readonly message?: string | PlExprNode;
  readonly options?: readonly {
    readonly PLpgSQL_raise_option: { readonly opt_type?: number; readonly expr: PlExprNode };
  }[];
  readonly sqlstmt?: PlExprNode;
  readonly into?: boolean;
  readonly strict?: boolean;
  readonly target?: PlTargetJson;
  readonly is_stacked?: boolean;
  readonly diag_items?: readonly { readonly PLpgSQL_diag_item: { readonly kind?: string; readonly target?: number } }[];
  readonly exceptions?: {
    readonly PLpgSQL_exception_block: {
      readonly exc_list?: readonly {
        readonly PLpgSQL_exception: {
          readonly conditions?: readonly { readonly PLpgSQL_condition: { readonly condname?: string } }[];
          readonly action?: readonly PlStmt[];
        };
      }[];
    };
  };
  readonly dynquery?: PlExprNode;
}
export type PlStmt = Readonly<Record<string, PlStmtBody>>;

/** A variable: a scalar (`var`), a record (`rec`: NEW, OLD, `r record`, `r t%ROWTYPE`), or a row of variables (INTO targets, OUT parameters). */
export interface PlDatum {
  readonly kind: 'var' | 'rec' | 'row' | 'recfield';
  readonly name: string;
  readonly typname: string;
  readonly lineno: number;
  readonly isconst: boolean;
  readonly notnull: boolean;
  readonly defaultExpr?: PlExprNode;
  /** A row: its member variables. */
  readonly fields?: readonly number[];
}

/** A variable reference in an embedded SQL statement: parameter $k+1 reads refs[k]. */
export interface PlRef {
  readonly dno: number;
  readonly field?: string;
}

/** An embedded SQL statement, prepared once (the interpreter caches its plan by this object). */
export interface PlSql {
  readonly text: string;
  readonly stmt: Node;
  readonly refs: readonly PlRef[];
}

export interface PlFunction {
  readonly name: string;
  readonly datums: readonly PlDatum[];
  readonly action: PlStmt;
  /** The datum of FOUND. */
  readonly foundDno: number;
  /** OUT parameters / RETURNS TABLE: the row datum a bare RETURN (NEXT) returns. */
  readonly outDno: number | undefined;
  readonly nargs: number;
  /** Names to datums (the innermost declaration of a name wins: blocks are not scoped separately). */
  readonly names: ReadonlyMap<string, number>;
  /** Block labels and the function's name: qualifiers allowed in `label.var`. */
  readonly qualifiers: ReadonlySet<string>;
  /** Prepared SQL by expression node. */
  readonly sql: WeakMap<PlExprNode, PlSql>;
}

interface FunctionJson {
  readonly datums?: readonly Record<
    string,
    {
      refname?: string;
      lineno?: number;
      datatype?: { PLpgSQL_type?: { typname?: string } };
      isconst?: boolean;
      notnull?: boolean;
      default_val?: PlExprNode;
      fields?: readonly { name: string; varno?: number }[];
    }
  >[];
  readonly action?: PlStmt;
  readonly out_param_varno?: number;
}

/** Statement kinds the interpreter runs; every other one is 0A000 at compile time. */
const SUPPORTED: Readonly<Record<string, true>> = {
  PLpgSQL_stmt_block: true,
  PLpgSQL_stmt_assign: true,
  PLpgSQL_stmt_if: true,
  PLpgSQL_stmt_case: true,
  PLpgSQL_stmt_loop: true,
  PLpgSQL_stmt_while: true,
  PLpgSQL_stmt_fori: true,
  PLpgSQL_stmt_fors: true,
  PLpgSQL_stmt_dynfors: true,
  PLpgSQL_stmt_foreach_a: true,
  PLpgSQL_stmt_exit: true,
  PLpgSQL_stmt_return: true,
  PLpgSQL_stmt_return_next: true,
  PLpgSQL_stmt_return_query: true,
  PLpgSQL_stmt_raise: true,
  PLpgSQL_stmt_assert: true,
  PLpgSQL_stmt_execsql: true,
  PLpgSQL_stmt_dynexecute: true,
  PLpgSQL_stmt_perform: true,
  PLpgSQL_stmt_getdiag: true,
};

const UNSUPPORTED_NAMES: Readonly<Record<string, string>> = {
  PLpgSQL_stmt_open: 'cursors (OPEN)',
  PLpgSQL_stmt_fetch: 'cursors (FETCH/MOVE)',
  PLpgSQL_stmt_close: 'cursors (CLOSE)',
  PLpgSQL_stmt_forc: 'FOR over a cursor',
  PLpgSQL_stmt_call: 'CALL in PL/pgSQL',
  PLpgSQL_stmt_commit: 'COMMIT in PL/pgSQL',
  PLpgSQL_stmt_rollback: 'ROLLBACK in PL/pgSQL',
};

/** The SQL text an expression runs as: statements as they are, expressions and assignment sources as SELECT. */
export function sqlTextOf(e: PlExprJson): string {
  const mode = e.parseMode ?? 0;
  if (mode === 0) return e.query;
  if (mode === 3 || mode === 4) return `SELECT ${assignmentParts(e.query).source}`;
  return `SELECT ${e.query}`;
}

/** `target := source` (or `target = source`): the two sides of an assignment's text. */
export function assignmentParts(query: string): { target: string; source: string } {
  // The target is a name, name.field or name[subscript]: the first ':=' or '=' outside brackets and quotes.
  let depth = 0;
  let quote = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (c === '"') quote = !quote;
    if (quote) continue;
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (depth === 0 && c === ':' && query[i + 1] === '=')
      return { target: query.slice(0, i).trim(), source: query.slice(i + 2).trim() };
    else if (depth === 0 && c === '=') return { target: query.slice(0, i).trim(), source: query.slice(i + 1).trim() };
  }
  throw new NextDbError(SqlState.syntaxError, `syntax error in assignment "${query}"`);
}

/** The plpgsql parser's error as PostgreSQL's: a syntax error with its message. */
function plError(e: unknown): NextDbError {
  if (e instanceof NextDbError) return e;
  const message = e instanceof Error ? e.message : String(e);
  // The plpgsql compiler's errors are syntax errors but for a few (PostgreSQL's codes).
  const code = /is declared CONSTANT$/.test(message) ? '22005' : SqlState.syntaxError;
  return new NextDbError(code, message, { cause: e });
}

/** Quotes a body as a SQL string literal (standard_conforming_strings). */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Compiles a PL/pgSQL function from a CREATE FUNCTION text (the header gives
 * argument names, OUT parameters and the result, which decide the implicit
 * variables) or a DO block's text.
 */
export function compilePlpgsql(name: string, source: string): PlFunction {
  let parsed: { plpgsql_funcs?: readonly { PLpgSQL_function?: FunctionJson }[] };
  try {
    parsed = parsePlPgSQLSync(source) as typeof parsed;
  } catch (e) {
    throw plError(e);
  }
  const fn = parsed.plpgsql_funcs?.[0]?.PLpgSQL_function;
  if (fn?.action === undefined) throw new NextDbError(SqlState.syntaxError, 'empty PL/pgSQL body');
  const datums: PlDatum[] = [];
  const names = new Map<string, number>();
  let nargs = 0;
  let argsDone = false;
  for (const d of fn.datums ?? []) {
    const kind = Object.keys(d)[0] ?? '';
    const v = d[kind]!;
    const k =
      kind === 'PLpgSQL_var'
        ? 'var'
        : kind === 'PLpgSQL_rec'
          ? 'rec'
          : kind === 'PLpgSQL_row'
            ? 'row'
            : kind === 'PLpgSQL_recfield'
              ? 'recfield'
              : undefined;
    if (k === undefined) throw notSupported(`PL/pgSQL variable kind ${kind}`);
    // `r t%ROWTYPE` comes as a scalar variable of type "t%rowtype": a record with the table's columns.
    const rowtype = k === 'var' && (v.datatype?.PLpgSQL_type?.typname ?? '').toLowerCase().endsWith('%rowtype');
    const datum: PlDatum = {
      kind: rowtype ? 'rec' : k,
      name: v.refname ?? '',
      typname: v.datatype?.PLpgSQL_type?.typname ?? (k === 'rec' ? 'record' : ''),
      lineno: v.lineno ?? 0,
      isconst: v.isconst === true,
      notnull: v.notnull === true,
      ...(v.default_val === undefined ? {} : { defaultExpr: v.default_val }),
      ...(v.fields === undefined ? {} : { fields: v.fields.map((f) => f.varno ?? 0) }),
    };
    // Arguments come first and have no line number; the implicit FOUND ends them.
    if (!argsDone && (datum.name === 'found' || datum.lineno !== 0 || k === 'row' || k === 'rec')) argsDone = true;
    if (!argsDone && k === 'var' && !datum.name.startsWith('tg_')) nargs++;
    datums.push(datum);
    if ((k === 'var' || k === 'rec') && datum.name !== '') names.set(datum.name, datums.length - 1);
  }
  const foundDno = names.get('found') ?? -1;
  const qualifiers = new Set<string>([name.toLowerCase()]);
  const f: PlFunction = {
    name,
    datums,
    action: fn.action,
    foundDno,
    outDno: fn.out_param_varno,
    nargs,
    names,
    qualifiers,
    sql: new WeakMap(),
  };
  // Arguments of OUT parameters are not inputs: the row of OUT variables lists them.
  if (fn.out_param_varno !== undefined) {
    const outs = outDnos(f);
    (f as { nargs: number }).nargs = [...Array(nargs).keys()].filter((i) => !outs.has(i)).length;
  }
  collectLabels(fn.action, qualifiers);
  for (const d of datums) if (d.defaultExpr !== undefined) prepareSql(f, d.defaultExpr);
  validate(f, [fn.action]);
  return f;
}

function collectLabels(s: PlStmt, out: Set<string>): void {
  for (const body of Object.values(s)) {
    if (body.label !== undefined) out.add(body.label.toLowerCase());
    for (const list of stmtLists(body)) for (const c of list) collectLabels(c, out);
  }
}

function stmtLists(b: PlStmtBody): (readonly PlStmt[])[] {
  const out: (readonly PlStmt[])[] = [];
  if (b.body !== undefined) out.push(b.body);
  if (b.then_body !== undefined) out.push(b.then_body);
  if (b.else_body !== undefined) out.push(b.else_body);
  if (b.else_stmts !== undefined) out.push(b.else_stmts);
  for (const e of b.elsif_list ?? []) if (e.PLpgSQL_if_elsif.stmts !== undefined) out.push(e.PLpgSQL_if_elsif.stmts);
  for (const w of b.case_when_list ?? [])
    if (w.PLpgSQL_case_when.stmts !== undefined) out.push(w.PLpgSQL_case_when.stmts);
  for (const x of b.exceptions?.PLpgSQL_exception_block.exc_list ?? [])
    if (x.PLpgSQL_exception.action !== undefined) out.push(x.PLpgSQL_exception.action);
  return out;
}

/** Every statement supported, every embedded SQL statement parses (syntax errors at CREATE, as in PostgreSQL). */
function validate(f: PlFunction, stmts: readonly PlStmt[]): void {
  for (const s of stmts) {
    for (const [kind, b] of Object.entries(s)) {
      if (SUPPORTED[kind] !== true)
        throw notSupported(`PL/pgSQL statement ${UNSUPPORTED_NAMES[kind] ?? kind.replace('PLpgSQL_stmt_', '')}`);
      if (kind === 'PLpgSQL_stmt_foreach_a' && (b.slice ?? 0) !== 0) throw notSupported('FOREACH ... SLICE');
      if (kind === 'PLpgSQL_stmt_getdiag')
        for (const d of b.diag_items ?? []) {
          const k = d.PLpgSQL_diag_item.kind ?? '';
          if (!DIAG_ITEMS.has(k)) throw notSupported(`GET DIAGNOSTICS ${k}`);
        }
      const exprs: (PlExprNode | undefined)[] = [
        b.cond,
        b.t_expr,
        b.lower,
        b.upper,
        b.step,
        b.expr,
        b.sqlstmt,
        kind === 'PLpgSQL_stmt_dynfors' || kind === 'PLpgSQL_stmt_dynexecute' ? undefined : b.query,
        b.dynquery,
        typeof b.message === 'object' ? b.message : undefined,
        ...(b.params ?? []),
        ...(b.options ?? []).map((o) => o.PLpgSQL_raise_option.expr),
        ...(b.elsif_list ?? []).map((e) => e.PLpgSQL_if_elsif.cond),
        ...(b.case_when_list ?? []).map((w) => w.PLpgSQL_case_when.expr),
      ];
      if (kind === 'PLpgSQL_stmt_dynfors' || kind === 'PLpgSQL_stmt_dynexecute') exprs.push(b.query);
      for (const e of exprs) if (e !== undefined) prepareSql(f, e);
      for (const list of stmtLists(b)) validate(f, list);
    }
  }
}

export const DIAG_ITEMS = new Set([
  'ROW_COUNT',
  'RETURNED_SQLSTATE',
  'MESSAGE_TEXT',
  'PG_EXCEPTION_DETAIL',
  'PG_EXCEPTION_HINT',
  'PG_EXCEPTION_CONTEXT',
  'PG_CONTEXT',
]);

/** The prepared SQL of an expression (parsed and its variables made parameters once per function). */
export function prepareSql(f: PlFunction, e: PlExprNode): PlSql {
  let p = f.sql.get(e);
  if (p !== undefined) return p;
  const text = sqlTextOf(e.PLpgSQL_expr);
  const stmts = parseSql(text);
  if (stmts.length !== 1)
    throw new NextDbError(SqlState.syntaxError, `query "${e.PLpgSQL_expr.query}" is not one statement`);
  const refs: PlRef[] = [];
  const stmt = substitute(f, stmts[0]!.stmt, refs) as Node;
  p = { text, stmt, refs };
  f.sql.set(e, p);
  return p;
}

function paramFor(refs: PlRef[], ref: PlRef, location: unknown): unknown {
  let k = refs.findIndex((r) => r.dno === ref.dno && r.field === ref.field);
  if (k < 0) {
    refs.push(ref);
    k = refs.length - 1;
  }
  return { ParamRef: { number: k + 1, ...(typeof location === 'number' ? { location } : {}) } };
}

/** Replaces variable references by parameters (a copy of the parse tree). */
function substitute(f: PlFunction, n: unknown, refs: PlRef[], argvDone = false): unknown {
  if (Array.isArray(n)) return n.map((x) => substitute(f, x, refs));
  if (n === null || typeof n !== 'object') return n;
  const o = n as Record<string, unknown>;
  if ('A_Indirection' in o && !argvDone) {
    // TG_ARGV counts from 0 (PostgreSQL gives it lower bound 0); NextDB arrays start at 1.
    const ind = o.A_Indirection as { arg?: Record<string, unknown>; indirection?: Record<string, unknown>[] };
    const arg = ind.arg?.ColumnRef as { fields?: { String?: { sval?: string } }[] } | undefined;
    if (arg?.fields?.length === 1 && arg.fields[0]?.String?.sval === 'tg_argv' && f.names.has('tg_argv')) {
      const indirection = (ind.indirection ?? []).map((x) => {
        const ix = x.A_Indices as { is_slice?: boolean; uidx?: unknown } | undefined;
        if (ix === undefined || ix.is_slice === true || ix.uidx === undefined) return x;
        const plusOne = {
          A_Expr: {
            kind: 'AEXPR_OP',
            name: [{ String: { sval: '+' } }],
            lexpr: ix.uidx,
            rexpr: { A_Const: { ival: { ival: 1 } } },
          },
        };
        return { A_Indices: { ...ix, uidx: plusOne } };
      });
      return substitute(f, { A_Indirection: { ...ind, indirection } }, refs, true);
    }
  }
  if ('ColumnRef' in o) {
    const cr = o.ColumnRef as { fields?: Record<string, { sval?: string }>[]; location?: number };
    const parts = (cr.fields ?? []).map((x) => ('String' in x ? (x.String!.sval ?? '') : undefined));
    if (parts.every((p) => p !== undefined)) {
      const names = parts as string[];
      const first = f.names.get(names[0]!);
      if (names.length === 1 && first !== undefined) return paramFor(refs, { dno: first }, cr.location);
      if (names.length === 2 && first !== undefined && f.datums[first]!.kind === 'rec')
        return paramFor(refs, { dno: first, field: names[1]! }, cr.location);
      if (names.length >= 2 && first === undefined && f.qualifiers.has(names[0]!)) {
        const second = f.names.get(names[1]!);
        if (second !== undefined) {
          if (names.length === 2) return paramFor(refs, { dno: second }, cr.location);
          if (names.length === 3 && f.datums[second]!.kind === 'rec')
            return paramFor(refs, { dno: second, field: names[2]! }, cr.location);
        }
      }
    }
    return n;
  }
  if ('ParamRef' in o) {
    const pr = o.ParamRef as { number?: number; location?: number };
    const k = (pr.number ?? 0) - 1;
    if (k >= 0 && k < f.nargs) return paramFor(refs, { dno: argDno(f, k) }, pr.location);
    return n;
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(o)) out[key] = substitute(f, v, refs);
  return out;
}

/** The datums of the OUT parameters (one OUT parameter is its variable, several a row of them). */
export function outDnos(f: Pick<PlFunction, 'outDno' | 'datums'>): Set<number> {
  if (f.outDno === undefined) return new Set();
  const d = f.datums[f.outDno];
  return new Set(d?.kind === 'row' ? (d.fields ?? []) : [f.outDno]);
}

/** The datum of input argument k (OUT parameters interleave with the inputs in the datum list). */
export function argDno(f: PlFunction, k: number): number {
  const outs = outDnos(f);
  let seen = 0;
  for (let i = 0; i < f.datums.length; i++) {
    if (outs.has(i)) continue;
    if (seen === k) return i;
    seen++;
  }
  return -1;
}

/** The CREATE FUNCTION text the plpgsql parser compiles (the header decides the implicit variables). */
export function plSource(
  f: Pick<FunctionDef, 'name' | 'argNames' | 'argTypes' | 'retType' | 'retSet' | 'outColumns' | 'body'> & {
    readonly outParams?: boolean;
    readonly returnsTrigger?: boolean;
  },
): string {
  const q = (n: string): string => `"${n.replace(/"/g, '""')}"`;
  const args = f.argTypes.map((t, i) => {
    const n = f.argNames[i];
    return `${n !== undefined && n !== '' ? `${q(n)} ` : ''}${formatType(t)}`;
  });
  let ret: string;
  if (f.returnsTrigger === true) ret = 'RETURNS trigger';
  else if (f.outColumns !== undefined && f.outParams === true) {
    for (const c of f.outColumns) args.push(`OUT ${q(c.name)} ${formatType(c.type)}`);
    ret = f.retSet ? 'RETURNS SETOF record' : '';
  } else if (f.outColumns !== undefined)
    ret = `RETURNS TABLE(${f.outColumns.map((c) => `${q(c.name)} ${formatType(c.type)}`).join(', ')})`;
  else ret = `RETURNS ${f.retSet ? 'SETOF ' : ''}${formatType(f.retType)}`;
  return `CREATE FUNCTION ${q(f.name)}(${args.join(', ')}) ${ret} LANGUAGE plpgsql AS ${quoteLiteral(f.body)}`;
}

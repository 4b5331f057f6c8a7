/**
 * The binder: turns pgsql-parser's AST into typed, immutable plan nodes
 * (plan.ts), resolving names against the catalog and types with
 * PostgreSQL's rules.
 *
 * The SQL path, step by step, for one SELECT:
 *   1. WITH: bind each CTE (recursive ones as working-table loops).
 *   2. FROM: one plan per item (table, view, subquery, function, join),
 *      cross-joined; each item adds a relation to the scope.
 *   3. WHERE: a filter over the FROM plan.
 *   4. Aggregation when the query has GROUP BY, HAVING or aggregate calls:
 *      aggregate calls become column references to the Aggregate node's
 *      outputs; expressions equal to a GROUP BY expression become references
 *      to the group key; any other column reference is 42803.
 *   5. HAVING, then window functions (a Window node adds their columns).
 *   6. The select list, plus hidden ORDER BY expressions that are not in it.
 *      Set-returning functions in it (and in ORDER BY / GROUP BY) become
 *      column references to ProjectSet nodes, one per nesting level, under
 *      the projection: above the aggregate and window nodes, except those
 *      GROUP BY reads, which run below the aggregate, and those a window's
 *      PARTITION BY / ORDER BY reads, below the window (PostgreSQL's rules).
 *      Clauses that refuse them bind with a refusing SrfSink.
 *   7. DISTINCT / DISTINCT ON, ORDER BY, LIMIT/OFFSET, and a final projection
 *      dropping hidden columns.
 *
 * Scopes: each query level has a Scope of relations; a column not found in
 * the current level is looked up in enclosing levels, which marks the
 * subquery as correlated (re-run per outer row).
 *
 * Data-modifying CTEs (WITH x AS (INSERT/UPDATE/DELETE ... RETURNING))
 * are allowed in the WITH of the top-level statement only; the statement's
 * plan is then wrapped in a with-writes node that runs them first.
 *
 * Limits (0A000): FULL JOIN ... USING, multi-column row comparisons with
 * subqueries.
 */

import { subscript } from '../types/array-dims.ts';
import type {
  A_Const,
  A_Expr,
  CaseExpr,
  CoalesceExpr,
  ColumnRef,
  FuncCall,
  JoinExpr,
  Node,
  RangeFunction,
  RangeSubselect,
  RangeVar,
  SelectStmt,
  SortBy,
  SubLink,
  TypeCast,
  WindowDef,
  InsertStmt,
  UpdateStmt,
  DeleteStmt,
  MergeStmt,
  WithClause,
  CommonTableExpr,
} from '@pgsql/types';
import { deparseSync } from 'pgsql-parser';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { assert } from '../../util/assert.ts';
import type { CatalogSnapshot, ColumnDef, FunctionDef, IndexDef, TableDef } from '../catalog/catalog.ts';
import { Decimal } from '../types/decimal.ts';
import { Types, arrayOf, formatType, type ArrayValue, type SqlType, type Value } from '../types/sql-type.ts';
import { castFunction, type CastContext } from '../types/cast.ts';
import { comparatorFor, hashKey } from '../types/compare.ts';
import { parseText, type IoSettings } from '../types/text-io.ts';
import { commonType, likeMatch, regexMatch, resolveBinaryOp, resolveUnaryOp } from './operators.ts';
import { resolveFunction, resolveSrf, isSrf, functionExists } from './functions.ts';
import { isAggregateName, resolveAggregate } from '../exec/aggregates.ts';
import { resolveTypeName, typeNameString } from './type-names.ts';
import { positionOf, parseSql } from '../parser.ts';
import { ownerOf, requirePrivilege, requireRelation, requireSchemaUsage } from '../exec/privileges.ts';
import { rewriteViewDml, type ViewCheck } from './view-dml.ts';
import type {
  AggCall,
  ColumnId,
  CompareOp,
  CteDef,
  Expr,
  ForeignKeyRef,
  FrameBound,
  MergeClause,
  IndexExprsBound,
  JoinType,
  ModifyPlan,
  OnConflict,
  OutputColumn,
  Plan,
  ProjectSetSrf,
  SortKey,
  SrfCall,
  WindowCall,
  WindowFrame,
} from './plan.ts';
import { EvalContext, type SessionServices } from '../exec/eval-context.ts';
import { compileExpr, CompileEnv } from '../exec/compile-expr.ts';

export interface BindOptions {
  readonly catalog: CatalogSnapshot;
  readonly dbOid: number;
  readonly searchPath: readonly string[];
  readonly io: IoSettings;
  /** The whole query text, for error positions. */
  readonly sql: string;
  /** Parameter types: given by the client or inferred here (mutable). */
  readonly paramTypes: (SqlType | undefined)[];
  /** The session's user, whose privileges are checked (exec/privileges.ts); absent: no checks. */
  readonly user?: string;
}

interface ScopeColumn {
  readonly name: string;
  readonly id: ColumnId;
  readonly type: SqlType;
  readonly tableOid: number;
  readonly attnum: number;
  /** Not visible to unqualified names and '*' (the right side of JOIN USING). */
  readonly usingHidden?: boolean;
}

interface ScopeRel {
  readonly alias: string;
  readonly cols: readonly ScopeColumn[];
  /** Only visible to LATERAL items after it is added (always true once the FROM clause is done). */
}

class Scope {
  rels: ScopeRel[] = [];
  correlated = false;
  constructor(readonly parent: Scope | undefined) {}
}

/**
 * Where a set-returning function called in an expression goes: collected
 * for the ProjectSet of this query level's select list (`calls`), or refused
 * with PostgreSQL's error for the clause being bound.
 */
type SrfSink =
  | { readonly kind: 'collect'; readonly scope: Scope; readonly calls: BoundSrf[] }
  | { readonly kind: 'refuse'; readonly code: string; readonly message: string; readonly hint?: string };

/** A set-returning function of a select list, with its nesting level (0 = no set-returning function in its arguments). */
interface BoundSrf {
  readonly srf: ProjectSetSrf;
  readonly type: SqlType;
  readonly key: string;
  readonly level: number;
}

const FROM_SRF: SrfSink = {
  kind: 'refuse',
  code: '0A000',
  message: 'set-returning functions must appear at top level of FROM',
};
const SRF_HINT = 'You might be able to move the set-returning function into a LATERAL FROM item.';
const AGG_SRF: SrfSink = {
  kind: 'refuse',
  code: '0A000',
  message: 'aggregate function calls cannot contain set-returning function calls',
  hint: SRF_HINT,
};
const WINDOW_SRF: SrfSink = {
  kind: 'refuse',
  code: '0A000',
  message: 'window function calls cannot contain set-returning function calls',
  hint: SRF_HINT,
};

interface AggState {
  readonly aggs: AggCall[];
  readonly windows: WindowCall[];
  /** Column ids produced by the FROM clause of this level (for 42803 checks). */
  readonly scope: Scope;
  inAggArgs: boolean;
  allowAggs: boolean;
  allowWindows: boolean;
  readonly windowDefs: Map<string, WindowDef>;
  /** GROUPING(...) calls: their arguments, resolved against GROUP BY once it is bound. */
  readonly groupingCalls: { readonly args: Expr[]; readonly id: ColumnId }[];
}

export interface BoundQuery {
  readonly plan: Plan;
  readonly cols: readonly OutputColumn[];
}

const BOOL = Types.bool;

function str(n: Node | undefined): string {
  if (n !== undefined && 'String' in n) return n.String.sval ?? '';
  return '';
}

/** A constant-folding context: no session services (volatile functions are never folded). */
export const noServices: SessionServices = {
  getSetting: () => undefined,
  setSetting: () => {
    throw new Error('not during folding');
  },
  user: '',
  database: '',
  backendPid: 0,
  txn: () => {
    throw new Error('not during folding');
  },
  nextval: () => Promise.reject(new Error('not during folding')),
  currval: () => {
    throw new Error('not during folding');
  },
  setval: () => Promise.reject(new Error('not during folding')),
  statementStartMicros: 0n,
  txnStartMicros: 0n,
  clockMicros: () => 0n,
  random: () => 0,
  uniqueRowId: () => 0n,
  relationOid: () => undefined,
  relationName: () => undefined,
  catalogText: () => null,
  relationSize: () => Promise.resolve(0n),
  checkInterrupt: () => undefined,
  yieldPoint: () => undefined,
};

export class Binder {
  private nextId = 1;
  private agg: AggState | undefined;
  private readonly ctes: Map<string, CteDef>[] = [];
  private cteCounter = 0;
  /** Nesting depth of SELECT binding: data-modifying CTEs are allowed at the statement's top level only. */
  private selectDepth = 0;

  constructor(private readonly o: BindOptions) {}

  // ---------------------------------------------------------------- helpers

  newId(): ColumnId {
    return this.nextId++;
  }

  err(code: string, message: string, location?: number, extra?: { readonly hint: string }): NextDbError {
    const position = positionOf(this.o.sql, location);
    return new NextDbError(code, message, { ...(position === undefined ? {} : { position }), ...extra });
  }

  /** Resolves a possibly schema-qualified relation name. */
  lookupTable(schema: string | undefined, name: string, location?: number, missingOk = false): TableDef | undefined {
    const cat = this.o.catalog;
    if (schema !== undefined) {
      const t = cat.table(this.o.dbOid, schema, name);
      if (t === undefined && !missingOk)
        throw this.err(SqlState.undefinedTable, `relation "${schema}.${name}" does not exist`, location);
      return t;
    }
    for (const s of this.o.searchPath) {
      const t = cat.table(this.o.dbOid, s, name);
      if (t !== undefined) return t;
    }
    if (!missingOk) throw this.err(SqlState.undefinedTable, `relation "${name}" does not exist`, location);
    return undefined;
  }

  /** regclass input: a (possibly qualified, possibly quoted) relation or sequence name → its OID. */
  regclassOid(text: string, location?: number): number {
    if (/^\d+$/.test(text.trim())) return Number(text.trim());
    const parts = text.split('.').map((p) => {
      const t = p.trim();
      return t.startsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t.toLowerCase();
    });
    const name = parts[parts.length - 1]!;
    const schemas = parts.length > 1 ? [parts[parts.length - 2]!] : this.o.searchPath;
    for (const s of schemas) {
      const t = this.o.catalog.table(this.o.dbOid, s, name);
      if (t !== undefined) return t.oid;
      const q = this.o.catalog.sequence(this.o.dbOid, s, name);
      if (q !== undefined) return q.oid;
      const ix = this.o.catalog.index(this.o.dbOid, s, name);
      if (ix !== undefined) return ix[1].oid;
    }
    const virtualOid = this.virtualOid?.(parts.length > 1 ? parts[parts.length - 2] : undefined, name);
    if (virtualOid !== undefined) return virtualOid;
    throw this.err(SqlState.undefinedTable, `relation "${text}" does not exist`, location);
  }

  /** OIDs of pg_catalog relations (set by the session with virtualRelations). */
  virtualOid: ((schema: string | undefined, name: string) => number | undefined) | undefined;

  constExpr(type: SqlType, value: Value): Expr {
    return { kind: 'const', type, value };
  }

  /** Casts `e` to `target` in `ctx`, folding literals and typing parameters; throws 42804/42846. */
  coerce(e: Expr, target: SqlType, ctx: CastContext, location?: number): Expr {
    if (target.id === 'unknown') return e;
    if (e.kind === 'param' && e.type.id === 'unknown') {
      this.o.paramTypes[e.index] = target;
      return { kind: 'param', type: target, index: e.index };
    }
    if (e.type.oid === target.oid && (target.typmod < 0 || e.type.typmod === target.typmod) && target.id !== 'array')
      return e;
    if (e.type.oid === target.oid && target.id === 'array') return e;
    if (e.kind === 'const') {
      if (e.value === null) return this.constExpr(target, null);
      if (e.type.id === 'unknown' && target.id === 'regclass')
        return this.constExpr(target, this.regclassOid(e.value as string, location));
      if (e.type.id === 'unknown') {
        const v = parseText(target, e.value as string, this.o.io);
        const fn = castFunction(target, target, 'explicit');
        return this.constExpr(target, fn !== undefined && target.typmod >= 0 ? fn(v, this.o.io) : v);
      }
    }
    const fn = castFunction(e.type, target, ctx);
    if (fn === undefined) {
      if (ctx === 'explicit') {
        throw this.err('42846', `cannot cast type ${formatType(e.type)} to ${formatType(target)}`, location);
      }
      throw this.err(
        '42804',
        `${ctx === 'assignment' ? 'column' : 'argument'} is of type ${formatType(e.type)} but expression is of type ${formatType(e.type)}`,
        location,
      );
    }
    return this.fold({ kind: 'cast', type: target, arg: e, fn });
  }

  /** Evaluates a constant expression now; leaves it alone if evaluation fails (the error then happens at run time, if ever). */
  fold(e: Expr): Expr {
    const isConstArg = (a: Expr): boolean => a.kind === 'const';
    const isNull = (a: Expr): boolean => a.kind === 'const' && a.value === null;
    // Strict operators with a NULL constant operand are NULL without evaluating the rest (as PostgreSQL's planner does).
    if (
      (e.kind === 'call' && e.strict && !e.volatile && e.args.some(isNull)) ||
      (e.kind === 'compare' && (isNull(e.left) || isNull(e.right)))
    ) {
      return this.constExpr(e.type, null);
    }
    let foldable = false;
    switch (e.kind) {
      case 'call':
        foldable = !e.volatile && e.args.every(isConstArg);
        break;
      case 'cast':
        foldable = isConstArg(e.arg) && !isTimeZoneSensitive(e.arg.type, e.type);
        break;
      case 'compare':
        foldable = isConstArg(e.left) && isConstArg(e.right);
        break;
      case 'not':
      case 'is-null':
        foldable = isConstArg(e.arg);
        break;
      default:
        foldable = false;
    }
    if (!foldable) return e;
    try {
      const fn = compileExpr(
        e,
        CompileEnv.root(new Map(), [], () => Promise.reject(new Error('no subqueries while folding'))),
      );
      const v = fn([], new EvalContext(this.o.io, [], noServices));
      return this.constExpr(e.type, v);
    } catch {
      return e;
    }
  }

  // ------------------------------------------------------------ expressions

  bindExpr(n: Node, scope: Scope): Expr {
    if ('ColumnRef' in n) return this.bindColumnRef(n.ColumnRef, scope);
    if ('A_Const' in n) return this.bindConst(n.A_Const);
    if ('ParamRef' in n) {
      const idx = (n.ParamRef.number ?? 0) - 1;
      if (idx < 0) throw this.err('42P02', 'there is no parameter $0', n.ParamRef.location);
      if (this.fnArgs !== undefined) {
        const a = this.fnArgs.exprs?.[idx];
        if (a !== undefined) return a;
        if (this.fnArgs.exprs !== undefined || idx >= this.o.paramTypes.length)
          throw this.err('42P02', `there is no parameter $${idx + 1}`, n.ParamRef.location);
      }
      while (this.o.paramTypes.length <= idx) this.o.paramTypes.push(undefined);
      const t = this.o.paramTypes[idx];
      return { kind: 'param', type: t ?? Types.unknown, index: idx };
    }
    if ('A_Expr' in n) return this.bindAExpr(n.A_Expr, scope);
    if ('BoolExpr' in n) {
      const b = n.BoolExpr;
      const op = b.boolop === 'NOT_EXPR' ? 'NOT' : b.boolop === 'AND_EXPR' ? 'AND' : 'OR';
      const args = (b.args ?? []).map((a) =>
        this.noSrfIn('42804', `argument of ${op} must not return a set`, () =>
          this.coerceBool(this.bindExpr(a, scope), op),
        ),
      );
      if (b.boolop === 'NOT_EXPR') return this.foldNot({ kind: 'not', type: BOOL, arg: args[0]! });
      const kind = b.boolop === 'AND_EXPR' ? 'and' : 'or';
      // Flatten nested ANDs/ORs so that predicate pushdown sees every conjunct.
      const flat: Expr[] = [];
      for (const a of args) {
        if (a.kind === kind) flat.push(...a.args);
        else flat.push(a);
      }
      return { kind, type: BOOL, args: flat };
    }
    if ('NullTest' in n) {
      const arg = this.bindExpr(n.NullTest.arg!, scope);
      return this.fold({ kind: 'is-null', type: BOOL, arg, negate: n.NullTest.nulltesttype === 'IS_NOT_NULL' });
    }
    if ('BooleanTest' in n) {
      const arg = this.coerceBool(this.bindExpr(n.BooleanTest.arg!, scope), 'IS');
      const t = n.BooleanTest.booltesttype ?? 'IS_TRUE';
      const test = t.includes('TRUE') ? 'true' : t.includes('FALSE') ? 'false' : 'unknown';
      return { kind: 'is-bool', type: BOOL, arg, test, negate: t.startsWith('IS_NOT') };
    }
    if ('TypeCast' in n) return this.bindTypeCast(n.TypeCast, scope);
    if ('FuncCall' in n) return this.bindFuncCall(n.FuncCall, scope);
    if ('CaseExpr' in n)
      return this.noSrfIn(
        '0A000',
        'set-returning functions are not allowed in CASE',
        () => this.bindCase(n.CaseExpr, scope),
        SRF_HINT,
      );
    if ('CoalesceExpr' in n)
      return this.noSrfIn(
        '0A000',
        'set-returning functions are not allowed in COALESCE',
        () => this.bindCoalesce(n.CoalesceExpr, scope),
        SRF_HINT,
      );
    if ('MinMaxExpr' in n) {
      const args = (n.MinMaxExpr.args ?? []).map((a) => this.bindExpr(a, scope));
      const t = this.unifyTypes(
        args.map((a) => a.type),
        n.MinMaxExpr.op === 'IS_GREATEST' ? 'GREATEST' : 'LEAST',
        n.MinMaxExpr.location,
      );
      return {
        kind: n.MinMaxExpr.op === 'IS_GREATEST' ? 'greatest' : 'least',
        type: t,
        args: args.map((a) => this.coerce(a, t, 'implicit')),
        cmp: comparatorFor(t),
      };
    }
    if ('SubLink' in n) return this.bindSubLink(n.SubLink, scope);
    if ('A_ArrayExpr' in n) {
      const elems = (n.A_ArrayExpr.elements ?? []).map((a) => this.bindExpr(a, scope));
      if (elems.length === 0) return { kind: 'array', type: arrayOf(Types.text), elems: [] };
      const t = this.unifyTypes(
        elems.map((e) => e.type),
        'ARRAY',
        n.A_ArrayExpr.location,
      );
      if (t.id === 'array')
        return { kind: 'array', type: t, elems: elems.map((e) => this.coerce(e, t, 'implicit')), nested: true };
      return { kind: 'array', type: arrayOf(t), elems: elems.map((e) => this.coerce(e, t, 'implicit')) };
    }
    if ('RowExpr' in n) {
      const args = (n.RowExpr.args ?? []).map((a) => this.bindExpr(a, scope));
      return { kind: 'row', type: Types.record, args };
    }
    if ('SQLValueFunction' in n)
      return this.bindSqlValueFunction(n.SQLValueFunction.op ?? 'SVFOP_CURRENT_TIMESTAMP', n.SQLValueFunction.location);
    if ('CollateClause' in n) {
      const names = (n.CollateClause.collname ?? []).map(str);
      const name = names[names.length - 1] ?? '';
      if (!['C', 'POSIX', 'default', 'ucs_basic'].includes(name)) throw notSupported(`collation "${name}"`);
      return this.bindExpr(n.CollateClause.arg!, scope);
    }
    if ('A_Indirection' in n) {
      const base = this.bindExpr(n.A_Indirection.arg!, scope);
      let e = base;
      const inds = n.A_Indirection.indirection ?? [];
      for (let k = 0; k < inds.length; k++) {
        const ind = inds[k]!;
        if ('A_Indices' in ind && !ind.A_Indices.is_slice && e.type.id === 'array') {
          // a[i][j]...: consecutive subscripts address one element of a multidimensional array.
          const idx = [this.coerce(this.bindExpr(ind.A_Indices.uidx!, scope), Types.int4, 'implicit')];
          for (let m = inds[k + 1]; m !== undefined && 'A_Indices' in m && !m.A_Indices.is_slice; m = inds[k + 1]) {
            idx.push(this.coerce(this.bindExpr(m.A_Indices.uidx!, scope), Types.int4, 'implicit'));
            k++;
          }
          const elemT = e.type.elem ?? Types.text;
          e = {
            kind: 'call',
            type: elemT,
            name: 'array_subscript',
            args: [e, ...idx],
            impl:
              idx.length === 1
                ? (a) =>
                    (a[0] as ArrayValue).dims === undefined
                      ? ((a[0] as ArrayValue).elems[(a[1] as number) - 1] ?? null)
                      : null
                : (a) => subscript(a[0] as ArrayValue, a.slice(1) as number[]),
            strict: true,
            volatile: false,
          };
        } else if ('String' in ind && e.kind === 'col' && this.recordFields.has(e.id))
          e = this.recordField(e, str(ind), scope);
        else throw notSupported('this kind of indirection');
      }
      return e;
    }
    if ('GroupingFunc' in n) {
      const st = this.agg;
      if (st === undefined || st.scope !== scope || !st.allowAggs)
        throw this.err(
          '42803',
          'arguments to GROUPING must be grouping expressions of the associated query level',
          n.GroupingFunc.location,
        );
      const args = (n.GroupingFunc.args ?? []).map((a) => this.bindExpr(a, scope));
      const id = this.newId();
      st.groupingCalls.push({ args, id });
      return { kind: 'col', type: Types.int4, id, name: 'grouping' };
    }
    if ('A_Star' in n) throw this.err(SqlState.syntaxError, 'unexpected *');
    const kind = Object.keys(n)[0] ?? 'unknown';
    throw notSupported(`expression ${kind}`);
  }

  private bindCase(c: CaseExpr, scope: Scope): Expr {
    const operand = c.arg === undefined ? undefined : this.bindExpr(c.arg, scope);
    const conds: Expr[] = [];
    const results: Expr[] = [];
    for (const w of c.args ?? []) {
      assert('CaseWhen' in w, 'CASE arm');
      const cw = w.CaseWhen;
      let cond = this.bindExpr(cw.expr!, scope);
      if (operand !== undefined) cond = this.makeCompare('=', operand, cond, cw.location);
      conds.push(this.coerceBool(cond, 'CASE/WHEN'));
      results.push(this.bindExpr(cw.result!, scope));
    }
    const elseExpr =
      c.defresult === undefined ? this.constExpr(Types.unknown, null) : this.bindExpr(c.defresult, scope);
    const all = [...results, elseExpr];
    const t = this.unifyTypes(
      all.map((e) => e.type),
      'CASE',
      c.location,
    );
    return {
      kind: 'case',
      type: t,
      whens: conds.map((cond, i) => ({ cond, result: this.coerce(results[i]!, t, 'implicit') })),
      elseExpr: this.coerce(elseExpr, t, 'implicit'),
    };
  }

  private bindCoalesce(c: CoalesceExpr, scope: Scope): Expr {
    const args = (c.args ?? []).map((a) => this.bindExpr(a, scope));
    const t = this.unifyTypes(
      args.map((a) => a.type),
      'COALESCE',
      c.location,
    );
    return { kind: 'coalesce', type: t, args: args.map((a) => this.coerce(a, t, 'implicit')), cmp: comparatorFor(t) };
  }

  private foldNot(e: Expr): Expr {
    return this.fold(e);
  }

  private bindSqlValueFunction(op: string, location?: number): Expr {
    const call = (name: string, args: Expr[] = []): Expr => this.makeFuncCall(name, args, location);
    switch (op) {
      case 'SVFOP_CURRENT_DATE':
        return this.coerce(call('now'), Types.date, 'assignment');
      case 'SVFOP_CURRENT_TIMESTAMP':
      case 'SVFOP_CURRENT_TIMESTAMP_N':
        return call('now');
      case 'SVFOP_LOCALTIMESTAMP':
      case 'SVFOP_LOCALTIMESTAMP_N':
        return this.coerce(call('now'), Types.timestamp, 'assignment');
      case 'SVFOP_LOCALTIME':
      case 'SVFOP_LOCALTIME_N':
      case 'SVFOP_CURRENT_TIME':
      case 'SVFOP_CURRENT_TIME_N':
        return this.coerce(call('now'), Types.time, 'assignment');
      case 'SVFOP_CURRENT_ROLE':
      case 'SVFOP_CURRENT_USER':
      case 'SVFOP_USER':
        return call('current_user');
      case 'SVFOP_SESSION_USER':
        return call('session_user');
      case 'SVFOP_CURRENT_CATALOG':
        return call('current_database');
      case 'SVFOP_CURRENT_SCHEMA':
        return call('current_schema');
      default:
        throw notSupported(op);
    }
  }

  private bindConst(c: A_Const): Expr {
    if (c.isnull) return this.constExpr(Types.unknown, null);
    if (c.ival !== undefined) return this.constExpr(Types.int4, c.ival.ival ?? 0);
    if (c.fval !== undefined) {
      const s = c.fval.fval ?? '0';
      if (/^-?\d+$/.test(s)) {
        const b = BigInt(s);
        if (b >= -9223372036854775808n && b <= 9223372036854775807n) return this.constExpr(Types.int8, b);
      }
      const d = Decimal.parse(s);
      assert(d !== undefined, 'numeric literal');
      return this.constExpr(Types.numeric, d);
    }
    if (c.boolval !== undefined) return this.constExpr(BOOL, c.boolval.boolval ?? false);
    if (c.sval !== undefined) return this.constExpr(Types.unknown, c.sval.sval ?? '');
    if (c.bsval !== undefined) {
      const b = c.bsval.bsval ?? '';
      if (b.startsWith('x') || b.startsWith('X')) throw notSupported('bit string literals', "use '\\x...'::bytea");
      throw notSupported('bit string literals');
    }
    // An A_Const with no value field is the integer 0 (the parser omits default values).
    return this.constExpr(Types.int4, 0);
  }

  private coerceBool(e: Expr, what: string): Expr {
    if (e.type.id === 'bool') return e;
    if (e.type.id === 'unknown') return this.coerce(e, BOOL, 'implicit');
    throw new NextDbError('42804', `argument of ${what} must be type boolean, not type ${formatType(e.type)}`);
  }

  private bindColumnRef(c: ColumnRef, scope: Scope): Expr {
    const fields = c.fields ?? [];
    if (fields.some((f) => 'A_Star' in f))
      throw this.err(SqlState.syntaxError, 'row expansion via "*" is not supported here', c.location);
    const names = fields.map(str);
    const colName = names[names.length - 1]!;
    const relName = names.length >= 2 ? names[names.length - 2] : undefined;
    let depth = 0;
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent, depth++) {
      const found = this.findColumn(s, relName, colName, c.location);
      if (found !== undefined) {
        // Mark every level between the reference and its source as correlated.
        let m: Scope | undefined = scope;
        for (let i = 0; i < depth && m !== undefined; i++, m = m.parent) m.correlated = true;
        if (depth === 0 && this.agg !== undefined && this.agg.scope === scope) {
          // Checked later against GROUP BY.
        }
        return { kind: 'col', type: found.type, id: found.id, name: found.name };
      }
    }
    // In a SQL function's body an unqualified name that is no column is the argument of that name.
    if (relName === undefined && this.fnArgs !== undefined) {
      const k = this.fnArgs.names.indexOf(colName);
      if (k >= 0)
        return this.fnArgs.exprs?.[k] ?? { kind: 'param', type: this.o.paramTypes[k] ?? Types.unknown, index: k };
    }
    if (relName !== undefined) {
      const relExists = this.anyRel(scope, relName);
      if (!relExists)
        throw this.err(SqlState.undefinedTable, `missing FROM-clause entry for table "${relName}"`, c.location);
      throw this.err(SqlState.undefinedColumn, `column ${relName}.${colName} does not exist`, c.location);
    }
    throw this.err(SqlState.undefinedColumn, `column "${colName}" does not exist`, c.location);
  }

  private anyRel(scope: Scope, name: string): boolean {
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent)
      if (s.rels.some((r) => r.alias === name)) return true;
    return false;
  }

  private findColumn(
    s: Scope,
    relName: string | undefined,
    colName: string,
    location?: number,
  ): ScopeColumn | undefined {
    let found: ScopeColumn | undefined;
    for (const r of s.rels) {
      if (relName !== undefined && r.alias !== relName) continue;
      for (const col of r.cols) {
        if (col.name !== colName) continue;
        if (relName === undefined && col.usingHidden) continue;
        if (found !== undefined && found.id !== col.id) {
          throw this.err('42702', `column reference "${colName}" is ambiguous`, location);
        }
        found = col;
      }
    }
    return found;
  }

  private bindTypeCast(tc: TypeCast, scope: Scope): Expr {
    const { type } = resolveTypeName(tc.typeName!);
    const arg = this.bindExpr(tc.arg!, scope);
    // '...'::interval etc.: parse the literal directly.
    return this.coerce(arg, type, 'explicit', tc.location);
  }

  unifyTypes(types: readonly SqlType[], what: string, location?: number): SqlType {
    let t: SqlType = Types.unknown;
    for (const x of types) {
      if (t.id === 'unknown') {
        t = x.id === 'unknown' ? t : x;
        continue;
      }
      if (x.id === 'unknown') continue;
      const c = commonType(t, x);
      if (c === undefined)
        throw this.err('42804', `${what} types ${formatType(t)} and ${formatType(x)} cannot be matched`, location);
      t = c;
    }
    if (t.id === 'unknown') return Types.text;
    return t.typmod === -1
      ? t
      : types.every((x) => x.oid === t.oid && x.typmod === t.typmod)
        ? t
        : { ...t, typmod: -1 };
  }

  makeCompare(op: CompareOp, l: Expr, r: Expr, location?: number): Expr {
    let t: SqlType | undefined;
    if (l.type.id === 'unknown' && r.type.id === 'unknown') t = Types.text;
    else t = commonType(l.type, r.type);
    if (t === undefined) {
      throw this.err('42883', `operator does not exist: ${formatType(l.type)} ${op} ${formatType(r.type)}`, location);
    }
    if (t.id === 'json') throw this.err('42883', `operator does not exist: json ${op} json`, location);
    const lc = this.coerce(l, t, 'implicit', location);
    const rc = this.coerce(r, t, 'implicit', location);
    // bpchar compared with bpchar ignores trailing blanks; mixed with text it does not.
    const cmpType = l.type.id === 'bpchar' && r.type.id === 'bpchar' ? Types.bpchar : t;
    return this.fold({ kind: 'compare', type: BOOL, op, left: lc, right: rc, cmp: comparatorFor(cmpType) });
  }

  private opName(a: A_Expr): string {
    const names = (a.name ?? []).map(str);
    return names[names.length - 1] ?? '';
  }

  makeBinary(op: string, l: Expr, r: Expr, location?: number): Expr {
    if (op === '=' || op === '<>' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      if (l.kind === 'row' || r.kind === 'row')
        return this.rowCompare(op === '!=' ? '<>' : (op as CompareOp), l, r, location);
      return this.makeCompare(op === '!=' ? '<>' : (op as CompareOp), l, r, location);
    }
    const res = resolveBinaryOp(op, l.type, r.type);
    if (res === undefined && l.type.id === 'unknown' && r.type.id === 'unknown') {
      throw this.err('42725', `operator is not unique: unknown ${op} unknown`, location);
    }
    // date + 'literal': date + integer, date + interval and date + time all fit (PostgreSQL: not unique).
    if (
      res === undefined &&
      op === '+' &&
      ((l.type.id === 'date' && r.type.id === 'unknown') || (l.type.id === 'unknown' && r.type.id === 'date'))
    ) {
      throw this.err('42725', `operator is not unique: ${formatType(l.type)} ${op} ${formatType(r.type)}`, location);
    }
    if (res === undefined) {
      throw this.err('42883', `operator does not exist: ${formatType(l.type)} ${op} ${formatType(r.type)}`, location);
    }
    const args = [this.coerce(l, res.left, 'implicit', location), this.coerce(r, res.right, 'implicit', location)];
    return this.fold({ kind: 'call', type: res.ret, name: op, args, impl: res.impl, strict: true, volatile: false });
  }

  private rowCompare(op: CompareOp, l: Expr, r: Expr, location?: number): Expr {
    if (l.kind !== 'row' || r.kind !== 'row') throw notSupported('comparison of a row with a non-row value');
    if (l.args.length !== r.args.length)
      throw this.err(SqlState.syntaxError, 'unequal number of entries in row expressions', location);
    const n = l.args.length;
    if (op === '=' || op === '<>') {
      const eqs = l.args.map((a, i) => this.makeCompare(op, a, r.args[i]!, location));
      return n === 1 ? eqs[0]! : { kind: op === '=' ? 'and' : 'or', type: BOOL, args: eqs };
    }
    // (a,b) < (c,d)  ≡  a < c OR (a = c AND b < d) ...
    const build = (i: number): Expr => {
      const strictOp: CompareOp = op === '<=' ? '<' : op === '>=' ? '>' : op;
      if (i === n - 1) return this.makeCompare(op, l.args[i]!, r.args[i]!, location);
      return {
        kind: 'or',
        type: BOOL,
        args: [
          this.makeCompare(strictOp, l.args[i]!, r.args[i]!, location),
          { kind: 'and', type: BOOL, args: [this.makeCompare('=', l.args[i]!, r.args[i]!, location), build(i + 1)] },
        ],
      };
    };
    return build(0);
  }

  private bindAExpr(a: A_Expr, scope: Scope): Expr {
    const op = this.opName(a);
    const loc = a.location;
    switch (a.kind) {
      case 'AEXPR_OP': {
        if (a.lexpr === undefined) {
          const arg = this.bindExpr(a.rexpr!, scope);
          // Fold negative numeric literals so -2147483648 stays an int4.
          if (op === '-' && arg.kind === 'const' && arg.value !== null) {
            if (arg.type.id === 'int8' && arg.value === 2147483648n) return this.constExpr(Types.int4, -2147483648);
          }
          const res = resolveUnaryOp(op, arg.type);
          if (res === undefined) throw this.err('42883', `operator does not exist: ${op} ${formatType(arg.type)}`, loc);
          return this.fold({
            kind: 'call',
            type: res.ret,
            name: op,
            args: [this.coerce(arg, res.left, 'implicit')],
            impl: res.impl,
            strict: true,
            volatile: false,
          });
        }
        const l = this.bindExpr(a.lexpr, scope);
        const r = this.bindExpr(a.rexpr!, scope);
        return this.makeBinary(op, l, r, loc);
      }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL': {
        const l = this.bindExpr(a.lexpr!, scope);
        const r = this.bindExpr(a.rexpr!, scope);
        if (r.type.id !== 'array') {
          if (r.type.id === 'unknown' && r.kind === 'const') {
            const arrT = arrayOf(l.type.id === 'unknown' ? Types.text : l.type);
            return this.anyArray(op, l, this.coerce(r, arrT, 'implicit'), a.kind === 'AEXPR_OP_ANY', loc);
          }
          throw this.err('42809', `op ANY/ALL (array) requires array on right side`, loc);
        }
        return this.anyArray(op, l, r, a.kind === 'AEXPR_OP_ANY', loc);
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT': {
        const l = this.bindExpr(a.lexpr!, scope);
        const r = this.bindExpr(a.rexpr!, scope);
        const t = l.type.id === 'unknown' && r.type.id === 'unknown' ? Types.text : commonType(l.type, r.type);
        if (t === undefined)
          throw this.err('42883', `operator does not exist: ${formatType(l.type)} = ${formatType(r.type)}`, loc);
        return {
          kind: 'distinct-from',
          type: BOOL,
          left: this.coerce(l, t, 'implicit'),
          right: this.coerce(r, t, 'implicit'),
          cmp: comparatorFor(t),
          negate: a.kind === 'AEXPR_NOT_DISTINCT',
        };
      }
      case 'AEXPR_NULLIF': {
        const l = this.bindExpr(a.lexpr!, scope);
        const r = this.bindExpr(a.rexpr!, scope);
        const eq = this.makeCompare('=', l, r, loc);
        // NULLIF(a, b) = CASE WHEN a = b THEN NULL ELSE a END, typed as the comparison's
        // common type (PostgreSQL returns a coerced to the '=' operator's input type).
        const t =
          (l.type.id === 'unknown' && r.type.id === 'unknown' ? Types.text : commonType(l.type, r.type)) ?? l.type;
        return {
          kind: 'case',
          type: t,
          whens: [{ cond: eq, result: this.constExpr(t, null) }],
          elseExpr: this.coerce(l, t, 'implicit'),
        };
      }
      case 'AEXPR_IN': {
        const l = this.bindExpr(a.lexpr!, scope);
        const items = a.rexpr !== undefined && 'List' in a.rexpr ? (a.rexpr.List.items ?? []) : [];
        const list = items.map((i) => this.bindExpr(i, scope));
        const negate = op === '<>';
        if (l.kind === 'row') {
          const eqs = list.map((r) => this.makeBinary('=', l, r, loc));
          const any: Expr = eqs.length === 1 ? eqs[0]! : { kind: 'or', type: BOOL, args: eqs };
          return negate ? { kind: 'not', type: BOOL, arg: any } : any;
        }
        const t = this.unifyTypes([l.type, ...list.map((x) => x.type)], 'IN', loc);
        return {
          kind: 'in-list',
          type: BOOL,
          arg: this.coerce(l, t, 'implicit', loc),
          list: list.map((x) => this.coerce(x, t, 'implicit', loc)),
          cmp: comparatorFor(t),
          negate,
        };
      }
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE': {
        const l = this.bindExpr(a.lexpr!, scope);
        let r = a.rexpr!;
        let escape: Expr | undefined;
        if ('FuncCall' in r && str(r.FuncCall.funcname?.[r.FuncCall.funcname.length - 1]) === 'like_escape') {
          escape = this.bindExpr(r.FuncCall.args![1]!, scope);
          r = r.FuncCall.args![0]!;
        }
        const pat = this.bindExpr(r, scope);
        const name = (a.kind === 'AEXPR_ILIKE' ? '~~*' : '~~').replace(/^/, op.startsWith('!') ? '!' : '');
        if (escape === undefined) return this.makeBinary(name, l, pat, loc);
        const ci = a.kind === 'AEXPR_ILIKE';
        const negate = op.startsWith('!');
        const args = [
          this.coerce(l, Types.text, 'implicit', loc),
          this.coerce(pat, Types.text, 'implicit', loc),
          this.coerce(escape, Types.text, 'implicit', loc),
        ];
        return {
          kind: 'call',
          type: BOOL,
          name: 'like_escape',
          args,
          strict: true,
          volatile: false,
          impl: (v) => {
            const esc = v[2] as string;
            if ([...esc].length > 1)
              throw new NextDbError('22019', 'invalid escape string', {
                hint: 'Escape string must be empty or one character.',
              });
            return likeMatch(v[0] as string, v[1] as string, ci, esc === '' ? undefined : esc) !== negate;
          },
        };
      }
      case 'AEXPR_SIMILAR': {
        const l = this.coerce(this.bindExpr(a.lexpr!, scope), Types.text, 'implicit', loc);
        const r = a.rexpr!;
        const fargs = 'FuncCall' in r ? (r.FuncCall.args ?? []) : [r];
        const pat = this.coerce(this.bindExpr(fargs[0]!, scope), Types.text, 'implicit', loc);
        const esc =
          fargs[1] === undefined ? undefined : this.coerce(this.bindExpr(fargs[1], scope), Types.text, 'implicit', loc);
        const negate = op.startsWith('!');
        return {
          kind: 'call',
          type: BOOL,
          name: 'similar_to',
          args: esc === undefined ? [l, pat] : [l, pat, esc],
          strict: true,
          volatile: false,
          impl: (v) =>
            regexMatch(
              v[0] as string,
              similarToRegex(v[1] as string, v[2] === undefined ? '\\' : (v[2] as string)),
              'u',
            ) !== negate,
        };
      }
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN':
      case 'AEXPR_BETWEEN_SYM':
      case 'AEXPR_NOT_BETWEEN_SYM': {
        const items = a.rexpr !== undefined && 'List' in a.rexpr ? (a.rexpr.List.items ?? []) : [];
        // x BETWEEN lo AND hi is x >= lo AND x <= hi to PostgreSQL: no set-returning function in it.
        const [x, lo, hi] = this.noSrfIn('42804', 'argument of AND must not return a set', () => [
          this.bindExpr(a.lexpr!, scope),
          this.bindExpr(items[0]!, scope),
          this.bindExpr(items[1]!, scope),
        ]);
        const between = (p: Expr, q: Expr): Expr => ({
          kind: 'and',
          type: BOOL,
          args: [this.makeCompare('>=', x, p, loc), this.makeCompare('<=', x, q, loc)],
        });
        let e = between(lo, hi);
        if (a.kind === 'AEXPR_BETWEEN_SYM' || a.kind === 'AEXPR_NOT_BETWEEN_SYM')
          e = { kind: 'or', type: BOOL, args: [e, between(hi, lo)] };
        return a.kind.startsWith('AEXPR_NOT') ? { kind: 'not', type: BOOL, arg: e } : e;
      }
      default:
        throw notSupported(`operator kind ${a.kind ?? '?'}`);
    }
  }

  private anyArray(op: string, l: Expr, arr: Expr, any: boolean, loc?: number): Expr {
    const elemT = arr.type.elem ?? Types.text;
    const t = l.type.id === 'unknown' ? elemT : commonType(l.type, elemT);
    if (t === undefined)
      throw this.err('42883', `operator does not exist: ${formatType(l.type)} ${op} ${formatType(elemT)}`, loc);
    const cmp = comparatorFor(t);
    const lc = this.coerce(l, t, 'implicit');
    const ac = this.coerce(arr, arrayOf(t), 'implicit');
    const test = compareOpFn(op as CompareOp);
    if (test === undefined) throw notSupported(`operator ${op} with ANY/ALL`);
    return {
      kind: 'call',
      type: BOOL,
      name: any ? 'any' : 'all',
      args: [lc, ac],
      strict: true,
      volatile: false,
      impl: (a) => {
        const x = a[0]!;
        let sawNull = false;
        for (const y of (a[1] as ArrayValue).elems) {
          if (y === null) {
            sawNull = true;
            continue;
          }
          const r = test(cmp(x, y));
          if (any && r) return true;
          if (!any && !r) return false;
        }
        return sawNull ? null : !any;
      },
    };
  }

  makeFuncCall(name: string, args: Expr[], location?: number): Expr {
    const f = resolveFunction(
      name,
      args.map((a) => a.type),
    );
    if (f === undefined) {
      throw this.err(
        '42883',
        `function ${name}(${args.map((a) => formatType(a.type)).join(', ')}) does not exist`,
        location,
      );
    }
    const cargs = args.map((a, i) => this.coerce(a, f.argTypes[i] ?? a.type, 'implicit', location));
    if (f.asyncImpl !== undefined) return { kind: 'async-call', type: f.ret, name, args: cargs, impl: f.asyncImpl };
    assert(f.impl !== undefined, 'function without implementation');
    return this.fold({
      kind: 'call',
      type: f.ret,
      name,
      args: cargs,
      impl: f.impl,
      strict: f.strict,
      volatile: f.volatile,
    });
  }

  private funcName(fc: FuncCall): string {
    const names = (fc.funcname ?? []).map(str);
    const schema = names.length > 1 ? names[0] : undefined;
    if (
      schema !== undefined &&
      schema !== 'pg_catalog' &&
      schema !== 'public' &&
      this.o.catalog.schema(this.o.dbOid, schema) === undefined
    ) {
      throw this.err('42883', `function ${names.join('.')} does not exist`, fc.location);
    }
    return names[names.length - 1] ?? '';
  }

  /**
   * While binding a SQL function's body: its argument names, and (when it
   * is being inlined) the caller's argument expressions that `$n` and the
   * names stand for; without those they are the body's parameters.
   */
  private fnArgs: { readonly names: readonly string[]; readonly exprs?: readonly Expr[] } | undefined;
  /** How many SQL function bodies enclose this binder (recursion guard). */
  private fnDepth = 0;

  /** Where set-returning function calls go now (undefined: refused, no clause named). */
  private srfSink: SrfSink | undefined;
  /** Set-returning function calls bound so far, and where the last one was (CASE/COALESCE/AND checks). */
  private srfsBound = 0;
  private lastSrfLocation: number | undefined;
  /** The fields of the records that set-returning functions with several result columns give, by output column. */
  private readonly recordFields = new Map<ColumnId, readonly { readonly name: string; readonly type: SqlType }[]>();

  /** (f(x)).field of a set-returning function's record: that field's value. */
  private recordField(rec: Expr & { kind: 'col' }, name: string, _scope: Scope): Expr {
    const fields = this.recordFields.get(rec.id) ?? [];
    const i = fields.findIndex((f) => f.name === name);
    if (i < 0) throw this.err('42703', `could not identify column "${name}" in record data type`);
    return {
      kind: 'call',
      type: fields[i]!.type,
      name: `.${name}`,
      args: [rec],
      impl: (a) => (a[0] as ArrayValue).elems[i] ?? null,
      strict: true,
      volatile: false,
    };
  }

  /** (f(x)).*: every field of a set-returning function's record, or undefined when `v` is not that. */
  private recordStar(v: Node, scope: Scope): { expr: Expr; name: string }[] | undefined {
    if (!('A_Indirection' in v)) return undefined;
    const inds = v.A_Indirection.indirection ?? [];
    if (inds.length !== 1 || !('A_Star' in inds[0]!)) return undefined;
    const rec = this.bindExpr(v.A_Indirection.arg!, scope);
    const fields = rec.kind === 'col' ? this.recordFields.get(rec.id) : undefined;
    if (rec.kind !== 'col' || fields === undefined)
      throw notSupported("(expression).* of a value that is not a set-returning function's record");
    return fields.map((f) => ({ expr: this.recordField(rec, f.name, scope), name: f.name }));
  }

  /** Runs `f` with set-returning function calls going to `sink`. */
  private withSrfSink<T>(sink: SrfSink | undefined, f: () => T): T {
    const saved = this.srfSink;
    this.srfSink = sink;
    try {
      return f();
    } finally {
      this.srfSink = saved;
    }
  }

  /** PostgreSQL's check_srf_call_placement error for a clause. */
  private static srfRefused(clause: string): SrfSink {
    return { kind: 'refuse', code: '0A000', message: `set-returning functions are not allowed in ${clause}` };
  }

  /** Binds `f` and raises `message` (PostgreSQL's error for CASE, COALESCE, AND ...) when it bound a set-returning function. */
  private noSrfIn<T>(code: string, message: string, f: () => T, hint?: string): T {
    const before = this.srfsBound;
    const r = f();
    if (this.srfsBound !== before)
      throw this.err(code, message, this.lastSrfLocation, hint === undefined ? undefined : { hint });
    return r;
  }

  /**
   * A set-returning function called in an expression: collected for the
   * select list's ProjectSet (the expression reads its value as a column),
   * or PostgreSQL's error where the clause allows none. Identical calls
   * share one function (they would yield the same rows in lockstep).
   */
  private addSrf(
    call: SrfCall,
    type: SqlType,
    fields: readonly { readonly name: string; readonly type: SqlType }[] | undefined,
    scope: Scope,
    location?: number,
  ): Expr {
    const record = fields !== undefined;
    const sink = this.srfSink;
    if (sink === undefined || sink.kind === 'refuse' || sink.scope !== scope) {
      if (sink?.kind === 'refuse')
        throw this.err(sink.code, sink.message, location, sink.hint === undefined ? undefined : { hint: sink.hint });
      throw this.err('0A000', 'set-returning functions are not allowed here', location);
    }
    this.srfsBound++;
    this.lastSrfLocation = location;
    const key = `${call.name}(${call.args.map(exprKey).join(',')})`;
    const same = sink.calls.find((c) => c.key === key);
    if (same !== undefined) return { kind: 'col', type: same.type, id: same.srf.id, name: call.name };
    const read = new Set<ColumnId>();
    for (const a of call.args) colIds(a, read);
    let level = 0;
    for (const c of sink.calls) if (read.has(c.srf.id)) level = Math.max(level, c.level + 1);
    const id = this.newId();
    sink.calls.push({ srf: { ...call, id, record }, type, key, level });
    if (fields !== undefined) this.recordFields.set(id, fields);
    return { kind: 'col', type, id, name: call.name };
  }

  /** A call of a built-in set-returning function in an expression. */
  private bindBuiltinSrf(name: string, args: Expr[], scope: Scope, location?: number): Expr {
    const srf = resolveSrf(
      name,
      args.map((a) => a.type),
    );
    if (srf === undefined)
      throw this.err(
        '42883',
        `function ${name}(${args.map((a) => formatType(a.type)).join(', ')}) does not exist`,
        location,
        {
          hint: 'No function matches the given name and argument types. You might need to add explicit type casts.',
        },
      );
    const cargs = args.map((a, i) => this.coerce(a, srf.argTypes[i] ?? a.type, 'implicit'));
    const one = srf.columns.length === 1;
    return this.addSrf(
      { name, args: cargs, impl: srf.impl },
      one ? srf.columns[0]!.type : Types.record,
      one ? undefined : srf.columns,
      scope,
      location,
    );
  }

  /** A user function's rows as a set-returning call (its arguments already in declaration order). */
  private userSrfCall(uf: FunctionDef, args: readonly Expr[], location?: number): SrfCall {
    const cargs = args.map((a, i) => this.coerce(a, uf.argTypes[i]!, 'implicit', location));
    this.requireExecute(uf);
    if (uf.language === 'plpgsql') return plSrfCall(uf, cargs);
    const body = this.bindFunctionBody(uf);
    const bodyPlan: Plan = uf.retSet
      ? body.plan
      : { kind: 'limit', cols: body.cols, input: body.plan, limit: this.constExpr(Types.int8, 1n) };
    return { name: uf.name, args: cargs, impl: () => [], body: bodyPlan, strict: uf.strict };
  }

  /**
   * A user function this call names, when no built-in takes it, and its
   * arguments in declaration order: positional ones first, then `name => value`
   * ones by parameter name, the rest from the parameters' defaults
   * (PostgreSQL's rules; undefined when no function fits).
   */
  private userCall(
    fc: FuncCall,
    args: readonly Expr[],
    argNames: readonly (string | undefined)[],
    scope: Scope,
  ): { f: FunctionDef; args: Expr[] } | undefined {
    const names = (fc.funcname ?? []).map(str);
    const name = names[names.length - 1] ?? '';
    const schemas = names.length > 1 ? [names[0]!] : this.o.searchPath;
    for (const sc of schemas) {
      for (const f of this.o.catalog.functionsNamed(this.o.dbOid, sc, name)) {
        const n = f.argTypes.length;
        if (args.length > n) continue;
        const slots: (Expr | undefined)[] = new Array<Expr | undefined>(n).fill(undefined);
        let fits = true;
        args.forEach((a, i) => {
          const nm = argNames[i];
          const at = nm === undefined ? i : f.argNames.indexOf(nm);
          if (at < 0 || slots[at] !== undefined) fits = false;
          else slots[at] = a;
        });
        if (!fits) continue;
        const out: Expr[] = [];
        for (let i = 0; i < n; i++) {
          const given = slots[i];
          const def = f.argDefaults?.[i];
          if (given !== undefined) out.push(given);
          else if (def !== undefined && def !== null)
            out.push(
              this.defaultFor(
                { name: f.argNames[i] ?? '', attnum: i + 1, type: f.argTypes[i]!, notNull: false, defaultExpr: def },
                scope,
              ),
            );
          else fits = false;
        }
        if (fits) return { f, args: out };
      }
    }
    return undefined;
  }

  /** CALL procedure(args): a one-row query that runs it (its result, void, is dropped). */
  bindCall(fc: FuncCall): BoundQuery {
    const scope = this.newScope();
    const name = this.funcName(fc);
    const { args, names } = this.callArgs(fc, scope);
    const uc = this.userCall(fc, args, names, scope);
    if (uc === undefined || uc.f.procedure !== true) {
      const sig = `${name}(${args.map((a, i) => (names[i] === undefined ? '' : `${names[i]} => `) + formatType(a.type)).join(', ')})`;
      if (uc !== undefined)
        throw this.err('42809', `${sig} is not a procedure`, fc.location, { hint: 'To call a function, use SELECT.' });
      throw this.err('42883', `procedure ${sig} does not exist`, fc.location, {
        hint: 'No procedure matches the given name and argument types. You might need to add explicit type casts.',
      });
    }
    const e = this.callUserFunction(uc.f, uc.args, fc.location);
    const cols: OutputColumn[] = [{ id: this.newId(), name: uc.f.name, type: Types.void, tableOid: 0, attnum: 0 }];
    return { plan: { kind: 'project', input: { kind: 'one-row', cols: [] }, exprs: [e], cols }, cols };
  }

  /** A call's arguments, `name => value` ones unwrapped, with their names. */
  private callArgs(fc: FuncCall, scope: Scope): { args: Expr[]; names: (string | undefined)[] } {
    const args: Expr[] = [];
    const names: (string | undefined)[] = [];
    for (const a of fc.args ?? []) {
      if ('NamedArgExpr' in a) {
        args.push(this.bindExpr(a.NamedArgExpr.arg!, scope));
        names.push(a.NamedArgExpr.name ?? '');
      } else {
        if (names.some((x) => x !== undefined))
          throw this.err('42601', 'positional argument cannot follow named argument', fc.location);
        args.push(this.bindExpr(a, scope));
        names.push(undefined);
      }
    }
    return { args, names };
  }

  /**
   * Binds a SQL function's body: one SELECT (or VALUES) whose parameters
   * are the declared arguments, its output checked against the declared
   * result (42P13 as PostgreSQL) and converted to it.
   */
  bindFunctionBody(
    f: Pick<FunctionDef, 'name' | 'argNames' | 'argTypes' | 'retType' | 'retSet' | 'outColumns' | 'body'>,
    argExprs?: readonly Expr[],
  ): BoundQuery {
    const stmts = parseSql(f.body);
    if (stmts.length !== 1) throw notSupported('SQL functions with more than one statement');
    const st = stmts[0]!.stmt;
    if (!('SelectStmt' in st)) throw notSupported(`SQL functions whose body is not a SELECT`);
    // Bodies are bound at each call site: a function calling itself would never finish binding.
    if (this.fnDepth >= 16) throw notSupported(`recursive SQL functions (${f.name} calls itself, directly or not)`);
    const sub = new Binder({ ...this.o, sql: f.body, paramTypes: [...f.argTypes] });
    sub.fnDepth = this.fnDepth + 1;
    sub.virtualRelations = this.virtualRelations;
    sub.nextId = this.nextId;
    sub.fnArgs = { names: f.argNames, ...(argExprs === undefined ? {} : { exprs: argExprs }) };
    const q = sub.bindTopQuery(st);
    this.nextId = sub.nextId;
    const want = f.outColumns ?? [{ name: f.name, type: f.retType }];
    const mismatch = (detail: string): NextDbError =>
      new NextDbError(
        '42P13',
        `return type mismatch in function declared to return ${f.outColumns !== undefined ? 'record' : formatType(f.retType)}`,
        { detail },
      );
    if (f.retType.id === 'void') return q;
    if (q.cols.length !== want.length)
      throw mismatch(
        want.length === 1
          ? 'Final statement must return exactly one column.'
          : `Final statement returns ${q.cols.length < want.length ? 'too few' : 'too many'} columns.`,
      );
    q.cols.forEach((c, i) => {
      const t = want[i]!.type;
      if (c.type.oid !== t.oid && c.type.id !== 'unknown' && castFunction(c.type, t, 'assignment') === undefined) {
        throw mismatch(`Final statement returns ${formatType(c.type)} instead of ${formatType(t)} at column ${i + 1}.`);
      }
    });
    const exprs = q.cols.map((c, i) =>
      sub.coerce({ kind: 'col', type: c.type, id: c.id, name: c.name }, want[i]!.type, 'assignment'),
    );
    this.nextId = sub.nextId;
    const cols = q.cols.map((c, i) => ({ ...c, id: this.newId(), name: want[i]!.name, type: want[i]!.type }));
    return { plan: { kind: 'project', input: q.plan, exprs, cols }, cols };
  }

  /**
   * A call of a scalar SQL function. A body that is one expression (SELECT
   * expr, no FROM) over simple arguments is inlined: the expression with the
   * arguments put in place of the parameters. Any other body runs as a
   * subquery with the argument values as its parameters, its first row
   * being the result (PostgreSQL's rule for non-SETOF functions).
   */
  private callUserFunction(f: FunctionDef, rawArgs: Expr[], location?: number): Expr {
    // Set-returning functions become ProjectSet calls (addSrf); procedures never return sets.
    assert(!f.retSet, 'a set-returning function bound as a scalar call');
    const args = rawArgs.map((a, i) => this.coerce(a, f.argTypes[i]!, 'implicit', location));
    this.requireExecute(f);
    if (f.language === 'plpgsql') return plCall(f, args);
    const st = parseSql(f.body)[0]?.stmt;
    const sel = st !== undefined && 'SelectStmt' in st ? st.SelectStmt : undefined;
    const simpleArgs = args.every((a) => a.kind === 'const' || a.kind === 'param' || a.kind === 'col');
    const oneExpr =
      sel !== undefined &&
      (sel.fromClause ?? []).length === 0 &&
      sel.whereClause === undefined &&
      sel.groupClause === undefined &&
      sel.havingClause === undefined &&
      sel.withClause === undefined &&
      sel.valuesLists === undefined &&
      (sel.op === undefined || sel.op === 'SETOP_NONE') &&
      sel.limitCount === undefined &&
      sel.sortClause === undefined &&
      (sel.targetList ?? []).length === 1 &&
      sel.distinctClause === undefined;
    if (oneExpr && simpleArgs && f.retType.id !== 'void') {
      const body = this.bindFunctionBody(f, args);
      const proj = body.plan;
      if (proj.kind === 'project' && proj.input.kind === 'project' && proj.input.input.kind === 'one-row') {
        // project(cast) over project(expr) over one-row: substitute the body's expression into the cast.
        const inner = proj.input;
        const sub = substituteCols(proj.exprs[0]!, new Map(inner.cols.map((c, i) => [c.id, inner.exprs[i]!])));
        if (!f.strict) return sub;
        const anyNull = args.map((a): Expr => ({ kind: 'is-null', type: BOOL, arg: a, negate: false }));
        return {
          kind: 'case',
          type: sub.type,
          whens: [
            {
              cond: anyNull.length === 1 ? anyNull[0]! : { kind: 'or', type: BOOL, args: anyNull },
              result: this.constExpr(sub.type, null),
            },
          ],
          elseExpr: sub,
        };
      }
    }
    const body = this.bindFunctionBody(f);
    const plan: Plan = { kind: 'limit', cols: body.cols, input: body.plan, limit: this.constExpr(Types.int8, 1n) };
    const type = f.retType.id === 'void' ? Types.void : body.cols[0]!.type;
    const call: Expr = {
      kind: 'subquery',
      type,
      mode: 'scalar',
      plan,
      correlated: !args.every((a) => a.kind === 'const'),
      args,
      ...(f.strict ? { strict: true } : {}),
    };
    return call;
  }

  private bindFuncCall(fc: FuncCall, scope: Scope): Expr {
    const name = this.funcName(fc);
    if (fc.over !== undefined) return this.bindWindowCall(fc, name, scope);
    if (!functionExists(name) && !isAggregateName(name) && !isSrf(name)) {
      const { args, names } = this.callArgs(fc, scope);
      const uc = this.userCall(fc, args, names, scope);
      if (uc !== undefined) {
        if (uc.f.procedure === true)
          throw this.err(
            '42809',
            `${uc.f.name}(${uc.f.argTypes.map(formatType).join(', ')}) is a procedure`,
            fc.location,
            {
              hint: 'To call a procedure, use CALL.',
            },
          );
        if (uc.f.retSet) {
          const call = this.userSrfCall(uc.f, uc.args, fc.location);
          const out = uc.f.outColumns;
          const record = out !== undefined && out.length > 1;
          return this.addSrf(call, record ? Types.record : uc.f.retType, record ? out : undefined, scope, fc.location);
        }
        return this.callUserFunction(uc.f, uc.args, fc.location);
      }
      if (names.some((x) => x !== undefined))
        throw this.err(
          '42883',
          `function ${name}(${args.map((a, i) => (names[i] === undefined ? '' : `${names[i]} => `) + formatType(a.type)).join(', ')}) does not exist`,
          fc.location,
          { hint: 'No function matches the given name and argument types. You might need to add explicit type casts.' },
        );
    }
    if (isAggregateName(name) && (!functionExists(name) || fc.agg_star === true || this.agg !== undefined)) {
      return this.bindAggregate(fc, name, scope);
    }
    if (fc.agg_star)
      throw this.err('42809', `${name}(*) specified, but ${name} is not an aggregate function`, fc.location);
    if (name === 'extract' || name === 'date_part') {
      const args = (fc.args ?? []).map((a) => this.bindExpr(a, scope));
      return this.makeFuncCall('date_part', args, fc.location);
    }
    const args = (fc.args ?? []).map((a) => this.bindExpr(a, scope));
    if (
      isSrf(name) &&
      resolveFunction(
        name,
        args.map((a) => a.type),
      ) === undefined
    ) {
      if (fc.agg_filter !== undefined)
        throw this.err('42809', `FILTER specified, but ${name} is not an aggregate function`, fc.location);
      return this.bindBuiltinSrf(name, args, scope, fc.location);
    }
    if (name === 'nextval' || name === 'currval' || name === 'setval') {
      // The sequence argument is regclass: a name literal resolves to the OID now.
      if (
        args[0] !== undefined &&
        (args[0].type.id === 'unknown' || args[0].type.id === 'text' || args[0].type.id === 'varchar')
      ) {
        args[0] =
          args[0].kind === 'const' && args[0].value !== null
            ? this.constExpr(Types.regclass, this.regclassOid(args[0].value as string, fc.location))
            : args[0];
      }
      // nextval: USAGE or UPDATE; currval: SELECT or USAGE; setval: UPDATE (PostgreSQL's rules).
      const seq = args[0]?.kind === 'const' ? this.o.catalog.sequences.get(Number(args[0].value)) : undefined;
      if (seq !== undefined && this.o.user !== undefined && this.privSkip === 0) {
        requireSchemaUsage(this.o.catalog, this.o.user, this.o.dbOid, seq.schema);
        const letters = name === 'nextval' ? 'Uw' : name === 'currval' ? 'rU' : 'w';
        requirePrivilege(this.o.catalog, this.o.user, seq.oid, 'S', letters, seq.name);
      }
    }
    return this.makeFuncCall(name, args, fc.location);
  }

  private bindAggregate(fc: FuncCall, name: string, scope: Scope): Expr {
    const st = this.agg;
    if (st === undefined || !st.allowAggs || st.scope !== scope) {
      if (st !== undefined && st.inAggArgs)
        throw this.err('42803', 'aggregate function calls cannot be nested', fc.location);
      if (st === undefined || st.scope !== scope) {
        // An aggregate in a subquery over only outer columns belongs to the outer query; not supported.
        throw this.err('42803', 'aggregate functions are not allowed here', fc.location);
      }
      throw this.err('42803', 'aggregate functions are not allowed in this clause', fc.location);
    }
    if (fc.agg_within_group) return this.bindOrderedSetAggregate(fc, name, scope, st);
    st.inAggArgs = true;
    let args: Expr[];
    let filter: Expr | undefined;
    let orderBy: SortKey[] | undefined;
    const savedSink = this.srfSink;
    this.srfSink = AGG_SRF;
    try {
      args = (fc.args ?? []).map((a) => this.bindExpr(a, scope));
      if (fc.agg_filter !== undefined) {
        const f = fc.agg_filter;
        filter = this.withSrfSink(Binder.srfRefused('FILTER'), () =>
          this.coerceBool(this.bindExpr(f, scope), 'FILTER'),
        );
      }
      if (fc.agg_order !== undefined && fc.agg_order.length > 0) {
        orderBy = fc.agg_order.map((s) => {
          assert('SortBy' in s, 'aggregate ORDER BY item');
          return this.sortKey(this.bindExpr(s.SortBy.node!, scope), s.SortBy);
        });
      }
    } finally {
      st.inAggArgs = false;
      this.srfSink = savedSink;
    }
    const star = fc.agg_star === true;
    const ra = resolveAggregate(
      name,
      args.map((a) => a.type),
      star,
    );
    if (ra === undefined) {
      throw this.err(
        '42883',
        `function ${name}(${star ? '*' : args.map((a) => formatType(a.type)).join(', ')}) does not exist`,
        fc.location,
      );
    }
    const cargs = args.map((a, i) => this.coerce(a, ra.argTypes[i] ?? a.type, 'implicit'));
    const id = this.newId();
    const call: AggCall = {
      name,
      args: cargs,
      distinct: fc.agg_distinct === true,
      star,
      ...(filter === undefined ? {} : { filter }),
      ...(orderBy === undefined ? {} : { orderBy }),
      type: ra.ret,
      argTypes: ra.argTypes,
      id,
    };
    // Identical aggregate calls share one accumulator.
    const key = aggKey(call);
    const existing = st.aggs.find((x) => aggKey(x) === key);
    if (existing !== undefined) return { kind: 'col', type: existing.type, id: existing.id, name };
    st.aggs.push(call);
    return { kind: 'col', type: ra.ret, id, name };
  }

  /** percentile_cont / percentile_disc / mode: WITHIN GROUP (ORDER BY x); the accumulator sees x sorted. */
  private bindOrderedSetAggregate(fc: FuncCall, name: string, scope: Scope, st: AggState): Expr {
    const order = fc.agg_order ?? [];
    if (order.length !== 1 || !('SortBy' in order[0]!)) throw notSupported(`${name} with several ORDER BY columns`);
    st.inAggArgs = true;
    let sortExpr: Expr;
    let direct: Expr[];
    const savedSink = this.srfSink;
    this.srfSink = AGG_SRF;
    try {
      sortExpr = this.bindExpr(order[0].SortBy.node!, scope);
      direct = (fc.args ?? []).map((a) => this.bindExpr(a, scope));
    } finally {
      st.inAggArgs = false;
      this.srfSink = savedSink;
    }
    let valueType = sortExpr.type.id === 'unknown' ? Types.text : sortExpr.type;
    if (name === 'percentile_cont') {
      if (valueType.id !== 'interval') valueType = Types.float8;
      if (direct.length !== 1)
        throw this.err(
          '42883',
          `function percentile_cont(${direct.map((d) => formatType(d.type)).join(', ')}) does not exist`,
          fc.location,
        );
    } else if (name === 'percentile_disc') {
      if (direct.length !== 1)
        throw this.err('42883', 'function percentile_disc does not exist with these arguments', fc.location);
    } else if (name === 'mode') {
      if (direct.length !== 0)
        throw this.err('42883', 'function mode does not exist with these arguments', fc.location);
    } else
      throw this.err('42809', `${name} is not an ordered-set aggregate, so it cannot have WITHIN GROUP`, fc.location);
    const value = this.coerce(sortExpr, valueType, 'implicit');
    const args = [value, ...direct.map((d) => this.coerce(d, Types.float8, 'implicit'))];
    const key = this.sortKey(value, order[0].SortBy);
    const ra = resolveAggregate(
      name,
      args.map((a) => a.type),
      false,
    );
    if (ra === undefined)
      throw this.err('42883', `function ${name} does not exist for type ${formatType(valueType)}`, fc.location);
    const id = this.newId();
    const aggFilter = fc.agg_filter;
    const filter =
      aggFilter === undefined
        ? undefined
        : this.withSrfSink(Binder.srfRefused('FILTER'), () =>
            this.coerceBool(this.bindExpr(aggFilter, scope), 'FILTER'),
          );
    st.aggs.push({
      name,
      args,
      distinct: false,
      star: false,
      orderBy: [key],
      type: ra.ret,
      argTypes: ra.argTypes,
      id,
      ...(filter === undefined ? {} : { filter }),
    });
    return { kind: 'col', type: ra.ret, id, name };
  }

  private bindWindowCall(fc: FuncCall, name: string, scope: Scope): Expr {
    const st = this.agg;
    if (st === undefined || !st.allowWindows || st.scope !== scope)
      throw this.err('42P20', 'window functions are not allowed here', fc.location);
    let def = fc.over!;
    if (
      def.refname !== undefined ||
      (def.name !== undefined && def.partitionClause === undefined && def.orderClause === undefined)
    ) {
      const ref = st.windowDefs.get(def.refname ?? def.name ?? '');
      if (ref === undefined) throw this.err('42704', `window "${def.refname ?? def.name}" does not exist`, fc.location);
      def = {
        ...ref,
        ...(def.orderClause !== undefined ? { orderClause: def.orderClause } : {}),
        ...(def.frameOptions !== undefined && def.frameOptions !== 1058 ? { frameOptions: def.frameOptions } : {}),
      };
    }
    const prevAllowWin = st.allowWindows;
    st.allowWindows = false;
    const savedSink = this.srfSink;
    try {
      this.srfSink = WINDOW_SRF;
      const args = (fc.args ?? []).map((a) => this.bindExpr(a, scope));
      // PARTITION BY / ORDER BY may call them (run below the window node).
      this.srfSink = savedSink;
      const partitionBy = (def.partitionClause ?? []).map((p) => this.bindExpr(p, scope));
      const orderBy = (def.orderClause ?? []).map((s) => {
        assert('SortBy' in s, 'window ORDER BY item');
        return this.sortKey(this.bindExpr(s.SortBy.node!, scope), s.SortBy);
      });
      this.srfSink = Binder.srfRefused('FILTER');
      const frame = this.windowFrame(def, scope, orderBy.length > 0);
      let type: SqlType;
      let cargs = args;
      let isAggregate = false;
      switch (name) {
        case 'row_number':
        case 'rank':
        case 'dense_rank':
          type = Types.int8;
          break;
        case 'percent_rank':
        case 'cume_dist':
          type = Types.float8;
          break;
        case 'ntile':
          type = Types.int4;
          cargs = [this.coerce(args[0]!, Types.int4, 'implicit')];
          break;
        case 'lag':
        case 'lead': {
          type = args[0]!.type.id === 'unknown' ? Types.text : args[0]!.type;
          cargs = [args[0]!];
          if (args[1] !== undefined) cargs.push(this.coerce(args[1], Types.int4, 'implicit'));
          if (args[2] !== undefined) cargs.push(this.coerce(args[2], type, 'implicit'));
          break;
        }
        case 'first_value':
        case 'last_value':
          type = args[0]!.type;
          break;
        case 'nth_value':
          type = args[0]!.type;
          cargs = [args[0]!, this.coerce(args[1]!, Types.int4, 'implicit')];
          break;
        default: {
          if (!isAggregateName(name)) throw this.err('42809', `function ${name} is not a window function`, fc.location);
          const ra = resolveAggregate(
            name,
            args.map((a) => a.type),
            fc.agg_star === true,
          );
          if (ra === undefined)
            throw this.err(
              '42883',
              `function ${name}(${args.map((a) => formatType(a.type)).join(', ')}) does not exist`,
              fc.location,
            );
          type = ra.ret;
          cargs = args.map((a, i) => this.coerce(a, ra.argTypes[i] ?? a.type, 'implicit'));
          isAggregate = true;
        }
      }
      const id = this.newId();
      const filter =
        fc.agg_filter === undefined ? undefined : this.coerceBool(this.bindExpr(fc.agg_filter, scope), 'FILTER');
      st.windows.push({
        name,
        args: cargs,
        partitionBy,
        orderBy,
        frame,
        type,
        id,
        isAggregate,
        distinct: fc.agg_distinct === true,
        ...(filter === undefined ? {} : { filter }),
      });
      return { kind: 'col', type, id, name };
    } finally {
      st.allowWindows = prevAllowWin;
      this.srfSink = savedSink;
    }
  }

  private windowFrame(def: WindowDef, scope: Scope, hasOrder: boolean): WindowFrame {
    const opts = def.frameOptions ?? 0;
    // Frame option bits (PostgreSQL's FRAMEOPTION_*).
    const NONDEFAULT = 0x1;
    const RANGE = 0x2;
    const ROWS = 0x4;
    const GROUPS = 0x8;
    const START_UNBOUNDED_PRECEDING = 0x20;
    const END_UNBOUNDED_FOLLOWING = 0x100;
    const START_CURRENT_ROW = 0x200;
    const END_CURRENT_ROW = 0x400;
    const START_OFFSET_PRECEDING = 0x800;
    const END_OFFSET_PRECEDING = 0x1000;
    const START_OFFSET_FOLLOWING = 0x2000;
    const END_OFFSET_FOLLOWING = 0x4000;
    const EXCLUSION = 0x8000 | 0x10000 | 0x20000;
    if ((opts & NONDEFAULT) === 0) {
      return {
        mode: 'range',
        start: { kind: 'unbounded-preceding' },
        end: hasOrder ? { kind: 'current-row' } : { kind: 'unbounded-following' },
        isDefault: true,
      };
    }
    if ((opts & EXCLUSION) !== 0) throw notSupported('frame EXCLUDE clauses');
    const mode = (opts & ROWS) !== 0 ? 'rows' : (opts & GROUPS) !== 0 ? 'groups' : 'range';
    void RANGE;
    const off = (n: Node | undefined): Expr => {
      const e = this.bindExpr(n!, scope);
      return mode === 'range' ? e : this.coerce(e, Types.int8, 'implicit');
    };
    const start: FrameBound =
      (opts & START_UNBOUNDED_PRECEDING) !== 0
        ? { kind: 'unbounded-preceding' }
        : (opts & START_CURRENT_ROW) !== 0
          ? { kind: 'current-row' }
          : (opts & START_OFFSET_PRECEDING) !== 0
            ? { kind: 'preceding', offset: off(def.startOffset) }
            : (opts & START_OFFSET_FOLLOWING) !== 0
              ? { kind: 'following', offset: off(def.startOffset) }
              : { kind: 'unbounded-preceding' };
    const end: FrameBound =
      (opts & END_UNBOUNDED_FOLLOWING) !== 0
        ? { kind: 'unbounded-following' }
        : (opts & END_CURRENT_ROW) !== 0
          ? { kind: 'current-row' }
          : (opts & END_OFFSET_PRECEDING) !== 0
            ? { kind: 'preceding', offset: off(def.endOffset) }
            : (opts & END_OFFSET_FOLLOWING) !== 0
              ? { kind: 'following', offset: off(def.endOffset) }
              : { kind: 'current-row' };
    if (
      mode === 'range' &&
      (start.kind === 'preceding' || start.kind === 'following' || end.kind === 'preceding' || end.kind === 'following')
    ) {
      throw notSupported('RANGE frames with offsets');
    }
    return { mode, start, end, isDefault: false };
  }

  sortKey(e: Expr, s: SortBy): SortKey {
    const desc = s.sortby_dir === 'SORTBY_DESC';
    if (s.useOp !== undefined) throw notSupported('ORDER BY ... USING');
    const nullsFirst =
      s.sortby_nulls === 'SORTBY_NULLS_FIRST' ? true : s.sortby_nulls === 'SORTBY_NULLS_LAST' ? false : desc;
    const t = e.type.id === 'unknown' ? Types.text : e.type;
    return {
      expr: e.type.id === 'unknown' ? this.coerce(e, Types.text, 'implicit') : e,
      desc,
      nullsFirst,
      cmp: comparatorFor(t),
    };
  }

  private bindSubLink(sl: SubLink, scope: Scope): Expr {
    const inner = new Scope(scope);
    const savedAgg = this.agg;
    this.agg = undefined;
    let q: BoundQuery;
    try {
      q = this.bindSelectNode(sl.subselect!, inner);
    } finally {
      this.agg = savedAgg;
    }
    const correlated = inner.correlated || containsCorrelation(q.plan);
    const type = sl.subLinkType ?? 'EXPR_SUBLINK';
    switch (type) {
      case 'EXISTS_SUBLINK':
        return { kind: 'subquery', type: BOOL, mode: 'exists', plan: q.plan, correlated };
      case 'EXPR_SUBLINK': {
        if (q.cols.length !== 1) throw this.err('42601', 'subquery must return only one column', sl.location);
        return { kind: 'subquery', type: q.cols[0]!.type, mode: 'scalar', plan: q.plan, correlated };
      }
      case 'ARRAY_SUBLINK': {
        if (q.cols.length !== 1) throw this.err('42601', 'subquery must return only one column', sl.location);
        // ARRAY(SELECT arr): one more dimension over the rows' arrays, of the same array type.
        const t = q.cols[0]!.type;
        return { kind: 'subquery', type: t.id === 'array' ? t : arrayOf(t), mode: 'array', plan: q.plan, correlated };
      }
      case 'ANY_SUBLINK':
      case 'ALL_SUBLINK': {
        const opNames = (sl.operName ?? []).map(str);
        const op = (opNames[opNames.length - 1] ?? '=') as CompareOp;
        if (compareOpFn(op) === undefined) throw notSupported(`operator ${op} with a subquery`);
        let test = this.bindExpr(sl.testexpr!, scope);
        if (test.kind === 'row') throw notSupported('row comparison with a subquery');
        if (q.cols.length !== 1)
          throw this.err(
            '42601',
            q.cols.length > 1 ? 'subquery has too many columns' : 'subquery has too few columns',
            sl.location,
          );
        const colT = q.cols[0]!.type;
        const t = test.type.id === 'unknown' && colT.id === 'unknown' ? Types.text : commonType(test.type, colT);
        if (t === undefined)
          throw this.err(
            '42883',
            `operator does not exist: ${formatType(test.type)} ${op} ${formatType(colT)}`,
            sl.location,
          );
        test = this.coerce(test, t, 'implicit');
        let plan = q.plan;
        if (colT.oid !== t.oid) {
          // Cast the subquery's column to the comparison type.
          const id = this.newId();
          const src: Expr = { kind: 'col', type: colT, id: q.cols[0]!.id, name: q.cols[0]!.name };
          plan = {
            kind: 'project',
            input: plan,
            exprs: [this.coerce(src, t, 'implicit')],
            cols: [{ ...q.cols[0]!, id, type: t }],
          };
        }
        return {
          kind: 'subquery',
          type: BOOL,
          mode: type === 'ANY_SUBLINK' ? 'any' : 'all',
          plan,
          test,
          op,
          cmp: comparatorFor(t),
          correlated,
        };
      }
      default:
        throw notSupported(`subquery kind ${type}`);
    }
  }

  // ------------------------------------------------------------------ FROM

  /** Binds one FROM item; `lateral` is true when it reads columns of earlier items (re-run per row). */
  private bindFromItem(
    n: Node,
    scope: Scope,
    lateralScope: Scope,
  ): { plan: Plan; rels: ScopeRel[]; lateral?: boolean } {
    if ('RangeVar' in n) return this.bindRangeVar(n.RangeVar);
    if ('RangeSubselect' in n) return this.bindRangeSubselect(n.RangeSubselect, scope, lateralScope);
    if ('JoinExpr' in n) return this.bindJoin(n.JoinExpr, scope, lateralScope);
    if ('RangeFunction' in n) return this.bindRangeFunction(n.RangeFunction, scope, lateralScope);
    throw notSupported(`FROM item ${Object.keys(n)[0] ?? '?'}`);
  }

  private aliasCols(names: readonly string[], alias: RangeVar['alias'], what: string): string[] {
    const colnames = (alias?.colnames ?? []).map(str);
    if (colnames.length > names.length)
      throw this.err(
        '42P10',
        `table "${what}" has ${names.length} columns available but ${colnames.length} columns specified`,
      );
    return names.map((n, i) => colnames[i] ?? n);
  }

  /** A bound query (virtual relation, derived table) as one FROM relation, its columns renamed by the alias's column list. */
  private aliasedQuery(
    q: Pick<BoundQuery, 'plan' | 'cols'>,
    aliasNode: RangeVar['alias'],
    alias: string,
  ): { plan: Plan; rels: ScopeRel[] } {
    const names = this.aliasCols(
      q.cols.map((c) => c.name),
      aliasNode,
      alias,
    );
    const cols = q.cols.map((c, i) => ({
      name: names[i]!,
      id: c.id,
      type: c.type,
      tableOid: c.tableOid,
      attnum: c.attnum,
    }));
    return { plan: q.plan, rels: [{ alias, cols }] };
  }

  private bindRangeVar(rv: RangeVar): { plan: Plan; rels: ScopeRel[] } {
    const name = rv.relname ?? '';
    // CTE reference?
    if (rv.schemaname === undefined) {
      for (let i = this.ctes.length - 1; i >= 0; i--) {
        const cte = this.ctes[i]!.get(name);
        if (cte !== undefined) {
          if (cte.modifying === true && cte.plan.kind === 'modify' && cte.plan.modify.returning === undefined) {
            throw this.err(
              SqlState.featureNotSupported,
              `WITH query "${name}" does not have a RETURNING clause`,
              rv.location,
            );
          }
          const alias = rv.alias?.aliasname ?? name;
          const names = this.aliasCols(
            cte.cols.map((c) => c.name),
            rv.alias,
            alias,
          );
          const cols = cte.cols.map((c, j) => ({ ...c, id: this.newId(), name: names[j]! }));
          return { plan: { kind: 'cte-scan', cols, cte }, rels: [{ alias, cols: cols.map((c) => ({ ...c })) }] };
        }
      }
    }
    const virtual = this.virtualRelation(rv.schemaname, name);
    if (virtual !== undefined) {
      const voi = this.virtualOid?.(rv.schemaname, name);
      if (voi !== undefined) this.requireRel({ oid: voi, name, schema: rv.schemaname ?? 'pg_catalog' }, 'r');
      const alias = rv.alias?.aliasname ?? name;
      const q = virtual;
      return this.aliasedQuery(q, rv.alias, alias);
    }
    const t = this.lookupTable(rv.schemaname, name, rv.location)!;
    const alias = rv.alias?.aliasname ?? name;
    this.requireRel(t, 'r');
    if (t.kind === 'v') {
      const q = this.bindView(t);
      const names = this.aliasCols(
        q.cols.map((c) => c.name),
        rv.alias,
        alias,
      );
      return {
        plan: q.plan,
        rels: [
          { alias, cols: q.cols.map((c, i) => ({ name: names[i]!, id: c.id, type: c.type, tableOid: 0, attnum: 0 })) },
        ],
      };
    }
    const scan = this.tableScan(t, alias);
    const names = this.aliasCols(
      scan.rel.cols.map((c) => c.name),
      rv.alias,
      alias,
    );
    return { plan: scan.plan, rels: [{ alias, cols: scan.rel.cols.map((c, i) => ({ ...c, name: names[i]! })) }] };
  }

  /** Hook for pg_catalog / information_schema relations (set by the session). */
  virtualRelations: ((schema: string | undefined, name: string, binder: Binder) => BoundQuery | undefined) | undefined;

  private virtualRelation(schema: string | undefined, name: string): BoundQuery | undefined {
    if (this.virtualRelations === undefined) return undefined;
    this.privSkip++;
    try {
      return this.virtualRelations(schema, name, this);
    } finally {
      this.privSkip--;
    }
  }

  /** Binds a view's stored SELECT afresh (views are expanded like subqueries). */
  bindView(t: TableDef): BoundQuery {
    assert(t.viewSql !== undefined, 'view without SQL');
    const stmts = parseSql(t.viewSql);
    // The view's relations are read with its owner's privileges (PostgreSQL's rule).
    const sub = new Binder({
      ...this.o,
      sql: t.viewSql,
      paramTypes: [],
      ...(this.o.user === undefined || this.privSkip > 0 ? {} : { user: ownerOf(this.o.catalog, t.oid) }),
    });
    sub.privSkip = this.privSkip;
    sub.nextId = this.nextId + 1_000_000;
    sub.virtualRelations = this.virtualRelations;
    sub.virtualOid = this.virtualOid;
    const q = sub.bindSelectNode(stmts[0]!.stmt, new Scope(undefined));
    this.nextId = Math.max(this.nextId, sub.nextId) + 1;
    return q;
  }

  /** Binds SQL text in a fresh scope (used for virtual catalog relations). */
  bindSqlText(sql: string): BoundQuery {
    const stmts = parseSql(sql);
    const sub = new Binder({ ...this.o, sql, paramTypes: [] });
    sub.nextId = this.nextId + 1_000_000;
    sub.virtualRelations = this.virtualRelations;
    sub.virtualOid = this.virtualOid;
    const q = sub.bindSelectNode(stmts[0]!.stmt, new Scope(undefined));
    this.nextId = Math.max(this.nextId, sub.nextId) + 1;
    return q;
  }

  private bindRangeSubselect(
    rs: RangeSubselect,
    scope: Scope,
    lateralScope: Scope,
  ): { plan: Plan; rels: ScopeRel[]; lateral?: boolean } {
    const inner = new Scope(rs.lateral ? lateralScope : scope.parent);
    const savedAgg = this.agg;
    this.agg = undefined;
    let q: BoundQuery;
    try {
      q = this.bindSelectNode(rs.subquery!, inner);
    } finally {
      this.agg = savedAgg;
    }
    // Over-approximation: a derived table reading any outer column makes this query level correlated too.
    if (inner.correlated || lateralScope.correlated) scope.correlated = true;
    const lateral = rs.lateral === true && inner.correlated;
    const alias = rs.alias?.aliasname ?? '';
    return {
      ...this.aliasedQuery(q, rs.alias, alias),
      lateral,
    };
  }

  private bindRangeFunction(
    rf: RangeFunction,
    scope: Scope,
    lateralScope: Scope,
  ): { plan: Plan; rels: ScopeRel[]; lateral?: boolean } {
    if ((rf.functions ?? []).length !== 1 || rf.is_rowsfrom === true) throw notSupported('ROWS FROM (...)');
    const ordinality = rf.ordinality === true;
    const item = rf.functions![0]!;
    const items = 'List' in item ? (item.List.items ?? []) : [];
    const fnode = items[0];
    if (fnode === undefined || !('FuncCall' in fnode)) throw notSupported('this FROM function form');
    const fc = fnode.FuncCall;
    const name = this.funcName(fc);
    // Functions in FROM are implicitly LATERAL in PostgreSQL.
    const argScope = new Scope(lateralScope);
    const { args: namedArgs, names: argNames } = this.callArgs(fc, argScope);
    let args = namedArgs;
    if (argScope.correlated) scope.correlated = true;
    const lateral = argScope.correlated;
    const srf = resolveSrf(
      name,
      args.map((a) => a.type),
    );
    let cols: OutputColumn[];
    let plan: Plan;
    const alias = rf.alias?.aliasname ?? name;
    const uc = srf === undefined && !functionExists(name) ? this.userCall(fc, args, argNames, argScope) : undefined;
    const uf = uc?.f;
    if (uc !== undefined) args = uc.args;
    if (uf !== undefined) {
      // A user function in FROM: its rows (one row for a scalar function).
      const call = this.userSrfCall(uf, args, fc.location);
      const declared = uf.outColumns ?? [{ name: uf.name, type: uf.retType }];
      const outNames = declared.map((c) => c.name);
      if (uf.outColumns === undefined && rf.alias?.aliasname !== undefined && (rf.alias.colnames ?? []).length === 0)
        outNames[0] = alias;
      if (ordinality) outNames.push('ordinality');
      const names = this.aliasCols(outNames, rf.alias, alias);
      const types = call.body === undefined ? declared.map((c) => c.type) : outCols(call.body).map((c) => c.type);
      const colTypes = [...types, ...(ordinality ? [Types.int8] : [])];
      cols = colTypes.map((t, i) => ({ id: this.newId(), name: names[i]!, type: t, tableOid: 0, attnum: 0 }));
      plan = { kind: 'function-scan', cols, ordinality, ...call };
      return { plan, rels: [{ alias, cols: cols.map((c) => ({ ...c })) }], lateral };
    }
    if (srf !== undefined) {
      const cargs = args.map((a, i) => this.coerce(a, srf.argTypes[i] ?? a.type, 'implicit'));
      const colNames =
        srf.columns.length === 1 && rf.alias?.aliasname !== undefined && (rf.alias.colnames ?? []).length === 0
          ? [alias]
          : srf.columns.map((c) => c.name);
      if (ordinality) colNames.push('ordinality');
      const colTypes = [...srf.columns.map((c) => c.type), ...(ordinality ? [Types.int8] : [])];
      const names = this.aliasCols(colNames, rf.alias, alias);
      cols = colTypes.map((t, i) => ({ id: this.newId(), name: names[i]!, type: t, tableOid: 0, attnum: 0 }));
      plan = { kind: 'function-scan', cols, name, args: cargs, impl: srf.impl, ordinality };
    } else {
      if (ordinality) throw notSupported('WITH ORDINALITY on a scalar function');
      // A scalar function in FROM yields one row.
      const e = this.makeFuncCall(name, args, fc.location);
      const names = this.aliasCols([rf.alias?.aliasname ?? name], rf.alias, alias);
      cols = [{ id: this.newId(), name: names[0]!, type: e.type, tableOid: 0, attnum: 0 }];
      plan = { kind: 'project', input: { kind: 'one-row', cols: [] }, exprs: [e], cols };
    }
    return { plan, rels: [{ alias, cols: cols.map((c) => ({ ...c })) }], lateral };
  }

  private bindJoin(j: JoinExpr, scope: Scope, lateralScope: Scope): { plan: Plan; rels: ScopeRel[] } {
    const left = this.bindFromItem(j.larg!, scope, lateralScope);
    const rightLateral = new Scope(lateralScope.parent);
    rightLateral.rels = [...lateralScope.rels, ...left.rels];
    const right = this.bindFromItem(j.rarg!, scope, rightLateral);
    const jt: JoinType =
      j.jointype === 'JOIN_LEFT'
        ? 'left'
        : j.jointype === 'JOIN_RIGHT'
          ? 'right'
          : j.jointype === 'JOIN_FULL'
            ? 'full'
            : 'inner';
    const joinScope = new Scope(scope.parent);
    joinScope.rels = [...left.rels, ...right.rels];
    let cond: Expr | undefined;
    let rels = [...left.rels, ...right.rels];
    let usingNames: string[] | undefined;
    const fullMerged: Expr[] = [];
    if (j.isNatural) {
      const lnames = new Set(left.rels.flatMap((r) => r.cols.filter((c) => !c.usingHidden).map((c) => c.name)));
      usingNames = [
        ...new Set(right.rels.flatMap((r) => r.cols.filter((c) => !c.usingHidden).map((c) => c.name))),
      ].filter((n) => lnames.has(n));
    } else if (j.usingClause !== undefined) usingNames = j.usingClause.map(str);
    if (usingNames !== undefined) {
      const conds: Expr[] = [];
      const hideRight = new Set<ColumnId>();
      for (const nme of usingNames) {
        const l = this.findColumnIn(left.rels, nme);
        const r = this.findColumnIn(right.rels, nme);
        if (l === undefined || r === undefined)
          throw this.err(
            '42703',
            `column "${nme}" specified in USING clause does not exist in ${l === undefined ? 'left' : 'right'} table`,
          );
        conds.push(
          this.makeCompare(
            '=',
            { kind: 'col', type: l.type, id: l.id, name: nme },
            { kind: 'col', type: r.type, id: r.id, name: nme },
          ),
        );
        (jt === 'right' ? undefined : hideRight)?.add(r.id);
        if (jt === 'right') hideRight.add(l.id);
      }
      cond = conds.length === 0 ? undefined : conds.length === 1 ? conds[0] : { kind: 'and', type: BOOL, args: conds };
      // USING columns appear once in '*', first; the hidden twins stay addressable by qualified name.
      // FULL JOIN merges them as COALESCE(left, right), computed by a projection over the join.
      const usingCols: ScopeColumn[] = [];
      for (const nme of usingNames) {
        if (jt === 'full') {
          const l = this.findColumnIn(left.rels, nme)!;
          const r = this.findColumnIn(right.rels, nme)!;
          const t = this.unifyTypes([l.type, r.type], 'JOIN/USING');
          const e: Expr = {
            kind: 'coalesce',
            type: t,
            args: [
              this.coerce({ kind: 'col', type: l.type, id: l.id, name: nme }, t, 'implicit'),
              this.coerce({ kind: 'col', type: r.type, id: r.id, name: nme }, t, 'implicit'),
            ],
            cmp: comparatorFor(t),
          };
          usingCols.push({ name: nme, id: this.newId(), type: t, tableOid: 0, attnum: 0 });
          fullMerged.push(e);
          hideRight.add(l.id);
          hideRight.add(r.id);
          continue;
        }
        const keep = jt === 'right' ? this.findColumnIn(right.rels, nme)! : this.findColumnIn(left.rels, nme)!;
        usingCols.push(keep);
      }
      rels = [
        { alias: '', cols: usingCols },
        ...rels.map((r) => ({
          alias: r.alias,
          cols: r.cols.map((c) =>
            hideRight.has(c.id) || usingCols.some((u) => u.id === c.id) ? { ...c, usingHidden: true } : c,
          ),
        })),
      ];
    } else if (j.quals !== undefined) {
      const quals = j.quals;
      cond = this.withSrfSink(Binder.srfRefused('JOIN conditions'), () =>
        this.coerceBool(this.bindExpr(quals, joinScope), 'JOIN/ON'),
      );
    }
    if (joinScope.correlated) scope.correlated = true;
    const cols = [...outCols(left.plan), ...outCols(right.plan)];
    if (right.lateral === true && jt !== 'inner' && jt !== 'left')
      throw this.err('42P10', 'The combining JOIN type must be INNER or LEFT for a LATERAL reference.');
    let plan: Plan = {
      kind: 'join',
      cols,
      joinType: jt,
      left: left.plan,
      right: right.plan,
      ...(cond === undefined ? {} : { cond }),
      lateral: right.lateral === true,
    };
    if (fullMerged.length > 0) {
      const merged = rels[0]!.cols;
      const pcols: OutputColumn[] = [
        ...merged.map((c) => ({ id: c.id, name: c.name, type: c.type, tableOid: 0, attnum: 0 })),
        ...cols,
      ];
      plan = {
        kind: 'project',
        cols: pcols,
        input: plan,
        exprs: [...fullMerged, ...cols.map((c) => ({ kind: 'col', type: c.type, id: c.id, name: c.name }) as Expr)],
      };
    }
    if (j.alias?.aliasname !== undefined) {
      const alias = j.alias.aliasname;
      const visible = rels.flatMap((r) => r.cols.filter((c) => !c.usingHidden));
      const names = this.aliasCols(
        visible.map((c) => c.name),
        j.alias,
        alias,
      );
      return { plan, rels: [{ alias, cols: visible.map((c, i) => ({ ...c, name: names[i]! })) }] };
    }
    return { plan, rels };
  }

  private findColumnIn(rels: readonly ScopeRel[], name: string): ScopeColumn | undefined {
    for (const r of rels) for (const c of r.cols) if (c.name === name && !c.usingHidden) return c;
    return undefined;
  }

  // ---------------------------------------------------------------- SELECT

  /** Binds any query node (SelectStmt) in `scope` (whose parent is the enclosing query). */
  bindSelectNode(n: Node, scope: Scope): BoundQuery {
    if ('SelectStmt' in n) return this.bindSelect(n.SelectStmt, scope);
    throw notSupported(`${Object.keys(n)[0] ?? '?'} as a subquery`);
  }

  bindTopQuery(n: Node): BoundQuery {
    return this.bindSelectNode(n, new Scope(undefined));
  }

  private bindWith(w: WithClause | undefined, scope: Scope, topLevel = false): boolean {
    if (w === undefined) return false;
    const frame = new Map<string, CteDef>();
    this.ctes.push(frame);
    for (const c of w.ctes ?? []) {
      assert('CommonTableExpr' in c, 'WITH item');
      this.bindCte(c.CommonTableExpr, frame, w.recursive === true, scope, topLevel);
    }
    return true;
  }

  /** The data-modifying CTEs of the innermost WITH frame, in order. */
  private modifyingCtes(): CteDef[] {
    const frame = this.ctes[this.ctes.length - 1];
    return frame === undefined ? [] : [...frame.values()].filter((c) => c.modifying === true);
  }

  /** Wraps a statement's plan so that its data-modifying CTEs run first (see Plan 'with-writes'). */
  private withWrites(q: BoundQuery, ctes: readonly CteDef[]): BoundQuery {
    if (ctes.length === 0) return q;
    return { plan: { kind: 'with-writes', cols: q.cols, ctes, input: q.plan }, cols: q.cols };
  }

  private bindCte(
    cte: CommonTableExpr,
    frame: Map<string, CteDef>,
    recursive: boolean,
    scope: Scope,
    topLevel: boolean,
  ): void {
    const name = cte.ctename ?? '';
    const q = cte.ctequery!;
    if (frame.has(name)) throw this.err('42712', `WITH query name "${name}" specified more than once`, cte.location);
    if ('InsertStmt' in q || 'UpdateStmt' in q || 'DeleteStmt' in q) {
      if (!topLevel)
        throw this.err(
          SqlState.featureNotSupported,
          'WITH clause containing a data-modifying statement must be at the top level',
          cte.location,
        );
      const body =
        'InsertStmt' in q
          ? this.bindInsert(q.InsertStmt)
          : 'UpdateStmt' in q
            ? this.bindUpdate(q.UpdateStmt)
            : this.bindDelete(q.DeleteStmt);
      const aliasNames = (cte.aliascolnames ?? []).map(str);
      if (aliasNames.length > body.cols.length)
        throw this.err(
          '42P10',
          `WITH query "${name}" has ${body.cols.length} columns available but ${aliasNames.length} columns specified`,
          cte.location,
        );
      frame.set(name, {
        name,
        id: this.cteCounter++,
        plan: body.plan,
        cols: body.cols.map((c, i) => ({ ...c, name: aliasNames[i] ?? c.name })),
        modifying: true,
      });
      return;
    }
    if (!('SelectStmt' in q)) throw notSupported('this statement in WITH');
    const sel = q.SelectStmt;
    const aliasNames = (cte.aliascolnames ?? []).map(str);
    const inner = new Scope(scope.parent);
    if (recursive && sel.op === 'SETOP_UNION' && this.referencesName(sel.rarg, name)) {
      const base = this.bindSelect(sel.larg!, inner);
      const cols: OutputColumn[] = base.cols.map((c, i) => ({
        ...c,
        id: this.newId(),
        name: aliasNames[i] ?? c.name,
        tableOid: 0,
        attnum: 0,
      }));
      const def: CteDef = {
        name,
        id: this.cteCounter++,
        plan: base.plan,
        cols: base.cols.map((c, i) => ({ ...c, name: aliasNames[i] ?? c.name })),
      };
      frame.set(name, def);
      const rec = this.bindSelect(sel.rarg!, new Scope(scope.parent));
      if (rec.cols.length !== base.cols.length)
        throw this.err('42601', `each UNION query must have the same number of columns`);
      // The recursive part's columns must match the base types.
      const recPlan = this.castPlan(
        rec,
        base.cols.map((c) => c.type),
      );
      def.recursive = { plan: recPlan.plan, all: sel.all === true };
      void cols;
      return;
    }
    const body = this.bindSelect(sel, inner);
    frame.set(name, {
      name,
      id: this.cteCounter++,
      plan: body.plan,
      cols: body.cols.map((c, i) => ({ ...c, name: aliasNames[i] ?? c.name })),
    });
  }

  private referencesName(n: SelectStmt | undefined, name: string): boolean {
    return n !== undefined && JSON.stringify(n).includes(`"relname":${JSON.stringify(name)}`);
  }

  /** Casts a query's output columns to `types` (a projection when needed). */
  castPlan(q: BoundQuery, types: readonly SqlType[]): BoundQuery {
    if (
      q.cols.every(
        (c, i) => c.type.oid === types[i]!.oid && (types[i]!.typmod < 0 || c.type.typmod === types[i]!.typmod),
      )
    )
      return q;
    const exprs = q.cols.map((c, i) =>
      this.coerce({ kind: 'col', type: c.type, id: c.id, name: c.name }, types[i]!, 'implicit'),
    );
    const cols = q.cols.map((c, i) => ({ ...c, id: this.newId(), type: types[i]! }));
    return { plan: { kind: 'project', input: q.plan, exprs, cols }, cols };
  }

  bindSelect(s: SelectStmt, scope: Scope): BoundQuery {
    const topLevel = this.selectDepth === 0 && this.dmlDepth === 0;
    this.selectDepth++;
    const pushed = this.bindWith(s.withClause, scope, topLevel);
    try {
      const writes = pushed ? this.modifyingCtes() : [];
      if (s.op !== undefined && s.op !== 'SETOP_NONE') return this.withWrites(this.bindSetOp(s, scope), writes);
      if (s.valuesLists !== undefined)
        return this.withWrites(this.finishQuery(this.bindValues(s, scope), s, scope), writes);
      return this.withWrites(this.bindSimpleSelect(s, scope), writes);
    } finally {
      if (pushed) this.ctes.pop();
      this.selectDepth--;
    }
  }

  /** Nesting depth of INSERT/UPDATE/DELETE binding (a DML's own WITH is top level only for the statement itself). */
  private dmlDepth = 0;

  /** Binds a top-level INSERT/UPDATE/DELETE with its WITH clause (data-modifying CTEs allowed there). */
  private bindDml(w: WithClause | undefined, bind: () => BoundQuery): BoundQuery {
    const topLevel = this.selectDepth === 0 && this.dmlDepth === 0;
    this.dmlDepth++;
    const pushed = this.bindWith(w, new Scope(undefined), topLevel);
    try {
      return this.withWrites(bind(), pushed ? this.modifyingCtes() : []);
    } finally {
      if (pushed) this.ctes.pop();
      this.dmlDepth--;
    }
  }

  private bindValues(s: SelectStmt, scope: Scope): BoundQuery {
    const rows = this.withSrfSink(Binder.srfRefused('VALUES'), () =>
      (s.valuesLists ?? []).map((l) => ('List' in l ? (l.List.items ?? []) : []).map((e) => this.bindExpr(e, scope))),
    );
    const width = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== width)) throw this.err('42601', 'VALUES lists must all be the same length');
    const types = Array.from({ length: width }, (_, i) =>
      this.unifyTypes(
        rows.map((r) => r[i]!.type),
        'VALUES',
      ),
    );
    const cols: OutputColumn[] = types.map((t, i) => ({
      id: this.newId(),
      name: `column${i + 1}`,
      type: t,
      tableOid: 0,
      attnum: 0,
    }));
    return {
      plan: { kind: 'values', cols, rows: rows.map((r) => r.map((e, i) => this.coerce(e, types[i]!, 'implicit'))) },
      cols,
    };
  }

  /** ORDER BY / LIMIT over an already-built query (VALUES, set operations): only output columns are visible. */
  private finishQuery(q: BoundQuery, s: SelectStmt, scope: Scope): BoundQuery {
    let plan = q.plan;
    if ((s.sortClause ?? []).length > 0) {
      const outScope = new Scope(scope.parent);
      outScope.rels = [{ alias: '', cols: q.cols.map((c) => ({ ...c })) }];
      const keys = (s.sortClause ?? []).map((item) => {
        assert('SortBy' in item, 'ORDER BY item');
        const sb = item.SortBy;
        const node = sb.node!;
        if ('A_Const' in node && node.A_Const.ival !== undefined) {
          const k = node.A_Const.ival.ival ?? 0;
          const c = q.cols[k - 1];
          if (c === undefined)
            throw this.err('42P10', `ORDER BY position ${k} is not in select list`, node.A_Const.location);
          return this.sortKey({ kind: 'col', type: c.type, id: c.id, name: c.name }, sb);
        }
        return this.sortKey(this.bindExpr(node, outScope), sb);
      });
      plan = { kind: 'sort', cols: q.cols, input: plan, keys };
    }
    plan = this.applyLimit(plan, s, scope);
    return { plan, cols: q.cols };
  }

  private applyLimit(plan: Plan, s: SelectStmt, scope: Scope): Plan {
    if (s.limitCount === undefined && s.limitOffset === undefined) return plan;
    if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') throw notSupported('FETCH ... WITH TIES');
    const noCols = new Scope(scope.parent);
    const bound = (n: Node | undefined, clause: string): Expr | undefined =>
      n === undefined
        ? undefined
        : this.withSrfSink(Binder.srfRefused(clause), () =>
            this.coerce(this.bindExpr(n, noCols), Types.int8, 'implicit'),
          );
    const lim = bound(s.limitCount, 'LIMIT');
    const off = bound(s.limitOffset, 'OFFSET');
    return {
      kind: 'limit',
      cols: outCols(plan),
      input: plan,
      ...(lim === undefined ? {} : { limit: lim }),
      ...(off === undefined ? {} : { offset: off }),
    };
  }

  private bindSetOp(s: SelectStmt, scope: Scope): BoundQuery {
    const l = this.bindSelect(s.larg!, new Scope(scope.parent));
    const r = this.bindSelect(s.rarg!, new Scope(scope.parent));
    const opName = s.op === 'SETOP_UNION' ? 'UNION' : s.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT';
    if (l.cols.length !== r.cols.length)
      throw this.err('42601', `each ${opName} query must have the same number of columns`);
    const types = l.cols.map((c, i) => this.unifyTypes([c.type, r.cols[i]!.type], opName));
    const lc = this.castPlan(l, types);
    const rc = this.castPlan(r, types);
    const cols: OutputColumn[] = l.cols.map((c, i) => ({
      id: this.newId(),
      name: c.name,
      type: types[i]!,
      tableOid: 0,
      attnum: 0,
    }));
    const op = s.op === 'SETOP_UNION' ? 'union' : s.op === 'SETOP_INTERSECT' ? 'intersect' : 'except';
    const plan: Plan = { kind: 'setop', cols, op, all: s.all === true, left: lc.plan, right: rc.plan };
    return this.finishQuery({ plan, cols }, s, scope);
  }

  private bindSimpleSelect(s: SelectStmt, scope: Scope): BoundQuery {
    const savedSink = this.srfSink;
    try {
      return this.bindSimpleSelectClauses(s, scope);
    } finally {
      this.srfSink = savedSink;
    }
  }

  private bindSimpleSelectClauses(s: SelectStmt, scope: Scope): BoundQuery {
    if (s.intoClause !== undefined) throw notSupported('SELECT INTO');
    // FROM
    this.srfSink = FROM_SRF;
    let plan: Plan = { kind: 'one-row', cols: [] };
    let first = true;
    for (const item of s.fromClause ?? []) {
      const lateralScope = new Scope(scope.parent);
      lateralScope.rels = [...scope.rels];
      const b = this.bindFromItem(item, scope, lateralScope);
      for (const rel of b.rels) {
        if (rel.alias !== '' && scope.rels.some((x) => x.alias === rel.alias) && !('JoinExpr' in item)) {
          throw this.err('42712', `table name "${rel.alias}" specified more than once`);
        }
      }
      scope.rels.push(...b.rels);
      plan = first
        ? b.plan
        : {
            kind: 'join',
            cols: [...outCols(plan), ...outCols(b.plan)],
            joinType: 'inner',
            left: plan,
            right: b.plan,
            lateral: b.lateral === true,
          };
      first = false;
    }
    // WHERE
    this.srfSink = Binder.srfRefused('WHERE');
    if (s.whereClause !== undefined) {
      const savedAgg = this.agg;
      this.agg = undefined;
      try {
        const pred = this.coerceBool(this.bindExpr(s.whereClause, scope), 'WHERE');
        plan = { kind: 'filter', cols: outCols(plan), input: plan, pred };
      } catch (e) {
        if (e instanceof NextDbError && e.code === '42803')
          throw this.err('42803', 'aggregate functions are not allowed in WHERE');
        throw e;
      } finally {
        this.agg = savedAgg;
      }
    }
    const inputCols = outCols(plan);
    const inputIds = new Set(inputCols.map((c) => c.id));
    const windowDefs = new Map<string, WindowDef>();
    for (const w of s.windowClause ?? [])
      if ('WindowDef' in w && w.WindowDef.name !== undefined) windowDefs.set(w.WindowDef.name, w.WindowDef);
    const st: AggState = {
      aggs: [],
      windows: [],
      scope,
      inAggArgs: false,
      allowAggs: true,
      allowWindows: true,
      windowDefs,
      groupingCalls: [],
    };
    const savedAgg = this.agg;
    this.agg = st;
    // Set-returning functions of the select list, GROUP BY, ORDER BY and DISTINCT ON.
    const srfSink: SrfSink & { kind: 'collect' } = { kind: 'collect', scope, calls: [] };
    this.srfSink = srfSink;
    try {
      // Select list (with * expansion).
      const targets: { expr: Expr; name: string; col?: ScopeColumn; location?: number }[] = [];
      for (const t of s.targetList ?? []) {
        assert('ResTarget' in t, 'select list item');
        const rt = t.ResTarget;
        const v = rt.val!;
        if ('ColumnRef' in v && (v.ColumnRef.fields ?? []).some((f) => 'A_Star' in f)) {
          const fields = v.ColumnRef.fields ?? [];
          const relName = fields.length > 1 ? str(fields[fields.length - 2]) : undefined;
          const rels = relName === undefined ? scope.rels : scope.rels.filter((r) => r.alias === relName);
          if (relName !== undefined && rels.length === 0)
            throw this.err(
              SqlState.undefinedTable,
              `missing FROM-clause entry for table "${relName}"`,
              v.ColumnRef.location,
            );
          if (relName === undefined && scope.rels.length === 0)
            throw this.err('42601', 'SELECT * with no tables specified is not valid', v.ColumnRef.location);
          for (const r of rels) {
            for (const c of r.cols) {
              if (c.usingHidden && relName === undefined) continue;
              targets.push({ expr: { kind: 'col', type: c.type, id: c.id, name: c.name }, name: c.name, col: c });
            }
          }
          continue;
        }
        const fields = this.recordStar(v, scope);
        if (fields !== undefined) {
          for (const f of fields) targets.push(f);
          continue;
        }
        const expr = this.bindExpr(v, scope);
        const found = expr.kind === 'col' ? inputCols.find((c) => c.id === expr.id) : undefined;
        targets.push({
          expr,
          name: rt.name ?? this.defaultName(v),
          ...(found === undefined
            ? {}
            : {
                col: {
                  name: found.name,
                  id: found.id,
                  type: found.type,
                  tableOid: found.tableOid,
                  attnum: found.attnum,
                },
              }),
          ...(rt.location === undefined ? {} : { location: rt.location }),
        });
      }
      // GROUP BY (plain expressions, and GROUPING SETS / ROLLUP / CUBE expanded to lists of sets).
      const groupExprs: Expr[] = [];
      const groupKeys: string[] = [];
      const indexOfGroup = (g: Node): number => {
        st.allowAggs = false;
        try {
          const e = this.bindGroupItem(g, scope, targets);
          const k = exprKey(e);
          let i = groupKeys.indexOf(k);
          if (i < 0) {
            i = groupExprs.length;
            groupExprs.push(e);
            groupKeys.push(k);
          }
          return i;
        } finally {
          st.allowAggs = true;
        }
      };
      const setsOf = (g: Node): number[][] => {
        if (!('GroupingSet' in g)) return [[indexOfGroup(g)]];
        const gs = g.GroupingSet;
        const content = gs.content ?? [];
        const item = (n: Node): number[] =>
          'RowExpr' in n ? (n.RowExpr.args ?? []).map(indexOfGroup) : [indexOfGroup(n)];
        switch (gs.kind) {
          case 'GROUPING_SET_EMPTY':
            return [[]];
          case 'GROUPING_SET_SIMPLE':
            return [content.flatMap(item)];
          case 'GROUPING_SET_ROLLUP': {
            const parts = content.map(item);
            const out: number[][] = [];
            for (let n = parts.length; n >= 0; n--) out.push(parts.slice(0, n).flat());
            return out;
          }
          case 'GROUPING_SET_CUBE': {
            const parts = content.map(item);
            const out: number[][] = [];
            for (let mask = (1 << parts.length) - 1; mask >= 0; mask--)
              out.push(parts.filter((_p, i) => (mask & (1 << (parts.length - 1 - i))) !== 0).flat());
            return out;
          }
          case 'GROUPING_SET_SETS':
            return content.flatMap(setsOf);
          default:
            throw notSupported(`grouping set kind ${gs.kind ?? '?'}`);
        }
      };
      let groupingSets: number[][] | undefined;
      const hasSets = (s.groupClause ?? []).some(
        (g) => 'GroupingSet' in g && g.GroupingSet.kind !== 'GROUPING_SET_EMPTY',
      );
      if (hasSets) {
        // GROUP BY a, ROLLUP(b) is the cross product of the items' sets.
        let acc: number[][] = [[]];
        for (const g of s.groupClause ?? []) {
          const sets = setsOf(g);
          acc = acc.flatMap((x) => sets.map((y) => [...x, ...y]));
        }
        groupingSets = acc.map((set) => [...new Set(set)]);
      } else {
        for (const g of s.groupClause ?? []) {
          if ('GroupingSet' in g) continue;
          indexOfGroup(g);
        }
      }
      // HAVING
      let having: Expr | undefined;
      if (s.havingClause !== undefined) {
        st.allowWindows = false;
        this.srfSink = Binder.srfRefused('HAVING');
        having = this.coerceBool(this.bindExpr(s.havingClause, scope), 'HAVING');
        this.srfSink = srfSink;
        st.allowWindows = true;
      }
      // ORDER BY (bound now so that aggregates in it are collected).
      const sortItems: { key: SortKey; targetIndex: number | undefined }[] = [];
      for (const item of s.sortClause ?? []) {
        assert('SortBy' in item, 'ORDER BY item');
        const sb = item.SortBy;
        const node = sb.node!;
        if (
          'A_Const' in node &&
          (node.A_Const.ival !== undefined ||
            (node.A_Const.fval === undefined &&
              node.A_Const.sval === undefined &&
              !node.A_Const.isnull &&
              node.A_Const.boolval === undefined))
        ) {
          const k = node.A_Const.ival?.ival ?? 0;
          const tgt = targets[k - 1];
          if (tgt === undefined)
            throw this.err('42P10', `ORDER BY position ${k} is not in select list`, node.A_Const.location);
          sortItems.push({ key: this.sortKey(tgt.expr, sb), targetIndex: k - 1 });
          continue;
        }
        if ('ColumnRef' in node && (node.ColumnRef.fields ?? []).length === 1) {
          const nm = str(node.ColumnRef.fields![0]);
          const matches = targets.map((t, i) => [t, i] as const).filter(([t]) => t.name === nm);
          if (matches.length > 0) {
            const distinctExprs = new Set(matches.map(([t]) => exprKey(t.expr)));
            if (distinctExprs.size > 1)
              throw this.err('42702', `ORDER BY "${nm}" is ambiguous`, node.ColumnRef.location);
            const [t, i] = matches[0]!;
            sortItems.push({ key: this.sortKey(t.expr, sb), targetIndex: i });
            continue;
          }
        }
        const e = this.bindExpr(node, scope);
        const idx = targets.findIndex((t) => exprKey(t.expr) === exprKey(e));
        sortItems.push({ key: this.sortKey(e, sb), targetIndex: idx >= 0 ? idx : undefined });
      }
      const distinctOn: Expr[] | undefined =
        s.distinctClause === undefined
          ? undefined
          : s.distinctClause.length === 1 && Object.keys(s.distinctClause[0]!).length === 0
            ? []
            : s.distinctClause.map((d) => {
                if ('A_Const' in d && d.A_Const.ival !== undefined) {
                  const t = targets[(d.A_Const.ival.ival ?? 0) - 1];
                  if (t === undefined) throw this.err('42P10', 'SELECT DISTINCT ON position is not in select list');
                  return t.expr;
                }
                return this.bindExpr(d, scope);
              });
      const isDistinct = s.distinctClause !== undefined;
      const aggregated =
        st.aggs.length > 0 || groupExprs.length > 0 || having !== undefined || (s.groupClause ?? []).length > 0;
      let rewrite = (e: Expr): Expr => e;
      // Set-returning functions that GROUP BY reads run below the aggregate (PostgreSQL's rule); the rest above it.
      const srfsBelow = aggregated ? srfsReadBy(groupExprs, srfSink.calls) : [];
      const belowIds = new Set(srfsBelow.map((c) => c.srf.id));
      let srfsAbove = srfSink.calls.filter((c) => !belowIds.has(c.srf.id));
      if (aggregated) {
        plan = this.projectSets(plan, srfsBelow, (e) => e);
        const groupCols: OutputColumn[] = groupExprs.map((g) => ({
          id: this.newId(),
          name: g.kind === 'col' ? g.name : '?column?',
          type: g.type,
          tableOid: 0,
          attnum: 0,
        }));
        const aggCols: OutputColumn[] = st.aggs.map((a) => ({
          id: a.id,
          name: a.name,
          type: a.type,
          tableOid: 0,
          attnum: 0,
        }));
        const groupKeyList = groupExprs.map(exprKey);
        const groupingCalls = st.groupingCalls.map((g) => ({
          id: g.id,
          args: g.args.map((a) => {
            const i = groupKeyList.indexOf(exprKey(a));
            if (i < 0)
              throw this.err(
                '42803',
                'arguments to GROUPING must be grouping expressions of the associated query level',
              );
            return i;
          }),
        }));
        const groupingCols: OutputColumn[] = groupingCalls.map((g) => ({
          id: g.id,
          name: 'grouping',
          type: Types.int4,
          tableOid: 0,
          attnum: 0,
        }));
        plan = {
          kind: 'aggregate',
          cols: [...groupCols, ...aggCols, ...groupingCols],
          input: plan,
          groups: groupExprs,
          aggs: st.aggs,
          ...(groupingSets === undefined ? {} : { groupingSets }),
          ...(groupingCalls.length === 0 ? {} : { groupingCalls }),
        };
        const aggIds = new Set([...st.aggs.map((a) => a.id), ...groupingCalls.map((g) => g.id)]);
        const windowIds = new Set<ColumnId>();
        rewrite = (e: Expr): Expr => {
          const gi = groupKeys.indexOf(exprKey(e));
          if (gi >= 0)
            return {
              kind: 'col',
              type: groupCols[gi]!.type,
              id: groupCols[gi]!.id,
              name: e.kind === 'col' ? e.name : groupCols[gi]!.name,
            };
          if (e.kind === 'col') {
            if (aggIds.has(e.id) || windowIds.has(e.id) || (!inputIds.has(e.id) && !belowIds.has(e.id))) return e;
            const src = inputCols.find((c) => c.id === e.id);
            const rel = scope.rels.find((r) => r.cols.some((c) => c.id === e.id));
            throw this.err(
              '42803',
              `column "${rel !== undefined && rel.alias !== '' ? `${rel.alias}.` : ''}${src?.name ?? e.name}" must appear in the GROUP BY clause or be used in an aggregate function`,
            );
          }
          return mapExpr(e, rewrite);
        };
        for (const w of st.windows) windowIds.add(w.id);
        if (having !== undefined) plan = { kind: 'filter', cols: outCols(plan), input: plan, pred: rewrite(having) };
      }
      // Window functions.
      if (st.windows.length > 0) {
        const calls = st.windows.map((w) => ({
          ...w,
          args: w.args.map(rewrite),
          partitionBy: w.partitionBy.map(rewrite),
          orderBy: w.orderBy.map((k) => ({ ...k, expr: rewrite(k.expr) })),
          ...(w.filter === undefined ? {} : { filter: rewrite(w.filter) }),
        }));
        // Set-returning functions a window's PARTITION BY / ORDER BY reads run below the window node (PostgreSQL's rule).
        const windowSrfs = srfsReadBy(
          calls.flatMap((c) => [...c.partitionBy, ...c.orderBy.map((k) => k.expr)]),
          srfsAbove,
        );
        if (windowSrfs.length > 0) {
          plan = this.projectSets(plan, windowSrfs, rewrite);
          const done = new Set(windowSrfs.map((c) => c.srf.id));
          srfsAbove = srfsAbove.filter((c) => !done.has(c.srf.id));
        }
        const wcols: OutputColumn[] = calls.map((c) => ({
          id: c.id,
          name: c.name,
          type: c.type,
          tableOid: 0,
          attnum: 0,
        }));
        plan = { kind: 'window', cols: [...outCols(plan), ...wcols], input: plan, calls };
      }
      // Projection: select list, then hidden sort/distinct-on expressions.
      const finalTargets = targets.map((t) => ({ ...t, expr: rewrite(t.expr) }));
      const projCols: OutputColumn[] = finalTargets.map((t) => ({
        id: this.newId(),
        name: t.name,
        type: t.expr.type.id === 'unknown' ? Types.text : t.expr.type,
        tableOid: t.col?.tableOid ?? 0,
        attnum: t.col?.attnum ?? 0,
      }));
      const projExprs: Expr[] = finalTargets.map((t) =>
        t.expr.type.id === 'unknown' ? this.coerce(t.expr, Types.text, 'implicit') : t.expr,
      );
      const sortKeys: SortKey[] = [];
      for (const si of sortItems) {
        if (si.targetIndex !== undefined) {
          const c = projCols[si.targetIndex]!;
          sortKeys.push({ ...si.key, expr: { kind: 'col', type: c.type, id: c.id, name: c.name } });
          continue;
        }
        if (isDistinct && distinctOn !== undefined && distinctOn.length === 0) {
          throw this.err('42P10', 'for SELECT DISTINCT, ORDER BY expressions must appear in select list');
        }
        const e = rewrite(si.key.expr);
        const id = this.newId();
        projCols.push({ id, name: '?sort?', type: e.type, tableOid: 0, attnum: 0 });
        projExprs.push(e);
        sortKeys.push({ ...si.key, expr: { kind: 'col', type: e.type, id, name: '?sort?' } });
      }
      let distinctKeys: Expr[] | undefined;
      if (distinctOn !== undefined && distinctOn.length > 0) {
        distinctKeys = distinctOn.map((d) => {
          const e = rewrite(d);
          const idx = finalTargets.findIndex((t) => exprKey(t.expr) === exprKey(e));
          if (idx >= 0)
            return { kind: 'col', type: projCols[idx]!.type, id: projCols[idx]!.id, name: projCols[idx]!.name } as Expr;
          const id = this.newId();
          projCols.push({ id, name: '?distinct?', type: e.type, tableOid: 0, attnum: 0 });
          projExprs.push(e);
          return { kind: 'col', type: e.type, id, name: '?distinct?' } as Expr;
        });
      }
      // Set-returning functions: ProjectSet nodes between the aggregate/window output and the projection. Only
      // those the projection still reads run: like PostgreSQL, `NULL::int + generate_series(1, 3)` folds to one NULL.
      plan = this.projectSets(plan, srfsReadBy(projExprs, srfsAbove), rewrite);
      plan = { kind: 'project', cols: projCols, input: plan, exprs: projExprs };
      const visible = projCols.slice(0, targets.length);
      if (isDistinct) {
        if (distinctKeys !== undefined) {
          // DISTINCT ON: sort by the ON keys first (then the rest of ORDER BY), keep the first row per key.
          plan = {
            kind: 'sort',
            cols: projCols,
            input: plan,
            keys:
              sortKeys.length > 0
                ? sortKeys
                : distinctKeys.map((e) => ({ expr: e, desc: false, nullsFirst: false, cmp: comparatorFor(e.type) })),
          };
          plan = { kind: 'distinct', cols: projCols, input: plan, on: distinctKeys };
        } else {
          if (projCols.length > visible.length)
            throw this.err('42P10', 'for SELECT DISTINCT, ORDER BY expressions must appear in select list');
          plan = { kind: 'distinct', cols: projCols, input: plan };
          if (sortKeys.length > 0) plan = { kind: 'sort', cols: projCols, input: plan, keys: sortKeys };
        }
      } else if (sortKeys.length > 0) {
        plan = { kind: 'sort', cols: projCols, input: plan, keys: sortKeys };
      }
      if (s.lockingClause !== undefined && s.lockingClause.length > 0) {
        if (aggregated || isDistinct)
          throw this.err('0A000', 'FOR UPDATE is not allowed with aggregate functions or DISTINCT');
        if (srfSink.calls.length > 0)
          throw this.err('0A000', 'FOR UPDATE is not allowed with set-returning functions in the target list');
        plan = markForUpdate(plan);
      }
      plan = this.applyLimit(plan, s, scope);
      if (projCols.length > visible.length) {
        plan = {
          kind: 'project',
          cols: visible,
          input: plan,
          exprs: visible.map((c) => ({ kind: 'col', type: c.type, id: c.id, name: c.name })),
        };
      }
      return { plan, cols: visible };
    } finally {
      this.agg = savedAgg;
    }
  }

  /**
   * ProjectSet nodes over `plan` for `calls`: one per nesting level, inner
   * calls first (`generate_series(1, generate_series(1, 3))` runs the inner
   * one in the lower node). Arguments are read through `rewrite` (aggregate
   * and GROUP BY references).
   */
  private projectSets(plan: Plan, calls: readonly BoundSrf[], rewrite: (e: Expr) => Expr): Plan {
    const levels = [...new Set(calls.map((c) => c.level))].sort((a, b) => a - b);
    for (const level of levels) {
      const at = calls.filter((c) => c.level === level);
      const srfs = at.map((c) => ({ ...c.srf, args: c.srf.args.map(rewrite) }));
      const cols: OutputColumn[] = at.map((c) => ({
        id: c.srf.id,
        name: c.srf.name,
        type: c.type,
        tableOid: 0,
        attnum: 0,
      }));
      plan = { kind: 'project-set', cols: [...outCols(plan), ...cols], input: plan, srfs };
    }
    return plan;
  }

  private bindGroupItem(g: Node, scope: Scope, targets: readonly { expr: Expr; name: string }[]): Expr {
    if ('A_Const' in g && g.A_Const.ival !== undefined) {
      const k = g.A_Const.ival.ival ?? 0;
      const t = targets[k - 1];
      if (t === undefined) throw this.err('42P10', `GROUP BY position ${k} is not in select list`, g.A_Const.location);
      return t.expr;
    }
    if ('ColumnRef' in g && (g.ColumnRef.fields ?? []).length === 1) {
      const nm = str(g.ColumnRef.fields![0]);
      // An input column wins over an output alias (PostgreSQL's rule for GROUP BY).
      try {
        return this.bindExpr(g, scope);
      } catch (e) {
        const t = targets.find((x) => x.name === nm);
        if (t !== undefined && e instanceof NextDbError && e.code === SqlState.undefinedColumn) return t.expr;
        throw e;
      }
    }
    return this.bindExpr(g, scope);
  }

  private defaultName(v: Node): string {
    return this.figureName(v)[0];
  }

  /** PostgreSQL's FigureColname: a name and its strength (2 = from a column or function, 1 = a type name, 0 = none). */
  private figureName(v: Node): [string, number] {
    if ('TypeCast' in v) {
      const inner = this.figureName(v.TypeCast.arg!);
      if (inner[1] === 2) return inner;
      const tn = typeNameString(v.TypeCast.typeName!);
      const { type } = resolveTypeName(v.TypeCast.typeName!);
      const name = tn === 'bpchar' ? 'bpchar' : type.id === 'array' ? tn : type.id;
      return [name, 1];
    }
    if ('A_Indirection' in v) {
      // PostgreSQL names (f(x)).field after the last field selected.
      const field = (v.A_Indirection.indirection ?? []).filter((i) => 'String' in i).pop();
      return field !== undefined ? [str(field), 2] : this.figureName(v.A_Indirection.arg!);
    }
    const n = this.figureNameSimple(v);
    return [n, n === '?column?' ? 0 : 2];
  }

  private figureNameSimple(v: Node): string {
    if ('ColumnRef' in v) {
      const f = v.ColumnRef.fields ?? [];
      return str(f[f.length - 1]) || '?column?';
    }
    if ('FuncCall' in v) {
      const n = (v.FuncCall.funcname ?? []).map(str);
      return n[n.length - 1] ?? '?column?';
    }
    if ('CaseExpr' in v) return 'case';
    if ('GroupingFunc' in v) return 'grouping';
    if ('CoalesceExpr' in v) return 'coalesce';
    if ('MinMaxExpr' in v) return v.MinMaxExpr.op === 'IS_GREATEST' ? 'greatest' : 'least';
    if ('A_Expr' in v && v.A_Expr.kind === 'AEXPR_NULLIF') return 'nullif';
    if ('SubLink' in v) {
      const t = v.SubLink.subLinkType;
      if (t === 'EXISTS_SUBLINK') return 'exists';
      if (t === 'ARRAY_SUBLINK') return 'array';
      if (t === 'EXPR_SUBLINK' && v.SubLink.subselect !== undefined && 'SelectStmt' in v.SubLink.subselect) {
        const tl = v.SubLink.subselect.SelectStmt.targetList ?? [];
        const first = tl[0];
        if (first !== undefined && 'ResTarget' in first)
          return first.ResTarget.name ?? this.defaultName(first.ResTarget.val!);
      }
      return '?column?';
    }
    if ('A_ArrayExpr' in v) return 'array';
    if ('RowExpr' in v) return 'row';
    if ('SQLValueFunction' in v) {
      const op = v.SQLValueFunction.op ?? '';
      const m: Record<string, string> = {
        SVFOP_CURRENT_DATE: 'current_date',
        SVFOP_CURRENT_TIME: 'current_time',
        SVFOP_CURRENT_TIME_N: 'current_time',
        SVFOP_CURRENT_TIMESTAMP: 'current_timestamp',
        SVFOP_CURRENT_TIMESTAMP_N: 'current_timestamp',
        SVFOP_LOCALTIME: 'localtime',
        SVFOP_LOCALTIME_N: 'localtime',
        SVFOP_LOCALTIMESTAMP: 'localtimestamp',
        SVFOP_LOCALTIMESTAMP_N: 'localtimestamp',
        SVFOP_CURRENT_ROLE: 'current_role',
        SVFOP_CURRENT_USER: 'current_user',
        SVFOP_USER: 'current_user',
        SVFOP_SESSION_USER: 'session_user',
        SVFOP_CURRENT_CATALOG: 'current_catalog',
        SVFOP_CURRENT_SCHEMA: 'current_schema',
      };
      return m[op] ?? '?column?';
    }
    return '?column?';
  }

  // ------------------------------------------------------------------- DML

  /** A table addressed by INSERT/UPDATE/DELETE (views and catalogs are rejected); `privs`: each is required. */
  private targetTable(rv: RangeVar, privs: string): TableDef {
    const name = rv.relname ?? '';
    if (this.virtualRelation(rv.schemaname, name) !== undefined)
      throw this.err('42809', `cannot change system relation "${name}"`, rv.location);
    const t = this.lookupTable(rv.schemaname, name, rv.location)!;
    if (t.kind === 'v') throw notSupported(`changing view "${name}" (MERGE into a view is not supported yet)`);
    for (const p of privs) this.requireDmlRel(t, p);
    return t;
  }

  /** A view being changed: the checks it carries down and whose privileges its base relation needs (view-dml.ts). */
  private viewDml: { readonly checks: ViewCheck[]; readonly cascade: boolean; readonly user: string } | undefined;

  /** `requireRel` for a DML target: reached through a view, the view owner's privileges count. */
  private requireDmlRel(t: TableDef, letter: string): void {
    if (this.viewDml === undefined || this.o.user === undefined || this.privSkip > 0) return this.requireRel(t, letter);
    requireRelation(this.o.catalog, this.viewDml.user, this.o.dbOid, t, letter);
  }

  /**
   * INSERT/UPDATE/DELETE on an automatically updatable view: binds the
   * statement rewritten onto the view's base relation (view-dml.ts);
   * undefined when the target is not a view.
   */
  private throughView<S extends InsertStmt | UpdateStmt | DeleteStmt>(
    kind: 'InsertStmt' | 'UpdateStmt' | 'DeleteStmt',
    stmt: S,
    privs: string,
    bind: (rewritten: S) => BoundQuery,
  ): BoundQuery | undefined {
    const rv = stmt.relation!;
    if (this.virtualRelation(rv.schemaname, rv.relname ?? '') !== undefined) return undefined;
    const t = this.lookupTable(rv.schemaname, rv.relname ?? '', rv.location);
    if (t === undefined || t.kind !== 'v') return undefined;
    for (const p of privs) this.requireDmlRel(t, p);
    const columnsOf = (schema: string | undefined, name: string): string[] =>
      (this.lookupTable(schema, name, undefined, true)?.columns ?? [])
        .filter((c) => !c.dropped && c.hidden !== true)
        .map((c) => c.name);
    const saved = this.viewDml;
    const r = rewriteViewDml(
      kind,
      stmt as unknown as Record<string, unknown>,
      t,
      columnsOf,
      saved?.checks ?? [],
      saved?.cascade ?? false,
    );
    this.viewDml = { checks: r.checks, cascade: r.cascade, user: ownerOf(this.o.catalog, t.oid) };
    try {
      return bind(r.stmt as unknown as S);
    } finally {
      this.viewDml = saved;
    }
  }

  /** Inside catalog relations (owned by the superuser): no checks. Views: checked as their owner (bindView). */
  private privSkip = 0;

  /** 42501 unless the session's user holds `letter` on relation `t` (and USAGE on its schema). */
  private requireRel(t: { oid: number; name: string; schema: string; kind?: string }, letter: string): void {
    if (this.o.user === undefined || this.privSkip > 0) return;
    requireRelation(this.o.catalog, this.o.user, this.o.dbOid, t, letter);
  }

  /** EXECUTE on a user function. */
  private requireExecute(f: FunctionDef): void {
    if (this.o.user === undefined || this.privSkip > 0) return;
    requireSchemaUsage(this.o.catalog, this.o.user, this.o.dbOid, f.schema);
    requirePrivilege(this.o.catalog, this.o.user, f.oid, 'f', 'X', f.name);
  }

  /** Fresh output columns for every column of `t` (dropped and hidden included: a stored row's layout). */
  private rowCols(t: TableDef): OutputColumn[] {
    return t.columns.map((c) => ({ id: this.newId(), name: c.name, type: c.type, tableOid: t.oid, attnum: c.attnum }));
  }

  /** UPDATE/DELETE/MERGE: the target table, its alias and a scan of it. */
  private targetScan(
    rv: RangeVar,
    privs: string,
  ): { t: TableDef; alias: string; scan: ReturnType<Binder['tableScan']> } {
    const t = this.targetTable(rv, privs);
    const alias = rv.alias?.aliasname ?? t.name;
    return { t, alias, scan: this.tableScan(t, alias) };
  }

  private tableScan(
    t: TableDef,
    alias: string,
  ): { plan: Extract<Plan, { kind: 'scan' }>; rel: ScopeRel; cols: OutputColumn[] } {
    const cols: OutputColumn[] = this.rowCols(t);
    const scopeCols = visibleCols(t, cols);
    return { plan: this.scanNode(t, alias, cols), rel: { alias, cols: scopeCols }, cols };
  }

  /** The default value expression for a column (NULL when it has none). */
  defaultFor(col: ColumnDef, scope: Scope): Expr {
    if (col.hidden === true) return this.makeFuncCall('unique_rowid', []);
    if (col.defaultExpr === undefined) return this.constExpr(col.type, null);
    const stmts = parseSql(`SELECT ${col.defaultExpr}`);
    const s = stmts[0]!.stmt;
    assert('SelectStmt' in s, 'default expression');
    const rt = s.SelectStmt.targetList![0]!;
    assert('ResTarget' in rt, 'default expression target');
    const saved = this.o;
    const sub = new Binder({ ...saved, sql: `SELECT ${col.defaultExpr}`, paramTypes: [] });
    sub.nextId = this.nextId;
    sub.srfSink = Binder.srfRefused('DEFAULT expressions');
    const e = sub.bindExpr(rt.ResTarget.val!, new Scope(scope.parent));
    this.nextId = sub.nextId;
    return sub.coerce(e, col.type, 'assignment');
  }

  private returning(
    exprs: readonly Node[] | undefined,
    scope: Scope,
    rowCols: readonly ColumnId[],
  ): { exprs: Expr[]; cols: OutputColumn[] } | undefined {
    if (exprs === undefined || exprs.length === 0) return undefined;
    const out: Expr[] = [];
    const cols: OutputColumn[] = [];
    for (const t of exprs) {
      assert('ResTarget' in t, 'RETURNING item');
      const v = t.ResTarget.val!;
      if ('ColumnRef' in v && (v.ColumnRef.fields ?? []).some((f) => 'A_Star' in f)) {
        for (const r of scope.rels)
          for (const c of r.cols) {
            out.push({ kind: 'col', type: c.type, id: c.id, name: c.name });
            cols.push({ id: this.newId(), name: c.name, type: c.type, tableOid: c.tableOid, attnum: c.attnum });
          }
        continue;
      }
      const e = this.withSrfSink(Binder.srfRefused('RETURNING'), () => this.bindExpr(v, scope));
      out.push(e.type.id === 'unknown' ? this.coerce(e, Types.text, 'implicit') : e);
      cols.push({
        id: this.newId(),
        name: t.ResTarget.name ?? this.defaultName(v),
        type: e.type.id === 'unknown' ? Types.text : e.type,
        tableOid: 0,
        attnum: 0,
      });
    }
    void rowCols;
    return { exprs: out, cols };
  }

  /** CHECK expressions (over `rowCols`) and foreign keys of `t` for a DML plan. */
  private constraintInfo(
    t: TableDef,
    rowCols: readonly OutputColumn[],
  ): Pick<ModifyPlan, 'newRowCols' | 'checks' | 'parents' | 'children'> {
    const checks: { name: string; expr: Expr; view?: true }[] = [];
    for (const c of t.constraints) {
      if (c.type !== 'c' || c.checkExpr === undefined) continue;
      const stmts = parseSql(`SELECT ${c.checkExpr}`);
      const s0 = stmts[0]!.stmt;
      assert('SelectStmt' in s0, 'check expression');
      const rt = s0.SelectStmt.targetList![0]!;
      assert('ResTarget' in rt, 'check expression target');
      const sub = new Binder({ ...this.o, sql: `SELECT ${c.checkExpr}`, paramTypes: [] });
      sub.nextId = this.nextId;
      sub.srfSink = Binder.srfRefused('check constraints');
      const expr = sub.coerceBool(sub.bindTableExpr(t, rt.ResTarget.val!, rowCols), 'CHECK');
      this.nextId = sub.nextId;
      checks.push({ name: c.name, expr });
    }
    // WITH CHECK OPTION of the views the statement came through (their conditions over this table's columns).
    for (const vc of this.viewDml?.checks ?? []) {
      const expr = this.coerceBool(this.bindTableExpr(t, vc.expr, rowCols), 'CHECK OPTION');
      checks.push({ name: vc.view, expr, view: true });
    }
    const parents: ForeignKeyRef[] = [];
    for (const c of t.constraints) {
      if (c.type !== 'f' || c.refTable === undefined) continue;
      const parent = this.o.catalog.tables.get(c.refTable);
      if (parent === undefined) continue;
      parents.push({
        name: c.name,
        child: t,
        childColumns: c.columns,
        parent,
        parentColumns: c.refColumns ?? [],
        onDelete: c.onDelete ?? 'a',
        onUpdate: c.onUpdate ?? 'a',
      });
    }
    const children: ForeignKeyRef[] = [];
    for (const other of this.o.catalog.tables.values()) {
      for (const c of other.constraints) {
        if (c.type !== 'f' || c.refTable !== t.oid) continue;
        children.push({
          name: c.name,
          child: other,
          childColumns: c.columns,
          parent: t,
          parentColumns: c.refColumns ?? [],
          onDelete: c.onDelete ?? 'a',
          onUpdate: c.onUpdate ?? 'a',
        });
      }
    }
    return { newRowCols: rowCols.map((c) => c.id), checks, parents, children };
  }

  bindInsert(ins: InsertStmt): BoundQuery {
    return this.bindDml(ins.withClause, () => this.bindInsertBody(ins));
  }

  private bindInsertBody(ins: InsertStmt): BoundQuery {
    const upsert = ins.onConflictClause?.action === 'ONCONFLICT_UPDATE';
    const viaView = this.throughView('InsertStmt', ins, `a${ins.returningClause !== undefined ? 'r' : ''}`, (x) =>
      this.bindInsertBody(x),
    );
    if (viaView !== undefined) return viaView;
    const t = this.targetTable(
      ins.relation!,
      `a${ins.returningClause !== undefined || upsert ? 'r' : ''}${upsert ? 'w' : ''}`,
    );
    const live = t.columns.filter((c) => !c.dropped && c.hidden !== true);
    let targetCols: ColumnDef[];
    if (ins.cols !== undefined && ins.cols.length > 0) {
      targetCols = ins.cols.map((c) => {
        assert('ResTarget' in c, 'INSERT column');
        const nm = c.ResTarget.name ?? '';
        if ((c.ResTarget.indirection ?? []).length > 0) throw notSupported('INSERT into subfields or array elements');
        const col = live.find((x) => x.name === nm);
        if (col === undefined)
          throw this.err('42703', `column "${nm}" of relation "${t.name}" does not exist`, c.ResTarget.location);
        return col;
      });
      const seen = new Set<string>();
      for (const c of targetCols) {
        if (seen.has(c.name)) throw this.err('42701', `column "${c.name}" specified more than once`);
        seen.add(c.name);
      }
    } else targetCols = live;
    const scope = new Scope(undefined);
    // Source rows.
    let source: BoundQuery | undefined;
    let valuesRows: (Expr | 'default')[][] | undefined;
    let valuesSrfs: SrfSink | undefined;
    const sel = ins.selectStmt;
    if (sel === undefined) {
      valuesRows = [targetCols.map(() => 'default' as const)];
      targetCols = live;
      valuesRows = [live.map(() => 'default' as const)];
    } else {
      assert('SelectStmt' in sel, 'INSERT source');
      const ss = sel.SelectStmt;
      if (
        ss.valuesLists !== undefined &&
        ss.op === 'SETOP_NONE' &&
        ss.sortClause === undefined &&
        ss.limitCount === undefined &&
        ss.withClause === undefined
      ) {
        // One VALUES row may call set-returning functions (PostgreSQL: one row inserted per value); several may not.
        valuesSrfs = ss.valuesLists.length === 1 ? { kind: 'collect', scope, calls: [] } : Binder.srfRefused('VALUES');
        const lists = ss.valuesLists;
        valuesRows = this.withSrfSink(valuesSrfs, () =>
          lists.map((l) =>
            ('List' in l ? (l.List.items ?? []) : []).map((e) =>
              'SetToDefault' in e ? ('default' as const) : this.bindExpr(e, scope),
            ),
          ),
        );
      } else {
        source = this.bindSelect(ss, new Scope(undefined));
      }
    }
    const nTarget = targetCols.length;
    if (valuesRows !== undefined) {
      for (const r of valuesRows) {
        if (r.length > nTarget) throw this.err('42601', 'INSERT has more expressions than target columns');
        if (r.length < nTarget && ins.cols !== undefined && ins.cols.length > 0)
          throw this.err('42601', 'INSERT has more target columns than expressions');
      }
    } else if (source !== undefined) {
      if (source.cols.length > nTarget) throw this.err('42601', 'INSERT has more expressions than target columns');
      if (source.cols.length < nTarget && ins.cols !== undefined && ins.cols.length > 0)
        throw this.err('42601', 'INSERT has more target columns than expressions');
    }
    // Build full rows in attnum order.
    const posOf = new Map<number, number>(targetCols.map((c, i) => [c.attnum, i]));
    const identityCheck = (c: ColumnDef, given: boolean): void => {
      if (given && c.identity === 'a' && ins.override !== 'OVERRIDING_SYSTEM_VALUE') {
        throw this.err('428C9', `cannot insert a non-DEFAULT value into column "${c.name}"`, undefined);
      }
    };
    const fullCols: OutputColumn[] = this.rowCols(t);
    let input: Plan;
    if (valuesRows !== undefined) {
      const rows = valuesRows.map((r) =>
        t.columns.map((c) => {
          if (c.dropped) return this.constExpr(c.type, null);
          const p = posOf.get(c.attnum);
          const v = p === undefined ? undefined : r[p];
          if (v === undefined || v === 'default') return this.defaultFor(c, scope);
          identityCheck(c, true);
          return this.coerce(v, c.type, 'assignment');
        }),
      );
      input =
        valuesSrfs?.kind === 'collect' && valuesSrfs.calls.length > 0
          ? {
              kind: 'project',
              cols: fullCols,
              input: this.projectSets({ kind: 'one-row', cols: [] }, srfsReadBy(rows[0]!, valuesSrfs.calls), (e) => e),
              exprs: rows[0]!,
            }
          : { kind: 'values', cols: fullCols, rows };
    } else {
      const src = source!;
      const exprs = t.columns.map((c) => {
        if (c.dropped) return this.constExpr(c.type, null);
        const p = posOf.get(c.attnum);
        const sc = p === undefined ? undefined : src.cols[p];
        if (sc === undefined) return this.defaultFor(c, scope);
        identityCheck(c, true);
        return this.coerce({ kind: 'col', type: sc.type, id: sc.id, name: sc.name }, c.type, 'assignment');
      });
      input = { kind: 'project', cols: fullCols, input: src.plan, exprs };
    }
    // RETURNING and ON CONFLICT see the new row under the table's name.
    const alias = ins.relation?.alias?.aliasname ?? t.name;
    const rowScope = new Scope(undefined);
    rowScope.rels = [{ alias, cols: visibleCols(t, fullCols) }];
    let onConflict: OnConflict | undefined;
    const oc = ins.onConflictClause;
    if (oc !== undefined) {
      let index: IndexDef | undefined;
      const elems = oc.infer?.indexElems ?? [];
      if (oc.infer?.conname !== undefined) {
        const con = t.constraints.find((c) => c.name === oc.infer!.conname);
        if (con === undefined || con.indexId === undefined)
          throw this.err('42704', `constraint "${oc.infer.conname}" for table "${t.name}" does not exist`);
        index = t.indexes.find((ix) => ix.id === con.indexId);
      } else if (elems.length > 0) {
        // Each element is a column (by position) or an expression (by its deparsed text, as CREATE INDEX stored it).
        const wanted = elems.map((e) => {
          assert('IndexElem' in e, 'ON CONFLICT index element');
          const el = e.IndexElem;
          if (el.expr !== undefined) return deparseSync(el.expr as never);
          const col = live.find((c) => c.name === el.name);
          if (col === undefined) throw this.err(SqlState.undefinedColumn, `column "${el.name ?? ''}" does not exist`);
          return col.attnum - 1;
        });
        // A partial unique index is an arbiter only when the inference WHERE clause names its predicate.
        const where = oc.infer?.whereClause === undefined ? undefined : deparseSync(oc.infer.whereClause as never);
        const keyOf = (ix: IndexDef, i: number): number | string => ix.exprs?.[i]?.sql ?? ix.columns[i]!;
        index = t.indexes.find(
          (ix) =>
            ix.unique &&
            (ix.predicate === undefined || ix.predicate === where) &&
            ix.columns.length === wanted.length &&
            ix.columns.every((_c, i) => wanted.includes(keyOf(ix, i))),
        );
        if (index === undefined)
          throw this.err('42P10', 'there is no unique or exclusion constraint matching the ON CONFLICT specification');
      }
      if (oc.action === 'ONCONFLICT_NOTHING') {
        onConflict = {
          action: 'nothing',
          ...(index === undefined ? {} : { index }),
          existingCols: [],
          excludedCols: [],
        };
      } else {
        if (index === undefined)
          throw this.err('42601', 'ON CONFLICT DO UPDATE requires inference specification or constraint name');
        const existingCols: OutputColumn[] = this.rowCols(t);
        const excludedCols: OutputColumn[] = this.rowCols(t);
        const ocScope = new Scope(undefined);
        ocScope.rels = [
          { alias, cols: visibleCols(t, existingCols) },
          { alias: 'excluded', cols: visibleCols(t, excludedCols) },
        ];
        const assignments = this.bindAssignments(t, oc.targetList ?? [], ocScope);
        const where =
          oc.whereClause === undefined ? undefined : this.coerceBool(this.bindExpr(oc.whereClause, ocScope), 'WHERE');
        onConflict = {
          action: 'update',
          index,
          existingCols: existingCols.map((c) => c.id),
          excludedCols: excludedCols.map((c) => c.id),
          assignments,
          ...(where === undefined ? {} : { where }),
        };
        // RETURNING after DO UPDATE sees the final row, which the executor provides under fullCols ids.
      }
    }
    const ret = this.returning(
      ins.returningClause?.exprs,
      rowScope,
      fullCols.map((c) => c.id),
    );
    const modify: ModifyPlan = {
      op: 'insert',
      table: t,
      input,
      columns: t.columns,
      ...this.constraintInfo(t, fullCols),
      ...(onConflict === undefined ? {} : { onConflict }),
      ...(ret === undefined ? {} : { returning: { exprs: ret.exprs, rowCols: fullCols.map((c) => c.id) } }),
    };
    const cols = ret?.cols ?? [];
    return { plan: { kind: 'modify', cols, modify }, cols };
  }

  private bindAssignments(t: TableDef, targetList: readonly Node[], scope: Scope): (Expr | undefined)[] {
    const out: (Expr | undefined)[] = t.columns.map(() => undefined);
    for (const item of targetList) {
      assert('ResTarget' in item, 'SET item');
      const rt = item.ResTarget;
      const nm = rt.name ?? '';
      if ((rt.indirection ?? []).length > 0) throw notSupported('assigning to subfields or array elements');
      const idx = t.columns.findIndex((c) => c.name === nm && !c.dropped);
      if (idx < 0) throw this.err('42703', `column "${nm}" of relation "${t.name}" does not exist`, rt.location);
      const col = t.columns[idx]!;
      if (out[idx] !== undefined) throw this.err('42601', `multiple assignments to same column "${nm}"`, rt.location);
      const v = rt.val!;
      if ('MultiAssignRef' in v) throw notSupported('UPDATE ... SET (a, b) = (...)');
      if (col.identity === 'a' && !('SetToDefault' in v))
        throw this.err('428C9', `column "${nm}" can only be updated to DEFAULT`, rt.location);
      out[idx] =
        'SetToDefault' in v
          ? this.defaultFor(col, scope)
          : this.coerce(
              this.withSrfSink(Binder.srfRefused('UPDATE'), () => this.bindExpr(v, scope)),
              col.type,
              'assignment',
              rt.location,
            );
    }
    return out;
  }

  /** The rows UPDATE/DELETE change: the target scan joined with FROM/USING items, filtered by WHERE. */
  private bindDmlSource(
    scan: { plan: Plan; cols: OutputColumn[] },
    scope: Scope,
    from: readonly Node[],
    where: Node | undefined,
  ): { input: Plan; recheck?: Expr } {
    let input: Plan = scan.plan;
    for (const f of from) {
      const lateralScope = new Scope(undefined);
      lateralScope.rels = [...scope.rels];
      const b = this.bindFromItem(f, scope, lateralScope);
      scope.rels.push(...b.rels);
      input = {
        kind: 'join',
        cols: [...outCols(input), ...outCols(b.plan)],
        joinType: 'inner',
        left: input,
        right: b.plan,
        lateral: b.lateral === true,
      };
    }
    let recheck: Expr | undefined;
    if (where !== undefined) {
      recheck = this.coerceBool(this.bindExpr(where, scope), 'WHERE');
      input = { kind: 'filter', cols: outCols(input), input, pred: recheck };
    }
    if (from.length > 0) {
      // A row may match several FROM rows; PostgreSQL changes it once (with an arbitrary match).
      input = {
        kind: 'distinct',
        cols: outCols(input),
        input,
        on: scan.cols.map((c) => ({ kind: 'col', type: c.type, id: c.id, name: c.name }) as Expr),
      };
    }
    return recheck === undefined ? { input } : { input, recheck };
  }

  bindUpdate(up: UpdateStmt): BoundQuery {
    return this.bindDml(up.withClause, () => this.bindUpdateBody(up));
  }

  private bindUpdateBody(up: UpdateStmt): BoundQuery {
    // UPDATE needs UPDATE, and SELECT when it reads the table (WHERE, FROM, RETURNING).
    const reads = up.whereClause !== undefined || (up.fromClause ?? []).length > 0 || up.returningClause !== undefined;
    const viaView = this.throughView('UpdateStmt', up, reads ? 'wr' : 'w', (x) => this.bindUpdateBody(x));
    if (viaView !== undefined) return viaView;
    const { t, alias, scan } = this.targetScan(up.relation!, reads ? 'wr' : 'w');
    const scope = new Scope(undefined);
    scope.rels = [scan.rel];
    const { input, recheck } = this.bindDmlSource(scan, scope, up.fromClause ?? [], up.whereClause);
    const assignments = this.bindAssignments(t, up.targetList ?? [], scope);
    const newCols: OutputColumn[] = this.rowCols(t);
    const retScope = new Scope(undefined);
    retScope.rels = [{ alias, cols: visibleCols(t, newCols) }, ...scope.rels.slice(1)];
    const ret = this.returning(
      up.returningClause?.exprs,
      retScope,
      newCols.map((c) => c.id),
    );
    const modify: ModifyPlan = {
      op: 'update',
      table: t,
      input,
      assignments,
      oldRowCols: scan.cols.map((c) => c.id),
      ...(recheck === undefined ? {} : { recheck }),
      columns: t.columns,
      ...this.constraintInfo(t, newCols),
      ...(ret === undefined ? {} : { returning: { exprs: ret.exprs, rowCols: newCols.map((c) => c.id) } }),
    };
    const cols = ret?.cols ?? [];
    return { plan: { kind: 'modify', cols, modify }, cols };
  }

  bindMerge(mg: MergeStmt): BoundQuery {
    return this.bindDml(mg.withClause, () => this.bindMergeBody(mg));
  }

  /**
   * MERGE INTO target USING source ON cond WHEN [NOT] MATCHED [AND c] THEN
   * UPDATE SET ... | DELETE | INSERT ... | DO NOTHING (PostgreSQL 15): the
   * input is source LEFT JOIN target ON cond; for each input row the first
   * WHEN clause of its kind whose condition holds acts.
   */
  private bindMergeBody(mg: MergeStmt): BoundQuery {
    if (mg.returningClause !== undefined) throw notSupported('MERGE ... RETURNING');
    const acts = (mg.mergeWhenClauses ?? []).map((c) => ('MergeWhenClause' in c ? c.MergeWhenClause.commandType : ''));
    const privs = `r${acts.includes('CMD_INSERT') ? 'a' : ''}${acts.includes('CMD_UPDATE') ? 'w' : ''}${acts.includes('CMD_DELETE') ? 'd' : ''}`;
    const { t, alias, scan } = this.targetScan(mg.relation!, privs);
    const scope = new Scope(undefined);
    const src = this.bindFromItem(mg.sourceRelation!, scope, new Scope(undefined));
    if (src.rels.some((r) => r.alias === alias)) throw this.err('42712', `name "${alias}" specified more than once`);
    scope.rels = [...src.rels, scan.rel];
    const on = this.coerceBool(this.bindExpr(mg.joinCondition!, scope), 'JOIN/ON');
    const input: Plan = {
      kind: 'join',
      cols: [...outCols(src.plan), ...scan.cols],
      joinType: 'left',
      left: src.plan,
      right: scan.plan,
      lateral: false,
      cond: on,
    };
    const pk = t.indexes.find((ix) => ix.primary)!;
    const matchedPos = outCols(src.plan).length + pk.columns[0]!;
    const live = t.columns.filter((c) => !c.dropped && c.hidden !== true);
    const clauses: MergeClause[] = [];
    for (const n of mg.mergeWhenClauses ?? []) {
      assert('MergeWhenClause' in n, 'MERGE WHEN clause');
      const w = n.MergeWhenClause;
      if (w.matchKind === 'MERGE_WHEN_NOT_MATCHED_BY_SOURCE') throw notSupported('WHEN NOT MATCHED BY SOURCE');
      const matched = w.matchKind === 'MERGE_WHEN_MATCHED';
      // A NOT MATCHED clause sees only the source row (PostgreSQL: 42P01 for target columns there).
      const clauseScope = new Scope(undefined);
      clauseScope.rels = matched ? scope.rels : [...src.rels];
      const cond =
        w.condition === undefined ? undefined : this.coerceBool(this.bindExpr(w.condition, clauseScope), 'WHEN');
      const base = { matched, ...(cond === undefined ? {} : { cond }) };
      switch (w.commandType) {
        case 'CMD_UPDATE':
          clauses.push({
            ...base,
            action: 'update',
            assignments: this.bindAssignments(t, w.targetList ?? [], clauseScope),
          });
          break;
        case 'CMD_DELETE':
          clauses.push({ ...base, action: 'delete' });
          break;
        case 'CMD_NOTHING':
          clauses.push({ ...base, action: 'nothing' });
          break;
        case 'CMD_INSERT': {
          if (w.override !== undefined && w.override !== 'OVERRIDING_NOT_SET')
            throw notSupported('OVERRIDING in MERGE');
          const names = (w.targetList ?? []).map((r) => ('ResTarget' in r ? (r.ResTarget.name ?? '') : ''));
          const targetCols =
            names.length === 0
              ? live
              : names.map((nm) => {
                  const c = live.find((x) => x.name === nm);
                  if (c === undefined) throw this.err('42703', `column "${nm}" of relation "${t.name}" does not exist`);
                  return c;
                });
          const vals = w.values ?? [];
          if (vals.length > targetCols.length)
            throw this.err('42601', 'INSERT has more expressions than target columns');
          if (vals.length < targetCols.length && names.length > 0)
            throw this.err('42601', 'INSERT has more target columns than expressions');
          const values = t.columns.map((c) => {
            const k = targetCols.indexOf(c);
            const v = k < 0 ? undefined : vals[k];
            if (v === undefined || 'SetToDefault' in v) return this.defaultFor(c, clauseScope);
            if (c.identity === 'a')
              throw this.err('428C9', `cannot insert a non-DEFAULT value into column "${c.name}"`);
            return this.coerce(this.bindExpr(v, clauseScope), c.type, 'assignment');
          });
          clauses.push({ ...base, action: 'insert', values });
          break;
        }
        default:
          throw notSupported(`MERGE action ${w.commandType ?? '?'}`);
      }
    }
    const newCols: OutputColumn[] = this.rowCols(t);
    const modify: ModifyPlan = {
      op: 'merge',
      table: t,
      input,
      oldRowCols: scan.cols.map((c) => c.id),
      merge: { matchedPos, on, clauses },
      columns: t.columns,
      ...this.constraintInfo(t, newCols),
    };
    return { plan: { kind: 'modify', cols: [], modify }, cols: [] };
  }

  bindDelete(del: DeleteStmt): BoundQuery {
    return this.bindDml(del.withClause, () => this.bindDeleteBody(del));
  }

  private bindDeleteBody(del: DeleteStmt): BoundQuery {
    const reads =
      del.whereClause !== undefined || (del.usingClause ?? []).length > 0 || del.returningClause !== undefined;
    const viaView = this.throughView('DeleteStmt', del, reads ? 'dr' : 'd', (x) => this.bindDeleteBody(x));
    if (viaView !== undefined) return viaView;
    const { t, scan } = this.targetScan(del.relation!, reads ? 'dr' : 'd');
    const scope = new Scope(undefined);
    scope.rels = [scan.rel];
    const { input, recheck } = this.bindDmlSource(scan, scope, del.usingClause ?? [], del.whereClause);
    const ret = this.returning(
      del.returningClause?.exprs,
      scope,
      scan.cols.map((c) => c.id),
    );
    const modify: ModifyPlan = {
      op: 'delete',
      table: t,
      input,
      oldRowCols: scan.cols.map((c) => c.id),
      ...(recheck === undefined ? {} : { recheck }),
      columns: t.columns,
      ...this.constraintInfo(t, scan.cols),
      ...(ret === undefined ? {} : { returning: { exprs: ret.exprs, rowCols: scan.cols.map((c) => c.id) } }),
    };
    const cols = ret?.cols ?? [];
    return { plan: { kind: 'modify', cols, modify }, cols };
  }

  /** Binds a standalone expression over one table's row (CHECK constraints, index predicates). */
  bindTableExpr(t: TableDef, n: Node, cols: readonly OutputColumn[]): Expr {
    const scope = new Scope(undefined);
    scope.rels = [{ alias: t.name, cols: visibleCols(t, cols) }];
    return this.bindExpr(n, scope);
  }

  newScope(): Scope {
    return new Scope(undefined);
  }

  /**
   * ALTER COLUMN ... TYPE: the new value of column `i` as `type`, over the
   * old row `cols`: the USING expression, or the column itself, converted
   * by an assignment cast (42804 when there is none, as PostgreSQL).
   */
  bindTypeConversion(
    t: TableDef,
    i: number,
    type: SqlType,
    using: Node | undefined,
    cols: readonly OutputColumn[],
  ): Expr {
    const col = t.columns[i]!;
    const src: Expr =
      using === undefined
        ? { kind: 'col', type: col.type, id: cols[i]!.id, name: col.name }
        : this.bindTableExpr(t, using, cols);
    if (
      src.type.oid !== type.oid &&
      src.type.id !== 'unknown' &&
      castFunction(src.type, type, 'assignment') === undefined
    ) {
      const what = using === undefined ? `column "${col.name}"` : `result of USING clause for column "${col.name}"`;
      throw new NextDbError('42804', `${what} cannot be cast automatically to type ${formatType(type)}`, {
        hint: `You might need to specify "USING ${col.name}::${formatType(type)}".`,
      });
    }
    return this.coerce(src, type, 'assignment');
  }

  /** An evaluation context with this binder's I/O settings and no session services (DDL row rewrites). */
  ddlEvalContext(): EvalContext {
    return new EvalContext(this.o.io, [], noServices);
  }

  /** Binds one index expression or predicate (SQL text over `t`'s columns) against `cols`. */
  bindIndexText(t: TableDef, sql: string, cols: readonly OutputColumn[], what: 'expression' | 'predicate'): Expr {
    const text = `SELECT ${sql}`;
    const s0 = parseSql(text)[0]!.stmt;
    assert('SelectStmt' in s0, 'index expression');
    const rt = s0.SelectStmt.targetList![0]!;
    assert('ResTarget' in rt, 'index expression target');
    const sub = new Binder({ ...this.o, sql: text, paramTypes: [] });
    sub.nextId = this.nextId;
    sub.srfSink = Binder.srfRefused(what === 'expression' ? 'index expressions' : 'index predicates');
    const e = sub.bindTableExpr(t, rt.ResTarget.val!, cols);
    this.nextId = sub.nextId;
    checkIndexExpr(e, what);
    return what === 'predicate' ? sub.coerceBool(e, 'WHERE') : e;
  }

  /** The bound key expressions (undefined for plain columns) and predicate of `ix` over the scan columns `cols`. */
  bindIndexExprs(t: TableDef, ix: IndexDef, cols: readonly OutputColumn[]): IndexExprsBound {
    const keys = (ix.exprs ?? []).map((x) =>
      x === null ? undefined : this.bindIndexText(t, x.sql, cols, 'expression'),
    );
    return {
      keys,
      ...(ix.predicate === undefined ? {} : { pred: this.bindIndexText(t, ix.predicate, cols, 'predicate') }),
    };
  }

  /** A scan of `t`, carrying the bound expressions of its expression and partial indexes for the optimizer. */
  private scanNode(t: TableDef, alias: string, cols: readonly OutputColumn[]): Extract<Plan, { kind: 'scan' }> {
    const special = t.indexes.filter((ix) => ix.exprs !== undefined || ix.predicate !== undefined);
    if (special.length === 0) return { kind: 'scan', table: t, alias, cols, access: { kind: 'full' } };
    const indexExprs = new Map<number, IndexExprsBound>();
    for (const ix of special) indexExprs.set(ix.id, this.bindIndexExprs(t, ix, cols));
    return { kind: 'scan', table: t, alias, cols, access: { kind: 'full' }, indexExprs };
  }
}

/**
 * Index expressions and predicates must give the same answer for a row at
 * every evaluation (they are computed on write and matched on read):
 * no volatile functions, subqueries, parameters or aggregates.
 */
function checkIndexExpr(e: Expr, what: 'expression' | 'predicate'): void {
  if (e.kind === 'subquery') throw notSupported(`subqueries in index ${what}s`);
  if (e.kind === 'param') throw new NextDbError('42P02', `there is no parameter $${e.index + 1}`);
  if ((e.kind === 'call' && e.volatile) || e.kind === 'async-call')
    throw new NextDbError('42P17', `functions in index ${what} must be marked IMMUTABLE`);
  mapExpr(e, (c) => {
    checkIndexExpr(c, what);
    return c;
  });
}

export function outCols(p: Plan): readonly OutputColumn[] {
  return p.cols;
}

/** The scope columns of a row of `t` laid out as `cols` (one per table column): the ones SQL can name (not dropped, not the hidden rowid). */
function visibleCols(t: TableDef, cols: readonly OutputColumn[]): ScopeColumn[] {
  return cols.filter((_c, i) => !t.columns[i]!.dropped && t.columns[i]!.hidden !== true).map((c) => ({ ...c }));
}

/** SQL's SIMILAR TO pattern → an anchored JavaScript regular expression source. */
function similarToRegex(pattern: string, escape: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (escape !== '' && c === escape) {
      const n = pattern[++i] ?? '';
      out += n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '%') out += '[\\s\\S]*';
    else if (c === '_') out += '[\\s\\S]';
    else if (c === '.' || c === '^' || c === '$' || c === '/') out += `\\${c}`;
    else out += c;
  }
  return `^(?:${out})$`;
}

function compareOpFn(op: CompareOp): ((c: number) => boolean) | undefined {
  switch (op) {
    case '=':
      return (c) => c === 0;
    case '<>':
      return (c) => c !== 0;
    case '<':
      return (c) => c < 0;
    case '<=':
      return (c) => c <= 0;
    case '>':
      return (c) => c > 0;
    case '>=':
      return (c) => c >= 0;
    default:
      return undefined;
  }
}

function isTimeZoneSensitive(from: SqlType, to: SqlType): boolean {
  const tz = (t: SqlType): boolean =>
    t.id === 'timestamptz' || t.id === 'date' || t.id === 'timestamp' || t.id === 'time';
  return (tz(from) || tz(to)) && from.id !== to.id;
}

function markForUpdate(p: Plan): Plan {
  switch (p.kind) {
    case 'scan':
      return { ...p, lockForUpdate: true };
    case 'filter':
    case 'project':
    case 'sort':
    case 'limit':
      return { ...p, input: markForUpdate(p.input) };
    case 'join':
      return { ...p, left: markForUpdate(p.left), right: markForUpdate(p.right) };
    default:
      return p;
  }
}

/** Structural identity of an expression (GROUP BY matching, ORDER BY reuse). */
export function exprKey(e: Expr): string {
  switch (e.kind) {
    case 'const':
      return `k${e.type.oid}:${hashKey(e.value)}`;
    case 'param':
      return `p${e.index}`;
    case 'col':
      return `c${e.id}`;
    case 'call':
    case 'async-call':
      return `f${e.name}(${e.args.map(exprKey).join(',')})`;
    case 'cast':
      return `cast${e.type.oid}/${e.type.typmod}(${exprKey(e.arg)})`;
    case 'and':
    case 'or':
      return `${e.kind}(${e.args.map(exprKey).join(',')})`;
    case 'not':
      return `not(${exprKey(e.arg)})`;
    case 'is-null':
      return `isnull${e.negate}(${exprKey(e.arg)})`;
    case 'is-bool':
      return `isbool${e.test}${e.negate}(${exprKey(e.arg)})`;
    case 'compare':
      return `cmp${e.op}(${exprKey(e.left)},${exprKey(e.right)})`;
    case 'distinct-from':
      return `distinct${e.negate}(${exprKey(e.left)},${exprKey(e.right)})`;
    case 'case':
      return `case(${e.whens.map((w) => `${exprKey(w.cond)}:${exprKey(w.result)}`).join(',')};${exprKey(e.elseExpr)})`;
    case 'coalesce':
    case 'greatest':
    case 'least':
      return `${e.kind}(${e.args.map(exprKey).join(',')})`;
    case 'in-list':
      return `in${e.negate}(${exprKey(e.arg)};${e.list.map(exprKey).join(',')})`;
    case 'array':
      return `arr(${e.elems.map(exprKey).join(',')})`;
    case 'row':
      return `row(${e.args.map(exprKey).join(',')})`;
    case 'subquery':
      // Subqueries are never considered equal (each is its own plan).
      return `sub${Math.random()}`;
  }
}

/** Rebuilds an expression with `f` applied to each direct child. */
export function mapExpr(e: Expr, f: (c: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'const':
    case 'param':
    case 'col':
      return e;
    case 'subquery':
      if (e.test === undefined && e.args === undefined) return e;
      return {
        ...e,
        ...(e.test === undefined ? {} : { test: f(e.test) }),
        ...(e.args === undefined ? {} : { args: e.args.map(f) }),
      };
    case 'call':
    case 'async-call':
      return { ...e, args: e.args.map(f) };
    case 'cast':
    case 'not':
    case 'is-null':
    case 'is-bool':
      return { ...e, arg: f(e.arg) };
    case 'and':
    case 'or':
    case 'coalesce':
    case 'greatest':
    case 'least':
    case 'row':
      return { ...e, args: e.args.map(f) } as Expr;
    case 'compare':
    case 'distinct-from':
      return { ...e, left: f(e.left), right: f(e.right) };
    case 'case':
      return { ...e, whens: e.whens.map((w) => ({ cond: f(w.cond), result: f(w.result) })), elseExpr: f(e.elseExpr) };
    case 'in-list':
      return { ...e, arg: f(e.arg), list: e.list.map(f) };
    case 'array':
      return { ...e, elems: e.elems.map(f) };
  }
}

function aggKey(a: AggCall): string {
  return `${a.name}${a.distinct ? 'D' : ''}${a.star ? '*' : ''}(${a.args.map(exprKey).join(',')})${a.filter === undefined ? '' : `F${exprKey(a.filter)}`}${a.orderBy === undefined ? '' : `O${a.orderBy.map((k) => `${exprKey(k.expr)}${k.desc}${k.nullsFirst}`).join(',')}`}`;
}

/** True when a plan reads columns it does not produce (an outer reference somewhere inside). */
function containsCorrelation(_p: Plan): boolean {
  // Scope tracking during binding already marks correlation; plans carry no extra signal.
  return false;
}

/** `e` with references to the columns in `by` replaced by their expressions (inlining a SQL function body). */
function substituteCols(e: Expr, by: ReadonlyMap<ColumnId, Expr>): Expr {
  if (e.kind === 'col') return by.get(e.id) ?? e;
  return mapExpr(e, (c) => substituteCols(c, by));
}

/** A call of a scalar LANGUAGE plpgsql function: run by the session's interpreter for each row (hoisted, async). */
function plCall(f: FunctionDef, args: Expr[]): Expr {
  if (f.returnsTrigger === true) throw new NextDbError('0A000', 'trigger functions can only be called as triggers');
  if (f.retType.id === 'record')
    throw notSupported(
      `function ${f.name}() with several OUT parameters in the select list`,
      'call it in FROM instead',
    );
  return {
    kind: 'async-call',
    type: f.retType,
    name: f.name,
    args,
    impl: async (vals, ctx) => {
      const call = ctx.services.callFunction;
      if (call === undefined) throw notSupported('PL/pgSQL functions here');
      return (await call(f, vals)).value;
    },
    ...(f.strict ? {} : { nonStrict: true }),
  };
}

/** A LANGUAGE plpgsql function's rows (SETOF, TABLE, OUT parameters) or its one value, as a set-returning call. */
function plSrfCall(f: FunctionDef, args: Expr[]): SrfCall {
  if (f.returnsTrigger === true) throw new NextDbError('0A000', 'trigger functions can only be called as triggers');
  return {
    name: f.name,
    args,
    impl: () => [],
    strict: f.strict,
    asyncImpl: async (vals, ctx) => {
      const call = ctx.services.callFunction;
      if (call === undefined) throw notSupported('PL/pgSQL functions here');
      const r = await call(f, vals);
      return r.rows ?? [[r.value]];
    },
  };
}

/** The calls among `calls` that `exprs` read, directly or through another call's arguments. */
function srfsReadBy(exprs: readonly Expr[], calls: readonly BoundSrf[]): BoundSrf[] {
  const read = new Set<ColumnId>();
  for (const e of exprs) colIds(e, read);
  const out: BoundSrf[] = [];
  // A call's arguments hold only calls bound before it: walk back from the last.
  for (let i = calls.length - 1; i >= 0; i--) {
    const c = calls[i]!;
    if (!read.has(c.srf.id)) continue;
    out.unshift(c);
    for (const a of c.srf.args) colIds(a, read);
  }
  return out;
}

/** Adds the ids of the columns `e` reads (outside subqueries) to `out`. */
function colIds(e: Expr, out: Set<ColumnId>): void {
  if (e.kind === 'col') out.add(e.id);
  else
    mapExpr(e, (c) => {
      colIds(c, out);
      return c;
    });
}

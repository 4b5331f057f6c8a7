/**
 * The session side of PL/pgSQL: runs DO blocks and calls of LANGUAGE
 * plpgsql functions (from expressions, FROM and triggers) with a PlHost
 * over the session's current transaction and catalog. Embedded statements
 * are bound once per statement, parameter types, catalog version and
 * session settings, and reused (the plan cache of a function's statements).
 */

import type { Node } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import type { Txn } from '../../txn/api.ts';
import type { Notice } from '../api.ts';
import type { CatalogSnapshot, FunctionDef, TriggerDef } from '../catalog/catalog.ts';
import type { Binder, BoundQuery } from '../plan/binder.ts';
import { optimize } from '../plan/optimizer.ts';
import { runPlan, type ExecEnv } from '../exec/executor.ts';
import { CompileEnv, compileExpr, layoutOf, type CompiledExpr } from '../exec/compile-expr.ts';
import { EvalContext, type SessionServices } from '../exec/eval-context.ts';
import { Types, type SqlType, type Value } from '../types/sql-type.ts';
import type { IoSettings } from '../types/text-io.ts';
import { compilePlpgsql, plSource, quoteLiteral, type PlFunction } from './compile.ts';
import { PlInterpreter, type PlHost, type PlQueryResult, type PlResult, type TriggerInfo } from './interpreter.ts';

/** What the session lends the PL/pgSQL host. */
export interface PlSessionAccess {
  txn(): Txn;
  catalog(): CatalogSnapshot;
  binder(catalog: CatalogSnapshot, sql: string, paramTypes: (SqlType | undefined)[]): Binder;
  env(txn: Txn, catalog: CatalogSnapshot, params: readonly Value[]): ExecEnv;
  io(): IoSettings;
  settingsKey(): string;
  notice(n: Notice): void;
  /** Throws 57014 when the statement was cancelled or timed out; sometimes a promise that lets the event loop run. */
  interrupt(): Promise<void> | undefined;
  /** Runs a DDL statement in the current transaction (the catalog the next statements see is refreshed). */
  utility(stmt: Node, text: string): Promise<string>;
  readonly dbOid: number;
  searchPath(): string[];
}

interface CachedStmt {
  readonly version: string;
  readonly q: BoundQuery;
  /**
   * A simple expression (SELECT expr, no FROM, nothing to await): its
   * compiled closures, evaluated directly instead of through the executor
   * (PostgreSQL's "simple expression" path; most assignments and conditions).
   */
  readonly simple: readonly CompiledExpr[] | undefined;
}

function noSubplans(): Promise<Value[][]> {
  return Promise.reject(new Error('a simple expression has no subqueries'));
}

/** The compiled select list of `SELECT exprs` without FROM, when nothing in it waits (no subquery, no async call). */
function simpleExpression(plan: BoundQuery['plan']): CompiledExpr[] | undefined {
  if (plan.kind !== 'project' || plan.input.kind !== 'one-row') return undefined;
  const cenv = CompileEnv.root(layoutOf([]), [], noSubplans);
  const fns = plan.exprs.map((e) => compileExpr(e, cenv));
  return cenv.hoisted.length === 0 ? fns : undefined;
}

const MAX_DEPTH = 64;

/** Compiled functions by definition (a FunctionDef belongs to one catalog snapshot). */
const compiled = new WeakMap<FunctionDef, PlFunction>();
/** Triggers' WHEN conditions, compiled as small trigger functions returning the row or NULL. */
const whenFunctions = new WeakMap<TriggerDef, PlFunction>();

export function compiledFunction(f: FunctionDef): PlFunction {
  let c = compiled.get(f);
  if (c === undefined) {
    c = compilePlpgsql(f.name, plSource(f));
    compiled.set(f, c);
  }
  return c;
}

const QUERY_KINDS = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
/** Statements PL/pgSQL passes to the session's DDL path (anything else: 0A000 from bindStatement). */
const UTILITY_KINDS = new Set([
  'CreateStmt',
  'IndexStmt',
  'CreateFunctionStmt',
  'CreateTrigStmt',
  'GrantStmt',
  'ViewStmt',
  'CreateSeqStmt',
  'CreateSchemaStmt',
  'DropStmt',
  'TruncateStmt',
  'AlterTableStmt',
  'RenameStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'DropRoleStmt',
]);

function bindStatement(stmt: Node, b: Binder): BoundQuery {
  if ('SelectStmt' in stmt) return b.bindTopQuery(stmt);
  if ('InsertStmt' in stmt) return b.bindInsert(stmt.InsertStmt);
  if ('UpdateStmt' in stmt) return b.bindUpdate(stmt.UpdateStmt);
  if ('DeleteStmt' in stmt) return b.bindDelete(stmt.DeleteStmt);
  if ('MergeStmt' in stmt) return b.bindMerge(stmt.MergeStmt);
  const kind = (Object.keys(stmt)[0] ?? 'statement').replace(/Stmt$/, '');
  throw notSupported(`${kind} statements inside PL/pgSQL`);
}

/** One session's PL/pgSQL runtime. */
export class PlRuntime implements PlHost {
  private readonly byObject = new WeakMap<object, Map<string, CachedStmt>>();
  private readonly byText = new Map<string, Map<string, CachedStmt>>();
  private depth = 0;
  private spCounter = 0;
  /** The session's services (one object per session), for simple expressions. */
  private services: SessionServices | undefined;

  constructor(private readonly a: PlSessionAccess) {}

  get io(): IoSettings {
    return this.a.io();
  }

  notice(n: Notice): void {
    this.a.notice(n);
  }

  tick(): Promise<void> | undefined {
    return this.a.interrupt();
  }

  savepoint(): string {
    const name = `\u0000plpgsql ${++this.spCounter}`;
    this.a.txn().savepoint(name);
    return name;
  }

  rollbackTo(name: string): Promise<void> {
    return this.a.txn().rollbackToSavepoint(name);
  }

  release(name: string): void {
    this.a.txn().releaseSavepoint(name);
  }

  tableColumns(name: string): { names: string[]; types: SqlType[] } {
    const parts = name.split('.').map((p) =>
      p
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase(),
    );
    const nm = parts[parts.length - 1]!;
    const cat = this.a.catalog();
    for (const s of parts.length > 1 ? [parts[0]!] : this.a.searchPath()) {
      const t = cat.table(this.a.dbOid, s, nm);
      if (t !== undefined) {
        const cols = t.columns.filter((c) => !c.hidden && !c.dropped);
        return { names: cols.map((c) => c.name), types: cols.map((c) => c.type) };
      }
    }
    throw new NextDbError('42P01', `relation "${name}" does not exist`);
  }

  async query(
    key: object | string,
    stmt: Node,
    text: string,
    params: readonly Value[],
    paramTypes: readonly SqlType[],
  ): Promise<PlQueryResult> {
    const kind = Object.keys(stmt)[0] ?? '';
    if (!QUERY_KINDS.has(kind) && UTILITY_KINDS.has(kind)) {
      await this.a.utility(stmt, text);
      return { cols: [], rows: [], changed: 0 };
    }
    const txn = this.a.txn();
    const catalog = this.a.catalog();
    const sig = `${this.a.settingsKey()}|${paramTypes.map((t) => `${t.oid}.${t.typmod}`).join(',')}`;
    let m: Map<string, CachedStmt> | undefined;
    if (typeof key === 'string') {
      m = this.byText.get(key);
      if (m === undefined) {
        if (this.byText.size > 256) this.byText.clear();
        this.byText.set(key, (m = new Map()));
      }
    } else {
      m = this.byObject.get(key);
      if (m === undefined) this.byObject.set(key, (m = new Map()));
    }
    let c = m.get(sig);
    if (c === undefined || c.version !== catalog.version) {
      const bound = bindStatement(stmt, this.a.binder(catalog, text, [...paramTypes]));
      const plan = optimize(bound.plan);
      c = { version: catalog.version, q: { plan, cols: bound.cols }, simple: simpleExpression(plan) };
      m.set(sig, c);
    }
    if (c.simple !== undefined) {
      this.services ??= this.a.env(txn, catalog, []).ctx.services;
      const ctx = new EvalContext(this.a.io(), params, this.services);
      const none: readonly Value[] = [];
      return { cols: c.q.cols, rows: [c.simple.map((f) => f(none, ctx))], changed: -1 };
    }
    const env = this.a.env(txn, catalog, params);
    const rows = await runPlan(c.q.plan, env);
    return { cols: c.q.cols, rows, changed: 'SelectStmt' in stmt ? -1 : env.changed };
  }

  /** Runs a compiled function (depth-limited: a function calling itself without end is 54001). */
  async run(f: PlFunction, call: ConstructorParameters<typeof PlInterpreter>[2]): Promise<PlResult> {
    if (this.depth >= MAX_DEPTH)
      throw new NextDbError('54001', 'stack depth limit exceeded', {
        hint: 'PL/pgSQL functions nest at most 64 deep in NextDB.',
      });
    this.depth++;
    try {
      return await new PlInterpreter(f, this, call).run();
    } finally {
      this.depth--;
    }
  }

  /** DO $$ ... $$ (LANGUAGE plpgsql). */
  async doBlock(body: string): Promise<void> {
    const f = compilePlpgsql('inline_code_block', `DO ${quoteLiteral(body)}`);
    await this.run(f, { args: [], argTypes: [], retType: Types.void, retSet: false });
  }

  /** A call of a LANGUAGE plpgsql function: its value (scalar) or rows (SETOF, TABLE, several OUT parameters). */
  async callFunction(def: FunctionDef, args: readonly Value[]): Promise<PlResult> {
    return this.run(compiledFunction(def), {
      args,
      argTypes: def.argTypes,
      retType: def.retType,
      retSet: def.retSet,
      ...(def.outColumns === undefined ? {} : { outColumns: def.outColumns }),
    });
  }

  /** A trigger's WHEN condition (when it has one) and function for one row or statement. */
  async fireTrigger(g: TriggerDef, trigger: TriggerInfo): Promise<PlResult | undefined> {
    if (g.when !== undefined) {
      let w = whenFunctions.get(g);
      if (w === undefined) {
        const body = `BEGIN IF ${g.when} THEN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; RETURN NULL; END`;
        w = compilePlpgsql(g.name, `CREATE FUNCTION w() RETURNS trigger LANGUAGE plpgsql AS ${quoteLiteral(body)}`);
        whenFunctions.set(g, w);
      }
      const r = await this.run(w, { args: [], argTypes: [], retType: Types.void, retSet: false, trigger });
      if ((r.record ?? null) === null) return undefined;
    }
    const f = this.a.catalog().functions.get(g.funcOid);
    if (f === undefined) throw new NextDbError('42883', `function of trigger "${g.name}" does not exist`);
    return this.callTrigger(f, trigger);
  }

  /** A trigger function's run for one row or statement. */
  async callTrigger(def: FunctionDef, trigger: TriggerInfo): Promise<PlResult> {
    return this.run(compiledFunction(def), {
      args: [],
      argTypes: [],
      retType: def.retType,
      retSet: false,
      trigger,
    });
  }
}

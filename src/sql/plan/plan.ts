/**
 * Bound, typed, immutable plan nodes: what the binder produces, the
 * optimizer rewrites and the executor runs. Discriminated unions on
 * `readonly kind`.
 *
 * Columns are named by plan-wide unique ids (`ColumnId`), not positions:
 * every plan node lists the ids of the columns it outputs, and an
 * expression refers to a column by id. Positions are resolved only when the
 * executor compiles a node, so the optimizer may reorder joins or push
 * filters without renumbering anything. A column id not produced by the
 * node's input is an outer reference (correlated subquery): the compiler
 * finds it in the enclosing query's row.
 */

import type { ColumnDef, IndexDef, TableDef } from '../catalog/catalog.ts';
import type { Comparator } from '../types/compare.ts';
import type { CastFn } from '../types/cast.ts';
import type { SqlType, Value } from '../types/sql-type.ts';
import type { EvalContext } from '../exec/eval-context.ts';

export type ColumnId = number;

export interface OutputColumn {
  readonly id: ColumnId;
  readonly name: string;
  readonly type: SqlType;
  /** Source table column, for RowDescription (0 when computed). */
  readonly tableOid: number;
  readonly attnum: number;
}

/** A scalar function implementation. Strict functions are never called with a NULL argument. */
export type ScalarImpl = (args: Value[], ctx: EvalContext) => Value;

/** Functions that must read or write storage (nextval): evaluated ahead of the row's expression. */
export type AsyncScalarImpl = (args: Value[], ctx: EvalContext) => Promise<Value>;

export type Expr =
  | { readonly kind: 'const'; readonly type: SqlType; readonly value: Value }
  | { readonly kind: 'param'; readonly type: SqlType; readonly index: number }
  | { readonly kind: 'col'; readonly type: SqlType; readonly id: ColumnId; readonly name: string }
  | {
      readonly kind: 'call';
      readonly type: SqlType;
      readonly name: string;
      readonly args: readonly Expr[];
      readonly impl: ScalarImpl;
      readonly strict: boolean;
      /** Volatile functions (random(), nextval()) are never constant-folded. */
      readonly volatile: boolean;
    }
  | {
      readonly kind: 'async-call';
      readonly type: SqlType;
      readonly name: string;
      readonly args: readonly Expr[];
      readonly impl: AsyncScalarImpl;
      /** Called with NULL arguments too (a PL/pgSQL function not declared STRICT). */
      readonly nonStrict?: boolean;
    }
  | { readonly kind: 'cast'; readonly type: SqlType; readonly arg: Expr; readonly fn: CastFn }
  | { readonly kind: 'and' | 'or'; readonly type: SqlType; readonly args: readonly Expr[] }
  | { readonly kind: 'not'; readonly type: SqlType; readonly arg: Expr }
  | { readonly kind: 'is-null'; readonly type: SqlType; readonly arg: Expr; readonly negate: boolean }
  | {
      readonly kind: 'is-bool';
      readonly type: SqlType;
      readonly arg: Expr;
      readonly test: 'true' | 'false' | 'unknown';
      readonly negate: boolean;
    }
  | {
      readonly kind: 'compare';
      readonly type: SqlType;
      readonly op: CompareOp;
      readonly left: Expr;
      readonly right: Expr;
      readonly cmp: Comparator;
    }
  | {
      readonly kind: 'distinct-from';
      readonly type: SqlType;
      readonly left: Expr;
      readonly right: Expr;
      readonly cmp: Comparator;
      readonly negate: boolean;
    }
  | {
      readonly kind: 'case';
      readonly type: SqlType;
      readonly whens: readonly { readonly cond: Expr; readonly result: Expr }[];
      readonly elseExpr: Expr;
    }
  | {
      readonly kind: 'coalesce' | 'greatest' | 'least';
      readonly type: SqlType;
      readonly args: readonly Expr[];
      readonly cmp: Comparator;
    }
  | {
      readonly kind: 'in-list';
      readonly type: SqlType;
      readonly arg: Expr;
      readonly list: readonly Expr[];
      readonly cmp: Comparator;
      readonly negate: boolean;
    }
  | {
      readonly kind: 'array';
      readonly type: SqlType;
      readonly elems: readonly Expr[];
      /** ARRAY[arr, arr]: the elements are arrays, nested into one more dimension (types/array-dims.ts). */
      readonly nested?: boolean;
    }
  | { readonly kind: 'row'; readonly type: SqlType; readonly args: readonly Expr[] }
  | {
      readonly kind: 'subquery';
      readonly type: SqlType;
      readonly mode: 'scalar' | 'exists' | 'any' | 'all' | 'array';
      readonly plan: Plan;
      /** ANY/ALL: the left operand and the comparison. */
      readonly test?: Expr;
      readonly op?: CompareOp;
      readonly cmp?: Comparator;
      /** Ids of outer columns the subquery reads; empty = evaluate once. */
      readonly correlated: boolean;
      /**
       * A SQL function's body: `plan` reads these argument values as its
       * parameters ($1..), not the caller's parameters or rows.
       */
      readonly args?: readonly Expr[];
      /** With `args`: NULL without running the body when an argument is NULL (STRICT). */
      readonly strict?: boolean;
    };

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export interface AggCall {
  readonly name: string;
  readonly args: readonly Expr[];
  readonly distinct: boolean;
  readonly star: boolean;
  readonly filter?: Expr;
  readonly orderBy?: readonly SortKey[];
  readonly type: SqlType;
  readonly argTypes: readonly SqlType[];
  /** The output column id of this aggregate. */
  readonly id: ColumnId;
}

export interface SortKey {
  readonly expr: Expr;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
  readonly cmp: Comparator;
}

export interface WindowCall {
  readonly name: string;
  readonly args: readonly Expr[];
  readonly partitionBy: readonly Expr[];
  readonly orderBy: readonly SortKey[];
  readonly frame: WindowFrame;
  readonly type: SqlType;
  readonly id: ColumnId;
  readonly isAggregate: boolean;
  readonly distinct: boolean;
  readonly filter?: Expr;
}

export interface WindowFrame {
  readonly mode: 'rows' | 'range' | 'groups';
  readonly start: FrameBound;
  readonly end: FrameBound;
  /** true when no frame clause was written and ORDER BY is present (RANGE UNBOUNDED PRECEDING .. CURRENT ROW). */
  readonly isDefault: boolean;
}

export type FrameBound =
  | { readonly kind: 'unbounded-preceding' | 'current-row' | 'unbounded-following' }
  | { readonly kind: 'preceding' | 'following'; readonly offset: Expr };

export type JoinType = 'inner' | 'left' | 'right' | 'full' | 'semi' | 'anti';

/** How a table is read. */
/** An index's key expressions (undefined at plain-column keys) and predicate, bound over a scan's columns. */
export interface IndexExprsBound {
  readonly keys: readonly (Expr | undefined)[];
  readonly pred?: Expr;
}

export type AccessPath =
  | { readonly kind: 'full' }
  /** Key-range scan of one index: equality prefix then an optional range on the next column. */
  | {
      readonly kind: 'index';
      readonly index: IndexDef;
      readonly eq: readonly Expr[];
      readonly lower?: { readonly expr: Expr; readonly inclusive: boolean };
      readonly upper?: { readonly expr: Expr; readonly inclusive: boolean };
      /** The index yields rows in this order (used to skip a sort). */
      readonly reverse: boolean;
    };

export type Plan =
  | {
      readonly kind: 'scan';
      readonly table: TableDef;
      readonly alias: string;
      readonly cols: readonly OutputColumn[];
      readonly filter?: Expr;
      readonly access: AccessPath;
      /** Stop after this many matching rows (limit pushdown). */
      readonly limit?: number;
      readonly lockForUpdate?: boolean;
      /** Expression and partial indexes of the table, by index id: their expressions bound over `cols` (index selection). */
      readonly indexExprs?: ReadonlyMap<number, IndexExprsBound>;
    }
  | { readonly kind: 'values'; readonly cols: readonly OutputColumn[]; readonly rows: readonly (readonly Expr[])[] }
  | { readonly kind: 'one-row'; readonly cols: readonly OutputColumn[] }
  | { readonly kind: 'filter'; readonly cols: readonly OutputColumn[]; readonly input: Plan; readonly pred: Expr }
  | {
      readonly kind: 'project';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly exprs: readonly Expr[];
    }
  | {
      readonly kind: 'join';
      readonly cols: readonly OutputColumn[];
      readonly joinType: JoinType;
      readonly left: Plan;
      readonly right: Plan;
      readonly cond?: Expr;
      /** Hash join keys (left expr = right expr), chosen by the optimizer. */
      readonly hashKeys?: readonly { readonly left: Expr; readonly right: Expr }[];
      /** Right side re-evaluated per left row (LATERAL). */
      readonly lateral: boolean;
    }
  | {
      readonly kind: 'aggregate';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly groups: readonly Expr[];
      readonly aggs: readonly AggCall[];
      /** GROUPING SETS: each set lists indexes into `groups`; undefined = one set of all. */
      readonly groupingSets?: readonly (readonly number[])[];
      /** GROUPING(args): output columns after the aggregates; args index into `groups`. */
      readonly groupingCalls?: readonly { readonly id: ColumnId; readonly args: readonly number[] }[];
    }
  | {
      readonly kind: 'window';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly calls: readonly WindowCall[];
    }
  | {
      readonly kind: 'sort';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly keys: readonly SortKey[];
    }
  | {
      readonly kind: 'limit';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly limit?: Expr;
      readonly offset?: Expr;
    }
  | {
      readonly kind: 'distinct';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly on?: readonly Expr[];
    }
  | {
      readonly kind: 'setop';
      readonly cols: readonly OutputColumn[];
      readonly op: 'union' | 'intersect' | 'except';
      readonly all: boolean;
      readonly left: Plan;
      readonly right: Plan;
    }
  | { readonly kind: 'cte-scan'; readonly cols: readonly OutputColumn[]; readonly cte: CteDef }
  | ({
      readonly kind: 'function-scan';
      readonly cols: readonly OutputColumn[];
      /** WITH ORDINALITY: a trailing int8 row number column. */
      readonly ordinality: boolean;
    } & SrfCall)
  /**
   * PostgreSQL's ProjectSet: the set-returning functions of a select list,
   * run in lockstep for each input row. The output rows of one input row are
   * the input row followed by the n-th value of every function, for n up to
   * the longest function's row count; a function that has run out gives
   * NULL. A function that returns no rows (all of them, when there are
   * several) drops the input row. Output columns: the input's, then one per
   * function (`srfs[i].id`).
   */
  | {
      readonly kind: 'project-set';
      readonly cols: readonly OutputColumn[];
      readonly input: Plan;
      readonly srfs: readonly ProjectSetSrf[];
    }
  | { readonly kind: 'modify'; readonly cols: readonly OutputColumn[]; readonly modify: ModifyPlan }
  /**
   * A statement with data-modifying CTEs (WITH x AS (INSERT/UPDATE/DELETE
   * ... RETURNING) ...): each CTE runs once, to completion, before `input`;
   * `input` reads the tables as they were before the CTEs changed them
   * (PostgreSQL's one snapshot per statement) and the CTEs' RETURNING rows.
   */
  | {
      readonly kind: 'with-writes';
      readonly cols: readonly OutputColumn[];
      readonly ctes: readonly CteDef[];
      readonly input: Plan;
    };

export type SetReturningImpl = (args: Value[], ctx: EvalContext) => Iterable<Value[]>;

/** One call of a set-returning function: in FROM (function-scan) or in a select list (project-set). */
export interface SrfCall {
  readonly name: string;
  readonly args: readonly Expr[];
  readonly impl: SetReturningImpl;
  /** A set-returning SQL function: its body, run with the argument values as parameters (`impl` unused). */
  readonly body?: Plan;
  /** With `body` or `asyncImpl`: no rows without running it when an argument is NULL (STRICT). */
  readonly strict?: boolean;
  /** A set-returning PL/pgSQL function: its rows (`impl` unused). */
  readonly asyncImpl?: (args: Value[], ctx: EvalContext) => Promise<Value[][]>;
}

/** A set-returning function in a select list: its value is output column `id`. */
export interface ProjectSetSrf extends SrfCall {
  readonly id: ColumnId;
  /** A function with several result columns: each row becomes one record value (PostgreSQL's composite result). */
  readonly record: boolean;
}

export interface CteDef {
  readonly name: string;
  readonly id: number;
  plan: Plan;
  readonly cols: readonly OutputColumn[];
  /** WITH RECURSIVE: the non-recursive part is `plan`, the recursive part reads the working table. */
  recursive?: { readonly plan: Plan; readonly all: boolean };
  /** A data-modifying CTE (`plan` is a modify plan; run by the enclosing with-writes node). */
  readonly modifying?: boolean;
}

export interface ModifyPlan {
  readonly op: 'insert' | 'update' | 'delete' | 'merge';
  readonly table: TableDef;
  /** insert: rows of the target's full column list (in attnum order). update/delete: rows to change, carrying the old row. */
  readonly input: Plan;
  /** update: new values for each column position, expressions over the input row (undefined = unchanged). */
  readonly assignments?: readonly (Expr | undefined)[];
  /** Ids of the input columns holding the old row (update/delete). */
  readonly oldRowCols?: readonly ColumnId[];
  /**
   * update/delete: the WHERE clause over the input row, re-checked on the
   * latest committed version of a row that changed after the statement's
   * snapshot (READ COMMITTED, PostgreSQL's EvalPlanQual).
   */
  readonly recheck?: Expr;
  readonly onConflict?: OnConflict;
  /** merge: the input is source LEFT JOIN target; these are its WHEN clauses, in order. */
  readonly merge?: MergePlan;
  readonly returning?: { readonly exprs: readonly Expr[]; readonly rowCols: readonly ColumnId[] };
  readonly columns: readonly ColumnDef[];
  /** Layout (column ids) of the new row that CHECK expressions read. */
  readonly newRowCols: readonly ColumnId[];
  /** CHECK constraints; `view`: a view's WITH CHECK OPTION condition (named by the view; NULL fails it). */
  readonly checks: readonly { readonly name: string; readonly expr: Expr; readonly view?: true }[];
  /** Foreign keys this table references (checked on insert/update). */
  readonly parents: readonly ForeignKeyRef[];
  /** Foreign keys referencing this table (enforced on delete/update). */
  readonly children: readonly ForeignKeyRef[];
}

/** MERGE: how to tell matched rows and what each WHEN clause does (expressions over the joined input row). */
export interface MergePlan {
  /** Input position of a target primary-key column: NULL there means no target row matched. */
  readonly matchedPos: number;
  /** The ON condition (re-checked on a row changed concurrently, READ COMMITTED). */
  readonly on: Expr;
  readonly clauses: readonly MergeClause[];
}

export interface MergeClause {
  readonly matched: boolean;
  readonly cond?: Expr;
  readonly action: 'update' | 'delete' | 'insert' | 'nothing';
  /** update: new values per column position (undefined = unchanged). */
  readonly assignments?: readonly (Expr | undefined)[];
  /** insert: the new row's values, one per table column. */
  readonly values?: readonly Expr[];
}

export interface ForeignKeyRef {
  readonly name: string;
  readonly child: TableDef;
  readonly childColumns: readonly number[];
  readonly parent: TableDef;
  readonly parentColumns: readonly number[];
  readonly onDelete: 'a' | 'r' | 'c' | 'n' | 'd';
  readonly onUpdate: 'a' | 'r' | 'c' | 'n' | 'd';
}

export interface OnConflict {
  readonly action: 'nothing' | 'update';
  /** Index whose uniqueness the clause names (undefined = any unique index). */
  readonly index?: IndexDef;
  /** Column ids under which the existing row is visible to SET/WHERE; EXCLUDED row uses `excludedCols`. */
  readonly existingCols: readonly ColumnId[];
  readonly excludedCols: readonly ColumnId[];
  readonly assignments?: readonly (Expr | undefined)[];
  readonly where?: Expr;
}

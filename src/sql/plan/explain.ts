/**
 * EXPLAIN output: one line per plan node, indented like PostgreSQL's text
 * format ("->  " children). With ANALYZE, each node shows the rows it
 * produced, the times it was started (loops) and its cumulative time.
 */

import type { Expr, Plan } from './plan.ts';
import { defaultIoSettings, formatText } from '../types/text-io.ts';
import type { OperatorStats } from '../exec/executor.ts';

function exprText(e: Expr): string {
  switch (e.kind) {
    case 'const':
      if (e.value === null) return 'NULL';
      if (typeof e.value === 'string') return `'${e.value}'`;
      // Arrays, jsonb, intervals, bytea: their text form (String() gave [object Object]).
      return typeof e.value === 'object' && e.type.id !== 'numeric'
        ? `'${formatText(e.type, e.value, defaultIoSettings)}'`
        : String(e.value);
    case 'param':
      return `$${e.index + 1}`;
    case 'col':
      return e.name;
    case 'call':
    case 'async-call':
      // A record field (binder.ts recordField): (record).name.
      if (e.name.startsWith('.') && e.args.length === 1) return `(${exprText(e.args[0]!)})${e.name}`;
      return /^[a-z_]/i.test(e.name)
        ? `${e.name}(${e.args.map(exprText).join(', ')})`
        : e.args.length === 1
          ? `(${e.name}${exprText(e.args[0]!)})`
          : `(${e.args.map(exprText).join(` ${e.name} `)})`;
    case 'cast':
      return `(${exprText(e.arg)})::${e.type.name}`;
    case 'and':
    case 'or':
      return `(${e.args.map(exprText).join(e.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${exprText(e.arg)})`;
    case 'is-null':
      return `(${exprText(e.arg)} IS ${e.negate ? 'NOT ' : ''}NULL)`;
    case 'is-bool':
      return `(${exprText(e.arg)} IS ${e.negate ? 'NOT ' : ''}${e.test.toUpperCase()})`;
    case 'compare':
      return `(${exprText(e.left)} ${e.op} ${exprText(e.right)})`;
    case 'distinct-from':
      return `(${exprText(e.left)} IS ${e.negate ? 'NOT ' : ''}DISTINCT FROM ${exprText(e.right)})`;
    case 'case':
      return `CASE ${e.whens.map((w) => `WHEN ${exprText(w.cond)} THEN ${exprText(w.result)}`).join(' ')} ELSE ${exprText(e.elseExpr)} END`;
    case 'coalesce':
    case 'greatest':
    case 'least':
      return `${e.kind.toUpperCase()}(${e.args.map(exprText).join(', ')})`;
    case 'in-list':
      return `(${exprText(e.arg)} ${e.negate ? 'NOT ' : ''}IN (${e.list.map(exprText).join(', ')}))`;
    case 'array':
      return `ARRAY[${e.elems.map(exprText).join(', ')}]`;
    case 'row':
      return `ROW(${e.args.map(exprText).join(', ')})`;
    case 'subquery':
      return `(SubPlan ${e.mode}${e.correlated ? ', correlated' : ''})`;
  }
}

function label(p: Plan): string {
  switch (p.kind) {
    case 'scan': {
      if (p.access.kind === 'index') {
        const ix = p.access.index;
        return `${ix.primary ? 'Index Scan (primary key)' : 'Index Scan'} using ${ix.name} on ${p.table.name}${p.alias !== p.table.name ? ` ${p.alias}` : ''}`;
      }
      return `Seq Scan on ${p.table.name}${p.alias !== p.table.name ? ` ${p.alias}` : ''}`;
    }
    case 'values':
      return `Values Scan (${p.rows.length} rows)`;
    case 'one-row':
      return 'Result';
    case 'filter':
      return 'Filter';
    case 'project':
      return 'Project';
    case 'join': {
      const algo = p.hashKeys !== undefined && p.hashKeys.length > 0 ? 'Hash Join' : 'Nested Loop';
      const jt = p.joinType === 'inner' ? '' : ` ${p.joinType[0]!.toUpperCase()}${p.joinType.slice(1)}`;
      return `${algo}${jt}`;
    }
    case 'aggregate':
      return p.groups.length === 0 ? 'Aggregate' : 'HashAggregate';
    case 'window':
      return 'WindowAgg';
    case 'sort':
      return 'Sort';
    case 'limit':
      return 'Limit';
    case 'distinct':
      return p.on === undefined ? 'HashAggregate (distinct)' : 'Unique (distinct on)';
    case 'setop':
      return `${p.op === 'union' ? (p.all ? 'Append' : 'HashSetOp Union') : p.op === 'intersect' ? 'HashSetOp Intersect' : 'HashSetOp Except'}${p.all && p.op !== 'union' ? ' All' : ''}`;
    case 'cte-scan':
      return `CTE Scan on ${p.cte.name}`;
    case 'function-scan':
      return `Function Scan on ${p.name}`;
    case 'project-set':
      return 'ProjectSet';
    case 'modify':
      return `${p.modify.op[0]!.toUpperCase()}${p.modify.op.slice(1)} on ${p.modify.table.name}`;
    case 'with-writes':
      return `With Writes (${p.ctes.map((c) => c.name).join(', ')})`;
  }
}

function details(p: Plan, verbose: boolean): string[] {
  const out: string[] = [];
  switch (p.kind) {
    case 'scan':
      if (p.access.kind === 'index') {
        const a = p.access;
        // An expression key prints as its expression (PostgreSQL: `Index Cond: (lower(name) = 'x')`).
        const keyName = (i: number): string => {
          const x = a.index.exprs?.[i];
          return x == null
            ? (p.table.columns[a.index.columns[i] ?? 0]?.name ?? '?')
            : /^\w+\(/.test(x.sql)
              ? x.sql
              : `(${x.sql})`;
        };
        const conds = a.eq.map((e, i) => `${keyName(i)} = ${exprText(e)}`);
        const col = keyName(a.eq.length);
        if (a.lower !== undefined) conds.push(`${col} ${a.lower.inclusive ? '>=' : '>'} ${exprText(a.lower.expr)}`);
        if (a.upper !== undefined) conds.push(`${col} ${a.upper.inclusive ? '<=' : '<'} ${exprText(a.upper.expr)}`);
        out.push(`Index Cond: (${conds.join(' AND ')})`);
      }
      if (p.filter !== undefined) out.push(`Filter: ${exprText(p.filter)}`);
      if (p.limit !== undefined) out.push(`Limit: ${p.limit}`);
      break;
    case 'filter':
      out.push(`Filter: ${exprText(p.pred)}`);
      break;
    case 'join':
      if (p.hashKeys !== undefined && p.hashKeys.length > 0)
        out.push(`Hash Cond: (${p.hashKeys.map((k) => `${exprText(k.left)} = ${exprText(k.right)}`).join(' AND ')})`);
      if (p.cond !== undefined) out.push(`Join Filter: ${exprText(p.cond)}`);
      break;
    case 'aggregate':
      if (p.groups.length > 0) out.push(`Group Key: ${p.groups.map(exprText).join(', ')}`);
      break;
    case 'sort':
      out.push(
        `Sort Key: ${p.keys.map((k) => `${exprText(k.expr)}${k.desc ? ' DESC' : ''}${k.nullsFirst !== k.desc ? (k.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST') : ''}`).join(', ')}`,
      );
      break;
    case 'project':
      if (verbose) out.push(`Output: ${p.exprs.map(exprText).join(', ')}`);
      break;
    case 'project-set':
      if (verbose) out.push(`Output: ${p.srfs.map((f) => `${f.name}(${f.args.map(exprText).join(', ')})`).join(', ')}`);
      break;
    default:
      break;
  }
  return out;
}

function children(p: Plan): Plan[] {
  switch (p.kind) {
    case 'filter':
    case 'project':
    case 'project-set':
    case 'aggregate':
    case 'window':
    case 'sort':
    case 'limit':
    case 'distinct':
      return [p.input];
    case 'join':
    case 'setop':
      return [p.left, p.right];
    case 'modify':
      return [p.modify.input];
    case 'with-writes':
      return [...p.ctes.map((c) => c.plan), p.input];
    default:
      return [];
  }
}

export function explainPlan(plan: Plan, stats: Map<Plan, OperatorStats> | undefined, verbose: boolean): string[] {
  const lines: string[] = [];
  const walk = (p: Plan, depth: number): void => {
    // Projections are an implementation detail in PostgreSQL's output; show them only in VERBOSE.
    if (p.kind === 'project' && !verbose && p.input.kind !== 'one-row') {
      walk(p.input, depth);
      return;
    }
    const indent = depth === 0 ? '' : `${' '.repeat(depth * 6 - 6)}  ->  `;
    const st = stats?.get(p);
    const actual =
      stats === undefined
        ? ''
        : st === undefined
          ? ' (never executed)'
          : ` (actual time=${st.timeMs.toFixed(3)} rows=${st.loops === 0 ? 0 : Math.round(st.rows / st.loops)} loops=${st.loops})`;
    lines.push(`${indent}${label(p)}${actual}`);
    const pad = depth === 0 ? '  ' : `${' '.repeat(depth * 6)}`;
    for (const d of details(p, verbose)) lines.push(`${pad}${d}`);
    if (st?.details !== undefined) for (const d of st.details) lines.push(`${pad}${d}`);
    for (const c of children(p)) walk(c, depth + 1);
  };
  walk(plan, 0);
  return lines;
}

/**
 * Random schemas, data and queries for differential testing against
 * PostgreSQL (test/sim/sql-diff.sim.ts). Everything derives from one seed.
 *
 * The generator stays inside what both engines must agree on exactly:
 * small integers (no overflow), exact numerics, text, booleans, NULLs
 * everywhere; no division (PostgreSQL folds constant divisions by zero at
 * plan time), no LIMIT without a total order. Results are compared as
 * sorted multisets of text rows.
 */

import { Prng } from '../../../src/util/prng.ts';

interface Col {
  readonly name: string;
  readonly type: 'int' | 'text' | 'numeric' | 'bool';
}

interface Table {
  readonly name: string;
  readonly cols: readonly Col[];
}

export interface Scenario {
  readonly setup: string[];
  readonly queries: string[];
}

const TEXTS = ['a', 'b', 'ab', 'ba', 'abc', '', 'x y', 'Z'];

function literal(r: Prng, type: Col['type']): string {
  if (r.chance(0.15)) return 'NULL';
  switch (type) {
    case 'int':
      return String(r.range(-20, 20));
    case 'text':
      return `'${TEXTS[r.int(TEXTS.length)]!}'`;
    case 'numeric':
      return (r.range(-5000, 5000) / 100).toFixed(2);
    case 'bool':
      return r.chance(0.5) ? 'true' : 'false';
  }
}

export function generate(seed: number, queriesPerSeed: number): Scenario {
  const r = new Prng(seed);
  const tables: Table[] = [];
  const setup: string[] = [];
  const nTables = r.range(1, 3);
  for (let t = 0; t < nTables; t++) {
    const cols: Col[] = [{ name: 'id', type: 'int' }];
    const n = r.range(2, 4);
    for (let c = 0; c < n; c++)
      cols.push({ name: `c${c}`, type: (['int', 'text', 'numeric', 'bool'] as const)[r.int(4)]! });
    const name = `t${t}`;
    tables.push({ name, cols });
    setup.push(
      `CREATE TABLE ${name} (id int PRIMARY KEY, ${cols
        .slice(1)
        .map((c) => `${c.name} ${c.type}`)
        .join(', ')})`,
    );
    const rows = r.range(0, 25);
    const values: string[] = [];
    for (let i = 1; i <= rows; i++)
      values.push(
        `(${i}, ${cols
          .slice(1)
          .map((c) => literal(r, c.type))
          .join(', ')})`,
      );
    if (values.length > 0) setup.push(`INSERT INTO ${name} VALUES ${values.join(', ')}`);
    if (r.chance(0.5)) {
      const c = cols[r.range(1, cols.length - 1)]!;
      setup.push(`CREATE INDEX ${name}_${c.name} ON ${name} (${c.name})`);
    }
  }
  const queries: string[] = [];
  for (let q = 0; q < queriesPerSeed; q++) queries.push(query(r, tables));
  // Set-returning functions in the select list, from a stream of their own: the queries above stay what they were per seed.
  const rs = new Prng(seed * 31 + 7);
  for (let q = 0; q < Math.ceil(queriesPerSeed / 8); q++) queries.push(srfQuery(rs, tables));
  return { setup, queries };
}

function colsOf(t: Table, alias: string): { ref: string; type: Col['type'] }[] {
  return t.cols.map((c) => ({ ref: `${alias}.${c.name}`, type: c.type }));
}

function expr(r: Prng, cols: readonly { ref: string; type: Col['type'] }[], type: Col['type'], depth: number): string {
  const same = cols.filter((c) => c.type === type);
  if (depth <= 0 || r.chance(0.35)) {
    if (same.length > 0 && r.chance(0.7)) return same[r.int(same.length)]!.ref;
    return literal(r, type);
  }
  switch (type) {
    case 'int': {
      const k = r.int(5);
      if (k === 0)
        return `(${expr(r, cols, 'int', depth - 1)} ${['+', '-', '*'][r.int(3)]} ${expr(r, cols, 'int', depth - 1)})`;
      if (k === 1) return `COALESCE(${expr(r, cols, 'int', depth - 1)}, ${expr(r, cols, 'int', depth - 1)})`;
      if (k === 2)
        return `CASE WHEN ${expr(r, cols, 'bool', depth - 1)} THEN ${expr(r, cols, 'int', depth - 1)} ELSE ${expr(r, cols, 'int', depth - 1)} END`;
      if (k === 3) return `abs(${expr(r, cols, 'int', depth - 1)})`;
      return `length(${expr(r, cols, 'text', depth - 1)})`;
    }
    case 'numeric': {
      const k = r.int(3);
      if (k === 0)
        return `(${expr(r, cols, 'numeric', depth - 1)} ${['+', '-', '*'][r.int(3)]} ${expr(r, cols, r.chance(0.5) ? 'numeric' : 'int', depth - 1)})`;
      if (k === 1) return `round(${expr(r, cols, 'numeric', depth - 1)}, ${r.int(3)})`;
      return `NULLIF(${expr(r, cols, 'numeric', depth - 1)}, ${expr(r, cols, 'numeric', depth - 1)})`;
    }
    case 'text': {
      const k = r.int(3);
      if (k === 0)
        return `(${expr(r, cols, 'text', depth - 1)} || ${expr(r, cols, r.chance(0.5) ? 'text' : 'int', depth - 1)})`;
      if (k === 1) return `upper(${expr(r, cols, 'text', depth - 1)})`;
      return `COALESCE(${expr(r, cols, 'text', depth - 1)}, 'none')`;
    }
    case 'bool': {
      const k = r.int(7);
      const t = (['int', 'text', 'numeric'] as const)[r.int(3)]!;
      if (k === 0)
        return `(${expr(r, cols, t, depth - 1)} ${['=', '<>', '<', '<=', '>', '>='][r.int(6)]} ${expr(r, cols, t, depth - 1)})`;
      if (k === 1)
        return `(${expr(r, cols, 'bool', depth - 1)} ${r.chance(0.5) ? 'AND' : 'OR'} ${expr(r, cols, 'bool', depth - 1)})`;
      if (k === 2) return `(NOT ${expr(r, cols, 'bool', depth - 1)})`;
      if (k === 3) return `(${expr(r, cols, t, depth - 1)} IS ${r.chance(0.5) ? '' : 'NOT '}NULL)`;
      if (k === 4)
        return `(${expr(r, cols, 'int', depth - 1)} ${r.chance(0.3) ? 'NOT ' : ''}IN (${[0, 1, 2].map(() => literal(r, 'int')).join(', ')}))`;
      if (k === 5) return `(${expr(r, cols, 'int', depth - 1)} BETWEEN ${literal(r, 'int')} AND ${literal(r, 'int')})`;
      return `(${expr(r, cols, 'text', depth - 1)} LIKE '${['a%', '%b', '_', '%'][r.int(4)]!}')`;
    }
  }
}

function query(r: Prng, tables: readonly Table[]): string {
  const t1 = tables[r.int(tables.length)]!;
  let from = `${t1.name} a`;
  let cols = colsOf(t1, 'a');
  if (tables.length > 1 && r.chance(0.5)) {
    const t2 = tables[r.int(tables.length)]!;
    const kind = ['JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN'][r.int(4)]!;
    const c2 = colsOf(t2, 'b');
    const on = r.chance(0.7) ? `a.id = b.id` : expr(r, [...cols, ...c2], 'bool', 1);
    from += ` ${kind} ${t2.name} b ON ${on}`;
    cols = [...cols, ...c2];
  }
  const where = r.chance(0.7) ? ` WHERE ${expr(r, cols, 'bool', 2)}` : '';
  const mode = r.int(7);
  if (mode === 4) {
    // Window functions over a total order.
    const part = cols[r.int(cols.length)]!.ref;
    const w = ['row_number()', 'rank()', 'dense_rank()', `sum(a.id)`, `count(*)`, `lag(a.id)`, `first_value(a.id)`][
      r.int(7)
    ]!;
    return `SELECT a.id, ${w} OVER (PARTITION BY ${part} ORDER BY a.id) FROM ${t1.name} a${where.replace(/\bb\./g, 'a.')}`;
  }
  if (mode === 5) {
    const other = tables[r.int(tables.length)]!;
    const op = ['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT'][r.int(4)]!;
    return `SELECT a.id FROM ${t1.name} a WHERE ${expr(r, colsOf(t1, 'a'), 'bool', 2)} ${op} SELECT o.id FROM ${other.name} o WHERE ${expr(r, colsOf(other, 'o'), 'bool', 2)}`;
  }
  if (mode === 6) {
    const e = expr(r, colsOf(t1, 'a'), 'int', 2);
    return `WITH w AS (SELECT a.id, ${e} AS x FROM ${t1.name} a) SELECT x, count(*) FROM w GROUP BY x ORDER BY x NULLS FIRST LIMIT ${r.range(1, 5)}`;
  }
  if (mode === 0) {
    // Aggregate with GROUP BY.
    const g = cols[r.int(cols.length)]!;
    const aggInt = cols.filter((c) => c.type === 'int' || c.type === 'numeric');
    const a = aggInt[r.int(aggInt.length)]!;
    const agg = ['count(*)', `count(${a.ref})`, `sum(${a.ref})`, `min(${a.ref})`, `max(${a.ref})`, `avg(${a.ref})`][
      r.int(6)
    ]!;
    const having = r.chance(0.3) ? ` HAVING count(*) > ${r.int(3)}` : '';
    return `SELECT ${g.ref}, ${agg} FROM ${from}${where} GROUP BY ${g.ref}${having}`;
  }
  if (mode === 1) {
    const sub = tables[r.int(tables.length)]!;
    const sc = sub.cols.filter((c) => c.type === 'int');
    const subCol = sc[r.int(sc.length)]!.name;
    const kind = r.int(3);
    const pred =
      kind === 0
        ? `a.id ${r.chance(0.3) ? 'NOT ' : ''}IN (SELECT ${subCol} FROM ${sub.name} s WHERE ${subCol} IS NOT NULL)`
        : kind === 1
          ? `EXISTS (SELECT 1 FROM ${sub.name} s WHERE s.id = a.id)`
          : `a.id > (SELECT count(*) FROM ${sub.name} s WHERE s.id < a.id)`;
    return `SELECT a.id, ${expr(r, colsOf(t1, 'a'), 'int', 2)} FROM ${t1.name} a WHERE ${pred}`;
  }
  if (mode === 2) {
    const e = expr(r, cols, (['int', 'text', 'numeric', 'bool'] as const)[r.int(4)]!, 2);
    return `SELECT DISTINCT ${e} FROM ${from}${where}`;
  }
  const n = r.range(1, 3);
  const sel = Array.from({ length: n }, () =>
    expr(r, cols, (['int', 'text', 'numeric', 'bool'] as const)[r.int(4)]!, 3),
  );
  return `SELECT ${sel.join(', ')} FROM ${from}${where}`;
}

/**
 * A select list with set-returning functions (PostgreSQL's ProjectSet):
 * lockstep series of different lengths, series whose bounds read the row
 * (possibly NULL or empty), nesting, inside expressions, over aggregates
 * and under GROUP BY / DISTINCT. Series stay short (bounds are small).
 */
function srfQuery(r: Prng, tables: readonly Table[]): string {
  const t = tables[r.int(tables.length)]!;
  const cols = colsOf(t, 'a');
  const ints = cols.filter((c) => c.type === 'int');
  const small = (): string => {
    const c = ints[r.int(ints.length)]!.ref;
    return r.chance(0.5) ? `(${c} % 4)` : String(r.range(-1, 3));
  };
  const series = (): string =>
    r.chance(0.25)
      ? `unnest(ARRAY[${[0, 1, 2]
          .slice(0, r.range(1, 3))
          .map(() => expr(r, cols, 'int', 1))
          .join(', ')}])`
      : r.chance(0.2)
        ? `generate_series(1, generate_series(0, ${small()}))`
        : `generate_series(${small()}, ${small()})`;
  const where = r.chance(0.5) ? ` WHERE ${expr(r, cols, 'bool', 1)}` : '';
  const from = `${t.name} a${where}`;
  switch (r.int(6)) {
    case 0:
      return `SELECT a.id, ${series()} FROM ${from}`;
    case 1:
      return `SELECT a.id, ${series()}, ${series()} FROM ${from}`;
    case 2:
      return `SELECT ${expr(r, cols, 'int', 1)} + ${series()}, ${expr(r, cols, (['int', 'text', 'numeric', 'bool'] as const)[r.int(4)]!, 1)} FROM ${from}`;
    case 3: {
      const g = cols[r.int(cols.length)]!.ref;
      return `SELECT ${g}, count(*), ${r.chance(0.5) ? `generate_series(1, count(*)::int % 3)` : series().replace(/a\.\w+/g, g)} FROM ${from} GROUP BY ${g}`;
    }
    case 4:
      return `SELECT generate_series(${small()}, 2) AS g, count(*) FROM ${from} GROUP BY g`;
    default:
      return `SELECT DISTINCT ${series()} FROM ${from}`;
  }
}

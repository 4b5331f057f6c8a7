/**
 * Multidimensional arrays: an ArrayValue keeps its elements flat, row-major,
 * and (from two dimensions up) the length of each dimension in `dims`; lower
 * bounds are always 1. One-dimensional arrays have no `dims`, so everything
 * that only walks the elements (unnest, = ANY, cardinality, array_to_string)
 * treats a multidimensional array as PostgreSQL does: all its elements in
 * storage order.
 */

import { NextDbError } from '../../util/errors.ts';
import type { ArrayValue, Value } from './sql-type.ts';

/** The length of each dimension: [] for the empty array. */
export function arrayDims(a: ArrayValue): readonly number[] {
  return a.dims ?? (a.elems.length === 0 ? [] : [a.elems.length]);
}

/** An array of `elems` with dimensions `dims` (product = elems.length). */
export function makeArray(elems: readonly Value[], dims: readonly number[]): ArrayValue {
  return dims.length >= 2 ? { kind: 'array', elems, dims } : { kind: 'array', elems };
}

/** The same dimensions as `like`, other elements (casts, element-wise maps). */
export function withElems(like: ArrayValue, elems: readonly Value[]): ArrayValue {
  return like.dims === undefined ? { kind: 'array', elems } : { kind: 'array', elems, dims: like.dims };
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * ARRAY[arr, arr, ...]: one more dimension over sub-arrays of equal
 * dimensions. NULL and empty sub-arrays count as empty: all empty gives the
 * empty array, some empty is an error (PostgreSQL's ExecEvalArrayExpr).
 */
export function nestArrays(parts: readonly Value[]): ArrayValue {
  let sub: readonly number[] | undefined;
  let empty = false;
  const elems: Value[] = [];
  for (const p of parts) {
    const a = p as ArrayValue | null;
    if (a === null || a.elems.length === 0) {
      empty = true;
      continue;
    }
    const d = arrayDims(a);
    if (sub === undefined) sub = d;
    else if (!sameDims(sub, d))
      throw new NextDbError('2202E', 'multidimensional arrays must have array expressions with matching dimensions');
    for (const e of a.elems) elems.push(e);
  }
  if (sub === undefined) return { kind: 'array', elems: [] };
  if (empty)
    throw new NextDbError('2202E', 'multidimensional arrays must have array expressions with matching dimensions');
  return makeArray(elems, [parts.length, ...sub]);
}

/** array_agg(array) and ARRAY(SELECT array): sub-arrays must be non-null, non-empty and alike (PostgreSQL's accumArrayResultArr). */
export function accumulateArrays(parts: readonly Value[]): ArrayValue {
  let sub: readonly number[] | undefined;
  const elems: Value[] = [];
  for (const p of parts) {
    const a = p as ArrayValue | null;
    if (a === null) throw new NextDbError('22004', 'cannot accumulate null arrays');
    if (a.elems.length === 0) throw new NextDbError('2202E', 'cannot accumulate empty arrays');
    const d = arrayDims(a);
    if (sub === undefined) sub = d;
    else if (!sameDims(sub, d)) throw new NextDbError('2202E', 'cannot accumulate arrays of different dimensionality');
    for (const e of a.elems) elems.push(e);
  }
  if (sub === undefined) return { kind: 'array', elems: [] };
  return makeArray(elems, [parts.length, ...sub]);
}

/** a[i][j]...: the element, or NULL when a subscript is out of range or their number is not the array's (PostgreSQL). */
export function subscript(a: ArrayValue, idx: readonly number[]): Value {
  const dims = arrayDims(a);
  if (idx.length !== dims.length) return null;
  let off = 0;
  for (let d = 0; d < dims.length; d++) {
    const i = idx[d]! - 1;
    if (i < 0 || i >= dims[d]!) return null;
    off = off * dims[d]! + i;
  }
  return a.elems[off] ?? null;
}

/** array_dims: '[1:2][1:3]'; NULL for the empty array. */
export function arrayDimsText(a: ArrayValue): string | null {
  const dims = arrayDims(a);
  return dims.length === 0 ? null : dims.map((n) => `[1:${n}]`).join('');
}

/** Rows of nested braces over already formatted elements: {{1,2},{3,4}}. */
export function nestText(parts: readonly string[], dims: readonly number[]): string {
  let level = parts;
  for (let d = dims.length - 1; d >= 0; d--) {
    const n = dims[d]!;
    const next: string[] = [];
    for (let i = 0; i < level.length; i += n) next.push(`{${level.slice(i, i + n).join(',')}}`);
    level = next;
  }
  return level[0] ?? '{}';
}

/** array || array (array_cat): along the first dimension, or a sub-array added as one more row (PostgreSQL). */
export function concatArrays(a: ArrayValue, b: ArrayValue): ArrayValue {
  if (a.elems.length === 0) return b;
  if (b.elems.length === 0) return a;
  const da = arrayDims(a);
  const db = arrayDims(b);
  const elems = [...a.elems, ...b.elems];
  const bad = (): NextDbError =>
    new NextDbError('2202E', 'cannot concatenate incompatible arrays', {
      detail: `Arrays with differing dimensions are not compatible for concatenation.`,
    });
  if (da.length === db.length) {
    if (!sameDims(da.slice(1), db.slice(1))) throw bad();
    return makeArray(elems, [da[0]! + db[0]!, ...da.slice(1)]);
  }
  if (da.length === db.length + 1) {
    if (!sameDims(da.slice(1), db)) throw bad();
    return makeArray(elems, [da[0]! + 1, ...db]);
  }
  if (db.length === da.length + 1) {
    if (!sameDims(db.slice(1), da)) throw bad();
    return makeArray(elems, [db[0]! + 1, ...da]);
  }
  throw new NextDbError('2202E', 'cannot concatenate incompatible arrays', {
    detail: `Arrays of ${da.length} and ${db.length} dimensions are not compatible for concatenation.`,
  });
}

/** array_append / array_prepend / array || element: one-dimensional arrays only (PostgreSQL's 22000). */
export function oneDimensional(a: ArrayValue): ArrayValue {
  if (a.dims !== undefined) throw new NextDbError('22000', 'argument must be empty or one-dimensional array');
  return a;
}

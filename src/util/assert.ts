/**
 * Assertions that stay on in production.
 *
 * An assertion failure is a bug in NextDB, never a user error: it throws
 * `AssertionError`, which the server reports as an internal error (SQLSTATE
 * XX000) and never maps to a SQL-level condition.
 */

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Throws an AssertionError when `cond` is false. */
export function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable (exhaustive switches). */
export function assertNever(x: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(x)}`);
}

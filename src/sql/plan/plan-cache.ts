/**
 * The plan cache of a prepared statement: the bound and optimized plan,
 * plus, for a primary-key point SELECT, its compiled lookup
 * (src/sql/exec/point-lookup.ts), reused by every execution while nothing
 * the plan depends on has changed.
 *
 * What a plan depends on, and so what an entry is keyed by:
 * - the catalog version (every DDL statement bumps it in the same
 *   transaction; each statement reads it through its own transaction, so a
 *   concurrent or rolled-back DDL is never seen early);
 * - the session settings the binder reads: search_path (name resolution)
 *   and timezone / extra_float_digits (constant folding of casts to and
 *   from text). SqlSession keeps them as one string that changes whenever
 *   any of them does.
 *
 * An entry is immutable; a miss builds a new one. The cache holds one entry
 * per statement (the last plan): re-planning after DDL costs one bind,
 * as PostgreSQL's plan invalidation does.
 */

import type { BoundQuery } from './binder.ts';
import { PointLookup } from '../exec/point-lookup.ts';

export class CachedPlan {
  /** The compiled point lookup when the plan is one; else the executor runs `query.plan`. */
  readonly point: PointLookup | undefined;

  constructor(
    readonly catalogVersion: string,
    readonly settingsKey: string,
    readonly query: BoundQuery,
  ) {
    this.point = PointLookup.compile(query.plan);
  }

  /** True when this plan is still valid for the statement's catalog version and the session's binding settings. */
  matches(catalogVersion: string, settingsKey: string): boolean {
    return this.catalogVersion === catalogVersion && this.settingsKey === settingsKey;
  }
}

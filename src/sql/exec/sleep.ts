/**
 * pg_sleep and friends: wait on timers, never block the event loop, and
 * look at the session's interrupt state (CancelRequest, statement_timeout)
 * every few milliseconds so a sleep ends with 57014 as in PostgreSQL.
 */

import type { EvalContext } from './eval-context.ts';

/** How often a sleeping statement checks for cancel and timeout. */
const CHECK_EVERY_MS = 10;

/** Sleeps `ms` milliseconds (forever for Infinity, not at all for NaN or <= 0) unless interrupted; resolves to the void value. */
export async function interruptibleSleep(ms: number, ctx: EvalContext): Promise<string> {
  const end = performance.now() + (Number.isNaN(ms) ? 0 : ms);
  for (;;) {
    ctx.services.checkInterrupt();
    const left = end - performance.now();
    if (left <= 0) return '';
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(left, CHECK_EVERY_MS)));
  }
}

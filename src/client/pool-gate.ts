/**
 * PoolGate: the client's back-pressure point.
 *
 * At most `max` operations hold a slot at once; further callers wait in a
 * FIFO queue that is itself bounded (`maxWaiting`), and every wait is bounded
 * in time (`acquireTimeoutMs`). When either bound is hit the caller gets a
 * clear error at once instead of joining an ever-growing queue: an overloaded
 * application sees the overload where it can act on it.
 *
 * Invariants: active <= max; waiters.length <= maxWaiting; a waiter is either
 * granted a slot or rejected, exactly once.
 */

import { NextDbError } from '../util/errors.ts';

/** SQLSTATE PostgreSQL uses for "too many connections"; we use it for an exhausted pool. */
export const POOL_EXHAUSTED = '53300';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class PoolGate {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private closedError: Error | undefined;

  constructor(
    readonly max: number,
    readonly acquireTimeoutMs: number,
    readonly maxWaiting: number,
  ) {
    if (!(max >= 1)) throw new RangeError('pool.max must be at least 1');
  }

  get activeCount(): number {
    return this.active;
  }

  get waitingCount(): number {
    return this.waiters.length;
  }

  /** Resolves when a slot is held; the caller must call release() exactly once. */
  acquire(): Promise<void> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.maxWaiting) {
      return Promise.reject(
        new NextDbError(
          POOL_EXHAUSTED,
          `connection pool exhausted: ${this.max} in use and ${this.maxWaiting} already waiting`,
          {
            hint: 'Raise pool.max or pool.maxWaiting, or send fewer concurrent queries.',
          },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (Number.isFinite(this.acquireTimeoutMs)) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(
            new NextDbError(
              POOL_EXHAUSTED,
              `connection pool exhausted: waited ${this.acquireTimeoutMs} ms for one of ${this.max} connections`,
              { hint: 'Raise pool.max or pool.acquireTimeoutMs, or send fewer concurrent queries.' },
            ),
          );
        }, this.acquireTimeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) {
      // The slot passes straight to the next waiter: active stays the same.
      if (next.timer !== undefined) clearTimeout(next.timer);
      next.resolve();
      return;
    }
    if (this.active <= 0) throw new Error('PoolGate.release without acquire');
    this.active--;
  }

  /** Rejects all waiters and every later acquire with `err`. */
  close(err: Error): void {
    this.closedError = err;
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

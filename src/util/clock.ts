/**
 * Clock interface. Deterministic layers never read the wall clock directly;
 * they receive a Clock, which tests and simulations replace with ManualClock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  nowMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
};

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

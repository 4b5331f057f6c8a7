/**
 * Runs workloads: `clients` concurrent loops per workload for warm-up plus
 * duration, recording each operation's latency into an overall histogram
 * and one histogram per second of the measured window (the latency-over-
 * time chart). Operations during warm-up run but are not counted.
 *
 * An operation that fails with an error other than a retried conflict counts
 * as an error; the run goes on, and the first message is kept for the report.
 */

import { performance } from 'node:perf_hooks';
import { Prng } from '../../util/prng.ts';
import type { BenchDriver } from './driver.ts';
import { Histogram } from './histogram.ts';
import { makeKeyChooser, type Distribution } from './key-chooser.ts';
import type { OpContext, Workload } from './workloads.ts';

export interface RunSettings {
  readonly durationS: number;
  readonly warmupS: number;
  readonly clients: number;
  readonly rows: number;
  readonly distribution: Distribution;
  readonly seed: number;
}

export interface LatencySummary {
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface TimelinePoint {
  readonly second: number;
  readonly ops: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface WorkloadResult {
  readonly name: string;
  readonly description: string;
  readonly ops: number;
  readonly errors: number;
  readonly retries: number;
  readonly durationS: number;
  readonly opsPerSec: number;
  readonly latency: LatencySummary;
  readonly timeline: readonly TimelinePoint[];
  readonly firstError?: string;
}

export interface Progress {
  (workload: string, elapsedS: number, totalS: number, measuredOps: number, opsPerSec: number): void;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    meanMs: ms(h.meanUs()),
    p50Ms: ms(h.quantileUs(0.5)),
    p95Ms: ms(h.quantileUs(0.95)),
    p99Ms: ms(h.quantileUs(0.99)),
    p999Ms: ms(h.quantileUs(0.999)),
    maxMs: ms(h.maxUs),
  };
}

export async function runWorkload(
  driver: BenchDriver,
  workload: Workload,
  settings: RunSettings,
  progress: Progress,
): Promise<WorkloadResult> {
  const overall = new Histogram();
  const perSecond: Histogram[] = [];
  let errors = 0;
  let retries = 0;
  let firstError: string | undefined;
  const seedRng = new Prng(settings.seed);
  const nextInsertKey = { value: settings.rows + 1_000_000 + seedRng.int(1_000_000) * 1000 };
  const t0 = performance.now();
  const measureFrom = t0 + settings.warmupS * 1000;
  const end = measureFrom + settings.durationS * 1000;

  const client = async (i: number): Promise<void> => {
    const rng = new Prng(settings.seed * 1000 + i + 1);
    const ctx: OpContext = {
      driver,
      rng,
      keys: makeKeyChooser(settings.distribution, settings.rows, rng.fork()),
      rows: settings.rows,
      nextInsertKey,
    };
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      let failed = false;
      let r = 0;
      try {
        r = await workload.op(ctx);
      } catch (err) {
        failed = true;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      const done = performance.now();
      if (start < measureFrom || done > end) continue;
      if (failed) {
        errors++;
        continue;
      }
      retries += r;
      const us = (done - start) * 1000;
      overall.record(us);
      const sec = Math.floor((done - measureFrom) / 1000);
      (perSecond[sec] ??= new Histogram()).record(us);
    }
  };

  const timer = setInterval(() => {
    const now = performance.now();
    const measured = Math.max(0, (now - measureFrom) / 1000);
    progress(
      workload.name,
      (now - t0) / 1000,
      settings.warmupS + settings.durationS,
      overall.count,
      measured > 0 ? overall.count / measured : 0,
    );
  }, 250);
  try {
    await Promise.all(Array.from({ length: settings.clients }, (_, i) => client(i)));
  } finally {
    clearInterval(timer);
  }
  const timeline: TimelinePoint[] = [];
  for (let s = 0; s < Math.ceil(settings.durationS); s++) {
    const h = perSecond[s] ?? new Histogram();
    const sum = summarize(h);
    timeline.push({ second: s + 1, ops: h.count, p50Ms: sum.p50Ms, p99Ms: sum.p99Ms });
  }
  return {
    name: workload.name,
    description: workload.description,
    ops: overall.count,
    errors,
    retries,
    durationS: settings.durationS,
    opsPerSec: Math.round(overall.count / settings.durationS),
    latency: summarize(overall),
    timeline,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

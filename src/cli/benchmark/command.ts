/**
 * `nextdb benchmark`: the suite a user runs to see what NextDB does on their
 * machine. With no arguments it runs every workload against an embedded,
 * temporary database for about a minute; `--url` runs the same workloads
 * against any PostgreSQL-protocol server (NextDB or PostgreSQL).
 *
 * Steps: open the target → create and load the tables → per workload:
 * warm-up, measured window, summary → table (+ JSON/HTML files).
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { pino, type Logger } from 'pino';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { embeddedDriver, urlDriver, type BenchDriver } from './driver.ts';
import type { Distribution } from './key-chooser.ts';
import { formatTable, toHtml, toJson, type Report } from './report.ts';
import { runWorkload, type WorkloadResult } from './runner.ts';
import { loadData, WORKLOADS, type Workload } from './workloads.ts';

export interface BenchmarkOptions {
  readonly url?: string;
  /** Comma-separated workload names, or 'all'. */
  readonly workload?: string;
  readonly duration?: number;
  readonly warmup?: number;
  readonly clients?: number;
  readonly rows?: number;
  readonly distribution?: string;
  readonly seed?: number;
  readonly json?: string;
  readonly html?: string;
  /** Data directory for the embedded database (default: a temporary one, removed afterwards). */
  readonly data?: string;
  /** Write the table here instead of stdout (tests). */
  readonly out?: (text: string) => void;
  /** Force the progress bar off (tests). */
  readonly quiet?: boolean;
}

export function selectWorkloads(spec: string | undefined): Workload[] {
  if (spec === undefined || spec === 'all') return [...WORKLOADS];
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return names.map((n) => {
    const w = WORKLOADS.find((x) => x.name === n);
    if (w === undefined) {
      throw new NextDbError(SqlState.invalidParameterValue, `unknown workload "${n}"`, {
        hint: `Known: ${WORKLOADS.map((x) => x.name).join(', ')}`,
      });
    }
    return w;
  });
}

/** The log level asked for: NEXTDB_LOG, or RUST_LOG as documented from the start. */
function logLevel(): string | undefined {
  const v = process.env['NEXTDB_LOG'] || process.env['RUST_LOG']; // an empty NEXTDB_LOG defers to RUST_LOG
  if (v === undefined || v === '') return undefined;
  const level = v.toLowerCase().split(/[,=]/).pop() ?? v;
  return ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(level) ? level : 'info';
}

export async function runBenchmark(options: BenchmarkOptions): Promise<Report> {
  const workloads = selectWorkloads(options.workload);
  const distribution = (options.distribution ?? 'uniform') as Distribution;
  if (distribution !== 'uniform' && distribution !== 'zipfian') {
    throw new NextDbError(
      SqlState.invalidParameterValue,
      `unknown distribution "${String(options.distribution)}" (uniform or zipfian)`,
    );
  }
  const clients = options.clients ?? (options.url === undefined ? 4 : 8);
  const rows = options.rows ?? 10_000;
  const durationS = options.duration ?? 4;
  const warmupS = options.warmup ?? 1;
  const seed = options.seed ?? 1;
  if (!(clients >= 1 && rows >= 100 && durationS > 0 && warmupS >= 0)) {
    throw new NextDbError(
      SqlState.invalidParameterValue,
      'need --clients >= 1, --rows >= 100, --duration > 0, --warmup >= 0',
    );
  }
  const level = logLevel();
  const log: Logger | undefined =
    level === undefined ? undefined : pino({ level, name: 'nextdb-benchmark' }, pino.destination(2));
  const out = options.out ?? ((t: string) => process.stdout.write(t));
  const showBar = options.quiet !== true && process.stderr.isTTY === true && log === undefined;

  let tempDir: string | undefined;
  let driver: BenchDriver;
  if (options.url !== undefined) {
    driver = urlDriver(options.url, clients);
  } else {
    const dir = options.data ?? (tempDir = mkdtempSync(join(tmpdir(), 'nextdb-bench-')));
    driver = await embeddedDriver(dir);
  }
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: ' {workload} |{bar}| {percentage}% | {opsps} ops/s',
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  try {
    const loadStart = performance.now();
    const data = new Set(workloads.map((w) => w.data));
    log?.info({ rows, tables: [...data] }, 'loading data');
    bar?.start(rows * data.size, 0, { workload: 'load', opsps: '-' });
    let loadedBefore = 0;
    await loadData(driver, data, rows, (done) => {
      bar?.update(loadedBefore + done);
      if (done >= rows) loadedBefore += rows;
    });
    bar?.stop();
    const loadSeconds = (performance.now() - loadStart) / 1000;
    log?.info({ seconds: loadSeconds }, 'data loaded');

    const results: WorkloadResult[] = [];
    for (const w of workloads) {
      bar?.start(Math.round((warmupS + durationS) * 10), 0, { workload: w.name.padEnd(12), opsps: '0' });
      let lastLog = -Infinity; // the first tick logs at once, then once a second
      const result = await runWorkload(
        driver,
        w,
        { durationS, warmupS, clients, rows, distribution, seed },
        (name, elapsed, total, ops, rate) => {
          bar?.update(Math.min(Math.round(elapsed * 10), Math.round(total * 10)), {
            opsps: Math.round(rate).toLocaleString('en-US'),
          });
          if (log !== undefined && elapsed - lastLog >= 1) {
            lastLog = elapsed;
            log.info(
              { workload: name, elapsedS: Math.round(elapsed * 10) / 10, ops, opsPerSec: Math.round(rate) },
              'progress',
            );
          }
        },
      );
      bar?.stop();
      log?.info(
        { workload: w.name, opsPerSec: result.opsPerSec, p99Ms: result.latency.p99Ms, errors: result.errors },
        'workload done',
      );
      results.push(result);
    }
    const cpuList = cpus();
    const report: Report = {
      info: {
        startedAt: new Date().toISOString(),
        target: driver.target,
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
        node: process.versions.node,
        nextdbVersion: '0.1.0',
        clients,
        rows,
        durationS,
        warmupS,
        distribution,
        seed,
        loadSeconds,
      },
      workloads: results,
    };
    out(formatTable(report));
    if (options.json !== undefined) writeFileSync(options.json, toJson(report));
    if (options.html !== undefined) writeFileSync(options.html, toHtml(report));
    return report;
  } finally {
    bar?.stop();
    await driver.close();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }
}

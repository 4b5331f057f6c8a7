// Wire-protocol benchmark: pgbench against `nextdb server` and against a
// throw-away PostgreSQL 15 (test/support/pg-server.ts), same machine, same
// run. Workloads:
//   select1-c8              a one-line script `SELECT 1`, -M prepared, 8 clients:
//                           the protocol path alone, no table access
//   select-only-c8 / -c32   pgbench -S -M prepared with 8 / 32 clients
//   tpcb-c8                 the built-in TPC-B-like script, -M prepared, 8 clients, each
//                           server at its default isolation (NextDB SERIALIZABLE: most
//                           transactions fail with 40001 on the single branch row at scale 1
//                           and count as failed, not as tps; PostgreSQL READ COMMITTED)
//   tpcb-rc-c8              the same at READ COMMITTED on both (PGOPTIONS), like for like
// Each workload runs in two halves, NextDB, PostgreSQL, PostgreSQL, NextDB
// (the machine's load drifts; this gives both the same average moment).
// Prints per workload:
//   bench <workload> nextdb=<tps> postgres=<tps> ratio=<nextdb/postgres>
//   latency <workload> p50=<ms> p99=<ms> avg=<ms>    (NextDB, from pgbench's per-transaction log: see logLatencies)
//   latency <workload>-postgres p50=<ms> p99=<ms> avg=<ms>
//   note <workload>: failed transactions ...         (when pgbench counted any: 40001/40P01)
// Usage: npm run bench:wire -- [--quick] [--scale N] [--seconds S]
//   --quick: scale 1, 2 s per server and workload (20 pgbench runs of 1 s;
//            about 45 s in total on a loaded 2-core machine, servers included). A closing note line prints the
//            scale, seconds per run and the wall time of each phase.
// NextDB runs as the installed command does (plain node over compiled
// JavaScript, test/server/compiled-cli.ts), not through tsx. Before the
// select1 and the select-only workloads both servers get a 1 s unmeasured
// warm-up run of the same script (JIT, caches, connection set-up paths).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compileCli } from '../test/server/compiled-cli.ts';
import { startServerProcess } from '../test/server/server-process.ts';
import { findPostgres, startPostgres } from '../test/support/pg-server.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const scale = flag('--scale', quick ? 1 : 10);
const seconds = flag('--seconds', quick ? 2 : 20);

interface RunResult {
  readonly tps: number;
  /** Transactions pgbench counted as failed (serialization/deadlock errors, pgbench 15). */
  readonly failed: number;
  readonly processed: number;
  /** Per-transaction latencies (ms), sorted. */
  readonly latencies: readonly number[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function pgbench(
  port: number,
  extra: readonly string[],
  env: Readonly<Record<string, string>> = {},
  runSeconds = seconds,
): Promise<RunResult> {
  const logDir = mkdtempSync(join(tmpdir(), 'nextdb-wire-bench-'));
  try {
    const { stdout } = await run(
      'pgbench',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'postgres',
        '-n',
        '-T',
        String(runSeconds),
        '-l',
        '--log-prefix',
        join(logDir, 'tx'),
        ...extra,
        'postgres',
      ],
      { maxBuffer: 64 << 20, env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...env } },
    );
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN);
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const latencies: number[] = [];
    for (const f of readdirSync(logDir)) logLatencies(readFileSync(join(logDir, f), 'utf8'), latencies);
    latencies.sort((a, b) => a - b);
    return { tps, failed, processed, latencies };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

/**
 * Appends to `out` the per-transaction latencies (ms) of one pgbench log file (`client_id
 * transaction_no time script_no time_epoch time_us` per line). The logged
 * `time` is not used: pgbench 15 reads its clock lazily, so a transaction
 * whose reply it reads in the same pass of its event loop as it sent the
 * query is logged with the start time as its end, a latency of 0 (35% of
 * PostgreSQL's `SELECT 1` transactions in one run here; when it is half or
 * more, p50 prints as 0.00). Instead a transaction's latency is the time since its client's
 * previous logged transaction ended (pgbench starts the next one at once,
 * so that is one whole transaction); the first one of each client keeps
 * its logged time. Failed transactions (a word instead of a time) are not
 * counted, but the next one is measured from their end.
 */
function logLatencies(log: string, out: number[]): void {
  const lastEndUs = new Map<string, number>();
  for (const line of log.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 6) continue;
    const client = parts[0]!;
    const endUs = Number(parts[4]) * 1e6 + Number(parts[5]);
    const loggedUs = Number(parts[2]);
    const prev = lastEndUs.get(client);
    lastEndUs.set(client, endUs);
    if (!Number.isFinite(loggedUs)) continue;
    out.push((prev === undefined ? loggedUs : endUs - prev) / 1000);
  }
}

/**
 * pgbench -i with server-side generation and the primary keys created before
 * the data (`-I dtpG`), on both servers: it does not depend on COPY, and
 * indexing rows as they arrive is much faster on NextDB than building an
 * index over a full table afterwards.
 */
async function init(port: number): Promise<void> {
  await run(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-i', '-I', 'dtpG', '-s', String(scale), 'postgres'],
    { maxBuffer: 64 << 20 },
  );
}

const readCommitted = { PGOPTIONS: '-c default_transaction_isolation=read\\ committed' };

const workloads: readonly { name: string; args: readonly string[]; env?: Readonly<Record<string, string>> }[] = [
  { name: 'select-only-c8', args: ['-S', '-M', 'prepared', '-c', '8', '-j', '2'] },
  { name: 'select-only-c32', args: ['-S', '-M', 'prepared', '-c', '32', '-j', '2'] },
  { name: 'tpcb-c8', args: ['-M', 'prepared', '-c', '8', '-j', '2'] },
  { name: 'tpcb-rc-c8', args: ['-M', 'prepared', '-c', '8', '-j', '2'], env: readCommitted },
];

/** An unmeasured 1 s run of the same script on both servers, one after the other. */
async function warmUp(args: readonly string[], nextdbPort: number, postgresPort: number): Promise<void> {
  await pgbench(nextdbPort, args, {}, 1);
  await pgbench(postgresPort, args, {}, 1);
}

async function report(
  name: string,
  args: readonly string[],
  nextdbPort: number,
  postgresPort: number,
  env: Readonly<Record<string, string>> = {},
): Promise<void> {
  // Two halves in the order NextDB, PostgreSQL, PostgreSQL, NextDB: on a shared machine the load of other work
  // drifts during a run, and this order gives both servers the same average moment.
  const half = Math.max(1, Math.round(seconds / 2));
  const n1 = await pgbench(nextdbPort, args, env, half);
  const p1 = await pgbench(postgresPort, args, env, half);
  const p2 = await pgbench(postgresPort, args, env, half);
  const n2 = await pgbench(nextdbPort, args, env, half);
  const n = combine(n1, n2);
  const p = combine(p1, p2);
  console.log(`bench ${name} nextdb=${fmt(n.tps)} postgres=${fmt(p.tps)} ratio=${(n.tps / p.tps).toFixed(2)}`);
  console.log(latencyLine(name, n.latencies));
  console.log(latencyLine(`${name}-postgres`, p.latencies));
  if (n.failed > 0 || p.failed > 0) {
    console.log(
      `note ${name}: failed transactions (40001/40P01, not counted in tps) nextdb=${n.failed}/${n.processed + n.failed} postgres=${p.failed}/${p.processed + p.failed}`,
    );
  }
}

/** Two runs of one server as one: transactions over the summed run time (pgbench's tps excludes connecting). */
/** `latency <name> p50= p99= avg=` in ms over the sorted per-transaction latencies. */
function latencyLine(name: string, sorted: readonly number[]): string {
  let sum = 0;
  for (const x of sorted) sum += x;
  const avg = sorted.length === 0 ? NaN : sum / sorted.length;
  return `latency ${name} p50=${fmt(percentile(sorted, 50))} p99=${fmt(percentile(sorted, 99))} avg=${fmt(avg)}`;
}

function combine(a: RunResult, b: RunResult): RunResult {
  const processed = a.processed + b.processed;
  const tps = processed / (a.processed / a.tps + b.processed / b.tps);
  const latencies = [...a.latencies, ...b.latencies].sort((x, y) => x - y);
  return { tps, failed: a.failed + b.failed, processed, latencies };
}

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 2) : 'n/a');

async function main(): Promise<number> {
  if (findPostgres() === undefined) {
    console.error('bench wire: PostgreSQL 15 binaries not found (see test/support/pg-server.ts)');
    return 2;
  }
  const t0 = performance.now();
  const phases: string[] = [];
  const phase = (label: string, since: number): number => {
    const now = performance.now();
    phases.push(`${label} ${((now - since) / 1000).toFixed(1)} s`);
    return now;
  };
  const compiled = compileCli('nextdb-wire-bench-');
  const t = phase('compile', t0);
  try {
    return await runAll(compiled.entry, t0, t, phase, phases);
  } finally {
    rmSync(compiled.dir, { recursive: true, force: true });
  }
}

async function runAll(
  entry: string,
  t0: number,
  t: number,
  phase: (label: string, since: number) => number,
  phases: readonly string[],
): Promise<number> {
  // Both servers start at once: on a loaded machine each takes seconds.
  const [nextdbStart, postgresStart] = await Promise.allSettled([
    startServerProcess(['0', '--memory', '--max-connections', '200'], { entry }),
    freePort().then((port) => startPostgres(port)),
  ]);
  if (nextdbStart.status === 'rejected' || postgresStart.status === 'rejected') {
    // Stop whichever did start, then fail with the first error.
    if (nextdbStart.status === 'fulfilled') await nextdbStart.value.stop();
    if (postgresStart.status === 'fulfilled') await postgresStart.value.stop();
    throw nextdbStart.status === 'rejected' ? nextdbStart.reason : (postgresStart as PromiseRejectedResult).reason;
  }
  const nextdb = nextdbStart.value;
  const postgres = postgresStart.value;
  t = phase('start', t);
  try {
    const scriptDir = mkdtempSync(join(tmpdir(), 'nextdb-wire-bench-'));
    try {
      const script = join(scriptDir, 'select1.sql');
      writeFileSync(script, 'SELECT 1;\n');
      await warmUp(['-f', script, '-M', 'prepared', '-c', '8', '-j', '2'], nextdb.port, postgres.port);
      await report('select1-c8', ['-f', script, '-M', 'prepared', '-c', '8', '-j', '2'], nextdb.port, postgres.port);
    } finally {
      rmSync(scriptDir, { recursive: true, force: true });
    }
    t = phase('select1', t);
    // Both loads at once (not measured; each is mostly its server's CPU).
    const [nextdbInit, postgresInit] = await Promise.allSettled([init(nextdb.port), init(postgres.port)]);
    if (nextdbInit.status === 'rejected') {
      const err = nextdbInit.reason as { stderr?: string };
      console.error(
        `bench wire: pgbench -i against NextDB failed, so there is nothing to compare yet:\n${err.stderr ?? String(err)}`,
      );
      return 1;
    }
    if (postgresInit.status === 'rejected') throw postgresInit.reason;
    t = phase('init', t);
    await warmUp(['-S', '-M', 'prepared', '-c', '8', '-j', '2'], nextdb.port, postgres.port);
    t = phase('warm-up', t);
    for (const w of workloads) {
      await report(w.name, w.args, nextdb.port, postgres.port, w.env);
      t = phase(w.name, t);
    }
    return 0;
  } finally {
    await Promise.all([nextdb.stop(), postgres.stop()]);
    phase('stop', t);
    console.log(
      `note wire: scale ${scale}, ${seconds} s per server and workload, in two halves${quick ? ' (--quick)' : ''}; wall ${((performance.now() - t0) / 1000).toFixed(1)} s (${phases.join(', ')})`,
    );
  }
}

process.exit(await main());

// `nextdb benchmark`: the histogram's accuracy against exact percentiles,
// Zipfian skew, and a short run of every workload whose report must be
// well-formed and sane (ops > 0, percentiles ordered, per-second counts add
// up to the total, JSON and HTML written). Runs against PostgreSQL 15 over
// --url, and against the embedded engine where it exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Histogram } from '../../src/cli/benchmark/histogram.ts';
import { makeKeyChooser } from '../../src/cli/benchmark/key-chooser.ts';
import { runBenchmark } from '../../src/cli/benchmark/command.ts';
import { WORKLOADS } from '../../src/cli/benchmark/workloads.ts';
import type { Report } from '../../src/cli/benchmark/report.ts';
import { Prng } from '../../src/util/prng.ts';
import { spawnSync } from 'node:child_process';
import { findPostgres, startPostgres } from '../support/pg-server.ts';

test('histogram percentiles stay within 1% of the exact values', () => {
  const rng = new Prng(7);
  const h = new Histogram();
  const samples: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    // Log-uniform from 1 µs to 10 s, the range latencies span.
    const v = Math.exp(rng.next() * Math.log(10_000_000));
    samples.push(v);
    h.record(v);
  }
  samples.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = samples[Math.ceil(q * samples.length) - 1] as number;
    const got = h.quantileUs(q);
    assert.ok(Math.abs(got - exact) <= Math.max(1, exact * 0.01), `q=${q} exact=${exact} got=${got}`);
  }
  assert.equal(h.count, 50_000);
  assert.equal(h.quantileUs(1), samples[samples.length - 1]);
});

test('zipfian key choice is skewed, uniform is not', () => {
  const count = (dist: 'uniform' | 'zipfian'): number => {
    const c = makeKeyChooser(dist, 1000, new Prng(3));
    const hits = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const k = c.next();
      assert.ok(k >= 0 && k < 1000);
      hits.set(k, (hits.get(k) ?? 0) + 1);
    }
    return Math.max(...hits.values());
  };
  assert.ok(count('zipfian') > 1000, 'the hottest zipfian key gets >5% of draws');
  assert.ok(count('uniform') < 80, 'no uniform key is hot');
});

function checkReport(report: Report, names: readonly string[]): void {
  assert.deepEqual(
    report.workloads.map((w) => w.name),
    names,
  );
  assert.ok(report.info.cpus >= 1);
  for (const w of report.workloads) {
    assert.equal(w.errors, 0, `${w.name}: ${w.firstError ?? ''}`);
    assert.ok(w.ops > 0, `${w.name} ran`);
    assert.ok(w.opsPerSec > 0);
    const l = w.latency;
    assert.ok(
      0 < l.p50Ms && l.p50Ms <= l.p95Ms && l.p95Ms <= l.p99Ms && l.p99Ms <= l.p999Ms && l.p999Ms <= l.maxMs,
      `${w.name} percentiles ordered`,
    );
    assert.equal(
      w.timeline.reduce((s, t) => s + t.ops, 0),
      w.ops,
      `${w.name}: per-second counts add up`,
    );
  }
}

test(
  'every workload runs against PostgreSQL through --url',
  { skip: findPostgres() === undefined && 'PostgreSQL 15 not found' },
  async () => {
    const pg = await startPostgres(15805);
    const dir = mkdtempSync(join(tmpdir(), 'nextdb-benchtest-'));
    try {
      let table = '';
      const report = await runBenchmark({
        url: pg.url,
        duration: 0.5,
        warmup: 0.2,
        rows: 500,
        clients: 2,
        json: join(dir, 'r.json'),
        html: join(dir, 'r.html'),
        quiet: true,
        out: (t) => (table += t),
      });
      checkReport(
        report,
        WORKLOADS.map((w) => w.name),
      );
      assert.match(table, /point-read\s+\d+/);
      const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as Report;
      assert.equal(json.workloads.length, WORKLOADS.length);
      const html = readFileSync(join(dir, 'r.html'), 'utf8');
      assert.match(html, /<svg/);
      assert.doesNotMatch(html, /<script|https?:\/\//, 'self-contained: no scripts, no remote assets');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await pg.stop();
    }
  },
);

test('unknown workloads and distributions are refused clearly', async () => {
  await assert.rejects(
    runBenchmark({ url: 'postgres://127.0.0.1:1/x', workload: 'nope', quiet: true }),
    /unknown workload "nope"/,
  );
  await assert.rejects(
    runBenchmark({ url: 'postgres://127.0.0.1:1/x', distribution: 'gauss', quiet: true }),
    /unknown distribution/,
  );
});

test('every workload runs against the embedded engine (the default)', async () => {
  let table = '';
  const report = await runBenchmark({
    duration: 0.5,
    warmup: 0.2,
    rows: 300,
    clients: 2,
    quiet: true,
    out: (t) => (table += t),
  });
  assert.match(report.info.target, /^embedded/);
  checkReport(
    report,
    WORKLOADS.map((w) => w.name),
  );
  assert.match(table, /tpcb\s+\d+/);
});

test(
  'RUST_LOG=info (and NEXTDB_LOG=info) log progress as JSON lines on stderr',
  { skip: findPostgres() === undefined && 'PostgreSQL 15 not found' },
  async () => {
    const pg = await startPostgres(15807);
    try {
      for (const env of [{ RUST_LOG: 'info' }, { NEXTDB_LOG: 'info' }]) {
        const r = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            'test/server/run-cli.ts',
            'benchmark',
            '--url',
            pg.url,
            '--workload',
            'point-read',
            '--duration',
            '1.2',
            '--warmup',
            '0',
            '--rows',
            '200',
            '--clients',
            '1',
          ],
          {
            cwd: join(import.meta.dirname, '..', '..'),
            env: { ...process.env, NEXTDB_LOG: '', RUST_LOG: '', ...env },
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        assert.equal(r.status, 0, r.stderr);
        const logs = r.stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; workload?: string });
        assert.ok(
          logs.some((l) => l.msg === 'progress' && l.workload === 'point-read'),
          `${Object.keys(env)[0]}: progress logged`,
        );
        assert.ok(logs.some((l) => l.msg === 'workload done'));
        assert.match(r.stdout, /point-read\s+\d+/, 'the table still goes to stdout');
      }
    } finally {
      await pg.stop();
    }
  },
);

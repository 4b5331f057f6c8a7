// ServerMetrics' statement figures: nextdb_queries_total{kind} and the
// nextdb_query_duration_seconds{kind} histogram are kept in plain numbers and
// exported at scrape time; the exposition must be what a prom-client
// Histogram would print (cumulative buckets, +Inf, _sum, _count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { ServerMetrics } from '../../src/server/server-metrics.ts';

const sample = (text: string, line: string): number => {
  const at = text.split('\n').find((l) => l.startsWith(line + ' '));
  assert.ok(at !== undefined, `missing ${line}`);
  return Number(at.slice(line.length + 1));
};

test('statement counts and latency histogram by kind, as prom-client would expose them', async () => {
  const m = new ServerMetrics(
    () => 0,
    () => ({}),
  );
  const observed: [string, number][] = [
    ['select', 0.00005],
    ['select', 0.0001], // on a bound: counts in le="0.0001"
    ['select', 0.0003],
    ['select', 0.02],
    ['insert', 0.004],
    ['error', 30], // beyond the last bound: only +Inf
  ];
  // The reference: a real prom-client Histogram with the same buckets, fed the same values.
  const ref = new Registry();
  const h = new Histogram({
    name: 'nextdb_query_duration_seconds',
    help: 'Statement latency (simple query message or extended Execute), by kind',
    labelNames: ['kind'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [ref],
  });
  for (const [kind, s] of observed) {
    m.observeQuery(kind, s);
    h.observe({ kind }, s);
  }
  const ours = await m.registry.getSingleMetricAsString('nextdb_query_duration_seconds');
  const theirs = await ref.getSingleMetricAsString('nextdb_query_duration_seconds');
  assert.deepEqual(ours.split('\n').sort(), theirs.split('\n').sort());
  assert.equal(sample(ours, 'nextdb_query_duration_seconds_bucket{le="0.0001",kind="select"}'), 2);
  assert.equal(sample(ours, 'nextdb_query_duration_seconds_bucket{le="+Inf",kind="error"}'), 1);
  assert.equal(sample(ours, 'nextdb_query_duration_seconds_count{kind="select"}'), 4);

  let text = await m.registry.metrics();
  assert.equal(sample(text, 'nextdb_queries_total{kind="select"}'), 4);
  assert.equal(sample(text, 'nextdb_queries_total{kind="insert"}'), 1);
  // Counts keep adding up across scrapes, and a scrape without new statements changes nothing.
  m.observeQuery('select', 0.001);
  text = await m.registry.metrics();
  assert.equal(sample(text, 'nextdb_queries_total{kind="select"}'), 5);
  text = await m.registry.metrics();
  assert.equal(sample(text, 'nextdb_queries_total{kind="select"}'), 5);
  assert.equal(sample(text, 'nextdb_query_duration_seconds_count{kind="select"}'), 5);
  const json = await m.registry.getMetricsAsJSON();
  assert.ok(json.some((x) => x.name === 'nextdb_query_duration_seconds' && x.values.length === 3 * 19));
});

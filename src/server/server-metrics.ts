/**
 * ServerMetrics: the Prometheus figures of one server, in its own prom-client
 * Registry (not the global one, so several servers can live in one process,
 * as they do in tests).
 *
 *   nextdb_connections                   gauge    PostgreSQL connections now
 *   nextdb_connections_total             counter  accepted since start
 *   nextdb_queries_total{kind}           counter  statements by kind (select,
 *                                                 insert, ..., ddl, error)
 *   nextdb_query_duration_seconds{kind}  histogram
 *   nextdb_auth_failures_total           counter  failed password logins
 *   nextdb_protocol_errors_total         counter  connections closed for protocol violations
 *   nextdb_http_requests_total{path}     counter
 *   nextdb_engine_stat{name}             gauge    every figure of engine.stats()
 *                                                 (storage, cache), read at scrape
 *   nextdb_txn_conflicts_total{kind}     counter  transactions failed by a conflict:
 *                                                 40001 write_too_old (REPEATABLE READ
 *                                                 first updater wins), write_refresh_failed,
 *                                                 commit_refresh_failed; 40P01 deadlock
 *   nextdb_txn_write_refreshes_total     counter  SERIALIZABLE writes that moved the
 *                                                 snapshot instead of failing (statement rerun)
 *   nextdb_txn_lock_waits_total          counter  waits for another transaction
 *   nextdb_txn_lock_wait_seconds_total   counter  time spent in them
 *                                                 (the txn figures are process-wide: src/txn/txn-metrics.ts)
 * plus prom-client's default process metrics (memory, event loop lag, GC).
 */

import {
  Counter,
  Gauge,
  Registry,
  collectDefaultMetrics,
  type Metric,
  type MetricType,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';
import type { EngineStats } from '../storage/engine.ts';
import { txnCounters } from '../txn/txn-metrics.ts';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly connectionsTotal: Counter<never>;
  readonly queries: Counter<'kind'>;
  readonly httpRequests: Counter<'path'>;
  readonly authFailures: Counter<never>;
  readonly protocolErrors: Counter<never>;

  constructor(connectionCount: () => number, engineStats: () => EngineStats) {
    const registers = [this.registry];
    new Gauge({
      name: 'nextdb_connections',
      help: 'PostgreSQL protocol connections currently open',
      registers,
      collect() {
        this.set(connectionCount());
      },
    });
    this.connectionsTotal = new Counter({
      name: 'nextdb_connections_total',
      help: 'PostgreSQL protocol connections accepted',
      registers,
    });
    const byKind = this.byKind;
    this.queries = new Counter({
      name: 'nextdb_queries_total',
      help: 'Statements executed, by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, k] of byKind) {
          if (k.count > k.reported) this.inc({ kind }, k.count - k.reported);
          k.reported = k.count;
        }
      },
    });
    this.registry.registerMetric(queryLatencyMetric(this.byKind));
    this.authFailures = new Counter({
      name: 'nextdb_auth_failures_total',
      help: 'Failed password authentications',
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'nextdb_protocol_errors_total',
      help: 'Connections closed for a protocol violation',
      registers,
    });
    this.httpRequests = new Counter({
      name: 'nextdb_http_requests_total',
      help: 'HTTP requests served, by path',
      labelNames: ['path'],
      registers,
    });
    new Gauge({
      name: 'nextdb_engine_stat',
      help: 'Storage engine figures from engine.stats() (unit is the last word of the name)',
      labelNames: ['name'],
      registers,
      collect() {
        this.reset();
        let stats: EngineStats;
        try {
          stats = engineStats();
        } catch {
          return; // engine closed during shutdown: report nothing rather than fail the scrape
        }
        for (const [name, value] of Object.entries(stats)) if (Number.isFinite(value)) this.set({ name }, value);
      },
    });
    registerTxnCounters(registers);
    collectDefaultMetrics({ register: this.registry, prefix: 'nextdb_' });
  }

  /**
   * Statement counts and latencies by kind, in plain numbers: prom-client's
   * observe()/inc() build and hash a label object on every call (about 3% of
   * the server's time on a pgbench point SELECT). The queries counter takes
   * the new counts when scraped (its collect hook); the latency histogram is
   * exported from here directly (queryLatencyMetric).
   */
  private readonly byKind = new Map<string, KindStats>();

  observeQuery(kind: string, seconds: number): void {
    let k = this.byKind.get(kind);
    if (k === undefined) {
      k = { count: 0, reported: 0, sum: 0, buckets: new Float64Array(latencyBuckets.length + 1) };
      this.byKind.set(kind, k);
    }
    k.count++;
    k.sum += seconds;
    let i = 0;
    while (i < latencyBuckets.length && seconds > latencyBuckets[i]!) i++;
    k.buckets[i]!++;
  }
}

/** The transaction layer's conflict and lock-wait counters, read at scrape (each counter grows by what changed since). */
function registerTxnCounters(registers: Registry[]): void {
  const conflictKinds = [
    ['write_too_old', 'writeTooOld'],
    ['write_refresh_failed', 'writeRefreshFailed'],
    ['commit_refresh_failed', 'commitRefreshFailed'],
    ['deadlock', 'deadlocks'],
  ] as const;
  const seen = { ...txnCounters };
  new Counter({
    name: 'nextdb_txn_conflicts_total',
    help: 'Transactions failed by a conflict, by kind (40001: write_too_old, write_refresh_failed, commit_refresh_failed; 40P01: deadlock)',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, field] of conflictKinds) {
        this.inc({ kind }, txnCounters[field] - seen[field]);
        seen[field] = txnCounters[field];
      }
    },
  });
  const simple = (
    name: string,
    help: string,
    field: 'writeRefreshes' | 'lockWaits' | 'lockWaitMs',
    scale = 1,
  ): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.inc((txnCounters[field] - seen[field]) * scale);
        seen[field] = txnCounters[field];
      },
    });
  };
  simple(
    'nextdb_txn_write_refreshes_total',
    'SERIALIZABLE writes that moved their snapshot past a newer commit instead of failing (the statement ran again)',
    'writeRefreshes',
  );
  simple('nextdb_txn_lock_waits_total', 'Waits for another transaction (a lock, or a commit in flight)', 'lockWaits');
  simple('nextdb_txn_lock_wait_seconds_total', 'Time spent waiting for other transactions', 'lockWaitMs', 1 / 1000);
}

/** Upper bounds of the latency histogram (seconds); a last bucket is +Inf. */
const latencyBuckets = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

interface KindStats {
  count: number;
  /** count as of the last scrape (the counter is increased by the difference). */
  reported: number;
  sum: number;
  /** Observations per bucket (not cumulative), one more than latencyBuckets for +Inf. */
  readonly buckets: Float64Array;
}

/**
 * nextdb_query_duration_seconds{kind} as a prom-client metric object: the
 * same exposition a prom-client Histogram gives (cumulative _bucket{le}, _sum,
 * _count), read from ServerMetrics' plain counters at scrape time.
 */
/** prom-client declares MetricType as a const enum it does not export at run time. */
const histogramType = 'histogram' as unknown as MetricType;

function queryLatencyMetric(byKind: Map<string, KindStats>): Metric<'kind'> {
  const name = 'nextdb_query_duration_seconds';
  const help = 'Statement latency (simple query message or extended Execute), by kind';
  const get = (): Omit<MetricObjectWithValues<MetricValueWithName<string>>, 'collect'> => {
    const values: MetricValueWithName<string>[] = [];
    for (const [kind, k] of byKind) {
      let cumulative = 0;
      for (let i = 0; i <= latencyBuckets.length; i++) {
        cumulative += k.buckets[i]!;
        const le = i < latencyBuckets.length ? latencyBuckets[i]! : '+Inf';
        values.push({ metricName: `${name}_bucket`, labels: { le, kind }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels: { kind }, value: k.sum });
      values.push({ metricName: `${name}_count`, labels: { kind }, value: k.count });
    }
    return { name, help, type: histogramType, aggregator: 'sum', values };
  };
  // A structural stand-in for prom-client's Histogram: the Registry calls get() (and reset()) and reads name/help/type.
  return {
    name,
    help,
    type: histogramType,
    aggregator: 'sum',
    get: () => Promise.resolve(get()),
    reset: () => byKind.clear(),
  } as unknown as Metric<'kind'>;
}

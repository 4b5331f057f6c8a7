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
 * plus prom-client's default process metrics (memory, event loop lag, GC).
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from '../storage/engine.ts';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly connectionsTotal: Counter<never>;
  readonly queries: Counter<'kind'>;
  readonly latency: Histogram<'kind'>;
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
    this.queries = new Counter({
      name: 'nextdb_queries_total',
      help: 'Statements executed, by kind',
      labelNames: ['kind'],
      registers,
    });
    this.latency = new Histogram({
      name: 'nextdb_query_duration_seconds',
      help: 'Statement latency (simple query message or extended Execute), by kind',
      labelNames: ['kind'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
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
    collectDefaultMetrics({ register: this.registry, prefix: 'nextdb_' });
  }

  /** Label children by kind, resolved once: prom-client hashes a label object on every call otherwise. */
  private readonly byKind = new Map<
    string,
    { readonly count: { inc(): void }; readonly latency: { observe(v: number): void } }
  >();

  observeQuery(kind: string, seconds: number): void {
    let m = this.byKind.get(kind);
    if (m === undefined) {
      m = { count: this.queries.labels(kind), latency: this.latency.labels(kind) };
      this.byKind.set(kind, m);
    }
    m.count.inc();
    m.latency.observe(seconds);
  }
}

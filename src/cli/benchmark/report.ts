/**
 * The benchmark report: an aligned text table for the terminal, raw JSON for
 * scripts, and a self-contained HTML page (inline SVG, no CDN) with a
 * latency-over-time chart and a percentile chart per workload.
 */

import type { WorkloadResult } from './runner.ts';

export interface RunInfo {
  readonly startedAt: string;
  readonly target: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly nextdbVersion: string;
  readonly clients: number;
  readonly rows: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly distribution: string;
  readonly seed: number;
  readonly loadSeconds: number;
}

export interface Report {
  readonly info: RunInfo;
  readonly workloads: readonly WorkloadResult[];
}

export function formatTable(report: Report): string {
  const i = report.info;
  const head = [
    `NextDB benchmark — ${i.target}`,
    `${i.cpus} CPUs (${i.cpuModel}), Node ${i.node}; ${i.clients} clients, ${i.rows} rows, ${i.distribution} keys, seed ${i.seed}`,
    `${i.warmupS}s warm-up (excluded) + ${i.durationS}s measured per workload; data loaded in ${i.loadSeconds.toFixed(1)}s`,
    '',
  ];
  const cols = ['workload', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'ops', 'errors', 'retries'];
  const rows = report.workloads.map((w) => [
    w.name,
    String(w.opsPerSec),
    fmt(w.latency.p50Ms),
    fmt(w.latency.p95Ms),
    fmt(w.latency.p99Ms),
    fmt(w.latency.p999Ms),
    fmt(w.latency.maxMs),
    String(w.ops),
    String(w.errors),
    String(w.retries),
  ]);
  const widths = cols.map((c, k) => Math.max(c.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, k) => (k === 0 ? c.padEnd(widths[k] ?? 0) : c.padStart(widths[k] ?? 0))).join('  ');
  const out = [...head, line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const w of report.workloads) if (w.firstError !== undefined) out.push(`${w.name}: first error: ${w.firstError}`);
  return out.join('\n') + '\n';
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export function toJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function lineChart(
  points: readonly { x: number; ys: readonly number[] }[],
  labels: readonly string[],
  yUnit: string,
): string {
  const W = 560;
  const H = 200;
  const P = 40;
  const maxX = Math.max(1, ...points.map((p) => p.x));
  const maxY = Math.max(0.001, ...points.flatMap((p) => p.ys));
  const colors = ['#2563eb', '#dc2626', '#16a34a'];
  const sx = (x: number): number => P + ((W - 2 * P) * x) / maxX;
  const sy = (y: number): number => H - P + (-(H - 2 * P) * y) / maxY;
  const series = labels.map((label, k) => {
    const d = points
      .map((p, n) => `${n === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.ys[k] ?? 0).toFixed(1)}`)
      .join(' ');
    return `<path d="${d}" fill="none" stroke="${colors[k % colors.length]}" stroke-width="2"/><text x="${W - P + 4}" y="${P + 14 * k}" font-size="11" fill="${colors[k % colors.length]}">${esc(label)}</text>`;
  });
  return `<svg viewBox="0 0 ${W + 60} ${H}" width="${W + 60}" height="${H}" role="img">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#999"/>
<text x="${P}" y="${P - 8}" font-size="11">${maxY.toFixed(2)} ${esc(yUnit)}</text><text x="${W - P}" y="${H - P + 16}" font-size="11" text-anchor="end">${maxX} s</text>
${series.join('\n')}</svg>`;
}

function barChart(bars: readonly { label: string; value: number }[], unit: string): string {
  const W = 560;
  const H = 180;
  const P = 30;
  const maxV = Math.max(0.001, ...bars.map((b) => b.value));
  const bw = (W - 2 * P) / Math.max(1, bars.length);
  const rects = bars.map((b, i) => {
    const h = ((H - 2 * P) * b.value) / maxV;
    const x = P + i * bw + 4;
    return `<rect x="${x}" y="${H - P - h}" width="${bw - 8}" height="${h}" fill="#2563eb"/><text x="${x + (bw - 8) / 2}" y="${H - P + 14}" font-size="11" text-anchor="middle">${esc(b.label)}</text><text x="${x + (bw - 8) / 2}" y="${H - P - h - 4}" font-size="10" text-anchor="middle">${b.value} ${esc(unit)}</text>`;
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${rects.join('')}</svg>`;
}

export function toHtml(report: Report): string {
  const i = report.info;
  const sections = report.workloads.map((w) => {
    const timeline = lineChart(
      w.timeline.map((t) => ({ x: t.second, ys: [t.p50Ms, t.p99Ms] })),
      ['p50', 'p99'],
      'ms',
    );
    const throughput = lineChart(
      w.timeline.map((t) => ({ x: t.second, ys: [t.ops] })),
      ['ops/s'],
      'ops/s',
    );
    const pct = barChart(
      [
        { label: 'p50', value: w.latency.p50Ms },
        { label: 'p95', value: w.latency.p95Ms },
        { label: 'p99', value: w.latency.p99Ms },
        { label: 'p99.9', value: w.latency.p999Ms },
        { label: 'max', value: w.latency.maxMs },
      ],
      'ms',
    );
    return `<section><h2>${esc(w.name)} — ${w.opsPerSec.toLocaleString('en-US')} ops/s</h2><p>${esc(w.description)}. ${w.ops} ops, ${w.errors} errors, ${w.retries} retries.</p>
<h3>Latency over time</h3>${timeline}<h3>Throughput over time</h3>${throughput}<h3>Percentiles</h3>${pct}</section>`;
  });
  const rows = report.workloads
    .map(
      (w) =>
        `<tr><td>${esc(w.name)}</td><td>${w.opsPerSec}</td><td>${w.latency.p50Ms}</td><td>${w.latency.p95Ms}</td><td>${w.latency.p99Ms}</td><td>${w.latency.p999Ms}</td><td>${w.latency.maxMs}</td><td>${w.errors}</td><td>${w.retries}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>NextDB benchmark</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}section{margin-top:2em}</style></head>
<body><h1>NextDB benchmark</h1>
<p>${esc(i.target)} · ${i.cpus} CPUs (${esc(i.cpuModel)}) · Node ${esc(i.node)} · ${i.clients} clients · ${i.rows} rows · ${esc(i.distribution)} keys · seed ${i.seed} · ${i.warmupS}s warm-up + ${i.durationS}s per workload · started ${esc(i.startedAt)}</p>
<table><tr><th>workload</th><th>ops/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>errors</th><th>retries</th></tr>
${rows}</table>
${sections.join('\n')}
</body></html>
`;
}

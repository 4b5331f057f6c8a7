/**
 * The admin page served at `/`: one self-contained HTML document (inline
 * CSS, no scripts, no external resources) rendered from a status snapshot.
 * Every value from the database is HTML-escaped: table names and query text
 * are user data.
 */

import type { ClusterView } from './server-types.ts';

export interface AdminStatus {
  readonly version: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly listen: string;
  readonly engine: string;
  readonly rssBytes: number;
  readonly engineStats: Readonly<Record<string, number>>;
  readonly databases: readonly string[] | string;
  readonly tables: readonly { readonly schema: string; readonly name: string }[] | string;
  readonly sessions: readonly {
    readonly pid: number;
    readonly user: string;
    readonly database: string;
    readonly application: string;
    readonly client: string;
    readonly state: string;
    readonly query: string;
    readonly runningMs: number | undefined;
  }[];
  /** Present on cluster nodes: GET /api/cluster's answer. */
  readonly cluster?: ClusterView;
}

function clusterSection(c: ClusterView | undefined): string {
  if (c === undefined) return '';
  const rows = c.members.map((m) => [
    String(m.id) + (m.id === c.nodeId ? ' (this node)' : ''),
    m.address ?? '',
    m.role,
    m.voter ? 'yes' : 'no',
    m.applied === null ? '?' : String(m.applied),
    m.healthy === null ? '?' : m.healthy ? 'yes' : 'no',
  ]);
  return `<h2>Cluster (term ${c.term}, leader ${c.leaderId === null ? 'none' : String(c.leaderId)})</h2>
${table(['node', 'address', 'role', 'voter', 'applied', 'healthy'], rows)}
`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function listOrError<T>(v: readonly T[] | string, render: (items: readonly T[]) => string): string {
  return typeof v === 'string' ? `<p class="error">unavailable: ${escapeHtml(v)}</p>` : render(v);
}

export function renderAdminPage(s: AdminStatus): string {
  const running = s.sessions.filter((x) => x.state === 'active');
  const stats = Object.entries(s.engineStats).map(([k, v]) => [k, String(v)]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NextDB ${escapeHtml(s.version)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-family:ui-monospace,monospace;font-size:13px}
th{background:#f3f3f3}.none{color:#888}.error{color:#a00}
</style></head><body>
<h1>NextDB ${escapeHtml(s.version)}</h1>
<h2>Node</h2>
${table(['status', 'pid', 'listening on', 'uptime (s)', 'engine', 'rss (MB)'], [['ok', String(s.pid), s.listen, s.uptimeSeconds.toFixed(0), s.engine, (s.rssBytes / 1048576).toFixed(1)]])}
${clusterSection(s.cluster)}<h2>Storage</h2>
${table(['figure', 'value'], stats)}
<h2>Databases</h2>
${listOrError(s.databases, (d) =>
  table(
    ['name'],
    d.map((x) => [x]),
  ),
)}
<h2>Tables</h2>
${listOrError(s.tables, (t) =>
  table(
    ['schema', 'table'],
    t.map((x) => [x.schema, x.name]),
  ),
)}
<h2>Sessions (${s.sessions.length})</h2>
${table(
  ['pid', 'user', 'database', 'application', 'client', 'state', 'last query'],
  s.sessions.map((x) => [String(x.pid), x.user, x.database, x.application, x.client, x.state, x.query]),
)}
<h2>Running queries (${running.length})</h2>
${table(
  ['pid', 'running (ms)', 'query'],
  running.map((x) => [String(x.pid), x.runningMs === undefined ? '' : x.runningMs.toFixed(0), x.query]),
)}
<p class="none">Metrics: <a href="/metrics">/metrics</a> · health: <a href="/health">/health</a>${s.cluster === undefined ? '' : ' · cluster: <a href="/api/cluster">/api/cluster</a>'}</p>
</body></html>
`;
}

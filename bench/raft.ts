// Raft benchmark: committed puts per second and commit latency for a 3-node
// group on loopback with fsync on, NextDB (src/server/raft-kv-node.ts, three
// processes, ports B+1..B+23) side by side with etcd 3.4 (three members,
// ports B+51..B+63, started and removed by this script; B = --port-base,
// default 19050) — the same number of puts of the same size, from the same
// closed-loop client with the same concurrency, sent to the leader: NextDB
// through its HTTP put API (over HTTP/2 by default), etcd through its native
// gRPC API (default) or its HTTP/JSON gateway.
//
// Both clusters run for the whole benchmark and the puts go in `--rounds`
// alternating rounds (A B B A A B ...), so that a change in the load of a
// shared machine hits both systems alike; each system's figure is its total
// puts over its total time in its rounds. The per-round ratios are printed
// too, as a measure of the noise. Before the rounds each system serves
// `--warmup` unmeasured puts (other keys), so V8 has compiled NextDB's hot
// paths — the same count for etcd.
//
//   npm run bench:raft [-- --quick] [--puts N] [--rounds R] [--warmup W] [--concurrency C] [--value-bytes B] [--skip-etcd] [--etcd-api grpc|http] [--nextdb-api h2|http] [--cpu-prof DIR] [--port-base B]
//
// Prints `bench raft-put nextdb=<ops/s> etcd=<ops/s> ratio=<x>`,
// `latency raft-put-<system> p50=<ms> p99=<ms>` and `cpu ...` lines. If the
// etcd binary is missing (apt-get install etcd-server), etcd is reported as n/a.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const num = (name: string, d: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const PUTS = num('puts', quick ? 3000 : 20000);
const CONCURRENCY = num('concurrency', 32);
const ROUNDS = Math.max(1, num('rounds', quick ? 4 : 6));
/**
 * `--etcd-api grpc` (the default): put to etcd through its native gRPC API
 * (one HTTP/2 connection, CONCURRENCY streams) — what etcd's own benchmark
 * tool uses, so the fair peer and the headline ratio. `--etcd-api http` goes
 * through etcd's HTTP/JSON gateway instead, which decodes JSON and calls the
 * gRPC server over loopback itself (etcd then spends about twice the CPU per
 * put).
 */
const ETCD_API = args.includes('--etcd-api') ? args[args.indexOf('--etcd-api') + 1] : 'grpc';
if (ETCD_API !== 'http' && ETCD_API !== 'grpc') throw new Error(`--etcd-api must be http or grpc, not ${ETCD_API}`);
/**
 * `--nextdb-api h2` (the default): put to NextDB over cleartext HTTP/2 (one
 * connection, CONCURRENCY streams, the node's `--h2-port`) — the same
 * transport shape as etcd's gRPC. `--nextdb-api http` uses HTTP/1.1
 * (CONCURRENCY keep-alive connections) instead. Measured side by side (two
 * NextDB clusters in one run, alternating rounds, load average 15 on two
 * cores): HTTP/2 used 173-178 us of server CPU per put against 196-218 over
 * HTTP/1.1, and put 1.07-1.41x as many per second; the client also spends
 * less per put (92-93 us against 97-114).
 */
const NEXTDB_API = args.includes('--nextdb-api') ? args[args.indexOf('--nextdb-api') + 1] : 'h2';
if (NEXTDB_API !== 'http' && NEXTDB_API !== 'h2') throw new Error(`--nextdb-api must be http or h2, not ${NEXTDB_API}`);
/** Unmeasured puts each system serves first (JIT warm-up of the NextDB nodes; the same count for etcd). */
const WARMUP = num('warmup', quick ? 500 : 2000);
const VALUE_BYTES = num('value-bytes', 100);
/** `--cpu-prof DIR`: each NextDB node writes a V8 CPU profile into DIR when it stops. */
const cpuProfDir = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : undefined;
/** `--port-base B`: the ports used are B+1 .. B+63 (several benches can then run on one machine). */
const PORT_BASE = num('port-base', 19050);
const root = join(import.meta.dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('socket', (sock) => sock.setNoDelay(true));
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

interface LoadResult {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time (user + system) the system's three server processes spent during the load, or undefined off Linux. */
  readonly cpuMs?: number;
}

/** CPU time (user + system, ms) of the given processes so far, from /proc (Linux); undefined elsewhere. */
function cpuMsOf(procs: readonly ChildProcess[]): number | undefined {
  let ticks = 0;
  for (const p of procs) {
    const path = `/proc/${p.pid}/stat`;
    if (p.pid === undefined || !existsSync(path)) return undefined;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

interface Round {
  readonly latencies: number[];
  readonly secs: number;
  readonly cpuMs: number | undefined;
  /** The bench client's own event-loop delay (ms) and CPU (ms) during the round: a stalled client would show up as server tail latency. */
  readonly clientLoopP99Ms: number;
  readonly clientLoopMaxMs: number;
  readonly clientCpuMs: number;
}

/** Closed loop: CONCURRENCY clients issue puts `from` .. `from + count - 1`; every put must succeed. */
async function load(
  procs: readonly ChildProcess[],
  from: number,
  count: number,
  put: (i: number) => Promise<boolean>,
): Promise<Round> {
  const latencies: number[] = [];
  let next = from;
  const end = from + count;
  let failures = 0;
  const cpuBefore = cpuMsOf(procs);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const clientCpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < end) {
        const i = next++;
        const t = performance.now();
        if (await put(i)) latencies.push(performance.now() - t);
        else if (++failures > 1000) throw new Error('too many failed puts');
        else next--; // retry this slot
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  const cpuAfter = cpuMsOf(procs);
  loopDelay.disable();
  const used = process.cpuUsage(clientCpu);
  return {
    latencies,
    secs,
    cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    clientLoopP99Ms: loopDelay.percentile(99) / 1e6,
    clientLoopMaxMs: loopDelay.max / 1e6,
    clientCpuMs: (used.user + used.system) / 1000,
  };
}

function summarize(rounds: readonly Round[]): LoadResult {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const secs = rounds.reduce((a, r) => a + r.secs, 0);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  const cpu = rounds.every((r) => r.cpuMs !== undefined) ? rounds.reduce((a, r) => a + r.cpuMs!, 0) : undefined;
  return {
    opsPerSec: latencies.length / secs,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    ...(cpu === undefined ? {} : { cpuMs: cpu }),
  };
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

const value = 'x'.repeat(VALUE_BYTES);

/** One etcdserverpb.KV/Put call: a PutRequest {1: key, 2: value} in gRPC's length-prefixed framing; true on grpc-status 0. */
function grpcPut(session: http2.ClientHttp2Session, key: Buffer, val: Buffer): Promise<boolean> {
  const field = (tag: number, b: Buffer): Buffer[] => {
    const len: number[] = [];
    for (let n = b.length; ; n >>>= 7) {
      if (n < 0x80) {
        len.push(n);
        break;
      }
      len.push((n & 0x7f) | 0x80);
    }
    return [Buffer.from([tag, ...len]), b];
  };
  const msg = Buffer.concat([...field(0x0a, key), ...field(0x12, val)]);
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  return new Promise((resolve) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/Put',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: string | undefined;
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); // trailers-only answer
    });
    req.on('trailers', (h) => {
      status = String(h['grpc-status']);
    });
    req.on('data', () => {});
    req.on('end', () => resolve(status === '0'));
    req.on('error', () => resolve(false));
    req.setTimeout(10_000, () => req.close());
    req.end(frame);
  });
}

/** One NextDB put over HTTP/2; the status and body of the answer (status 0 on a stream error). */
function h2Put(
  session: http2.ClientHttp2Session,
  path: string,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(10_000, () => req.close());
    req.end(body);
  });
}

/** A running three-node cluster: where to send puts, and how to stop it. */
interface Cluster {
  readonly procs: ChildProcess[];
  readonly put: (i: number) => Promise<boolean>;
  stop(): Promise<void>;
}

async function startNextDb(): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-bench-raft-'));
  const ids = [1, 2, 3];
  const peers = ids.map((id) => `${id}=127.0.0.1:${PORT_BASE + id}`).join(',');
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const id of ids) {
      const p = spawn(
        process.execPath,
        [
          ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]),
          '--import',
          'tsx',
          join(root, 'src/server/raft-kv-node.ts'),
          '--id',
          String(id),
          '--dir',
          join(dir, `n${id}`),
          '--raft-port',
          String(PORT_BASE + id),
          '--http-port',
          String(PORT_BASE + 10 + id),
          '--h2-port',
          String(PORT_BASE + 20 + id),
          '--peers',
          peers,
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      procs.push(p);
    }
    let leaderPort = await waitFor(
      'a nextdb leader',
      async () => {
        for (const id of ids) {
          const r = await request(PORT_BASE + 10 + id, 'GET', '/status');
          if ((JSON.parse(r.body) as { role: string }).role === 'leader') return PORT_BASE + 10 + id;
        }
        return undefined;
      },
      20_000,
    );
    let session: http2.ClientHttp2Session | undefined;
    let sessionPort = 0;
    const send = (path: string): Promise<{ status: number; body: string }> => {
      if (NEXTDB_API === 'http') return request(leaderPort, 'POST', path, value);
      if (session === undefined || sessionPort !== leaderPort || session.destroyed) {
        session?.close();
        session = http2.connect(`http://127.0.0.1:${leaderPort + 10}`);
        session.on('error', () => {});
        sessionPort = leaderPort;
      }
      return h2Put(session, path, value);
    };
    const put = async (i: number): Promise<boolean> => {
      const r = await send(`/put?key=key${i}`);
      // A leader change under load (elections on a starved machine): follow the 421 answer, retry the put.
      if (r.status === 421) {
        const leader = (JSON.parse(r.body) as { leader?: number }).leader;
        if (leader !== undefined && ids.includes(leader)) leaderPort = PORT_BASE + 10 + leader;
      }
      return r.status === 200;
    };
    return {
      procs,
      stop: async () => {
        session?.close();
        await stop();
      },
      put,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function startEtcd(): Promise<Cluster | undefined> {
  if (!existsSync('/usr/bin/etcd')) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-bench-etcd-'));
  const ids = [1, 2, 3];
  const cluster = ids.map((id) => `e${id}=http://127.0.0.1:${PORT_BASE + 60 + id}`).join(',');
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const id of ids) {
      const p = spawn(
        '/usr/bin/etcd',
        [
          '--name',
          `e${id}`,
          '--data-dir',
          join(dir, `e${id}`),
          '--listen-client-urls',
          `http://127.0.0.1:${PORT_BASE + 50 + id}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${PORT_BASE + 50 + id}`,
          '--listen-peer-urls',
          `http://127.0.0.1:${PORT_BASE + 60 + id}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${PORT_BASE + 60 + id}`,
          '--initial-cluster',
          cluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          'nextdb-bench',
          '--log-level',
          'error',
        ],
        { stdio: ['ignore', 'ignore', 'ignore'] },
      );
      procs.push(p);
    }
    const leaderPort = await waitFor(
      'an etcd leader',
      async () => {
        for (const id of ids) {
          const r = await request(PORT_BASE + 50 + id, 'POST', '/v3/maintenance/status', '{}');
          const s = JSON.parse(r.body) as { leader?: string; header?: { member_id?: string } };
          if (s.leader !== undefined && s.leader === s.header?.member_id) return PORT_BASE + 50 + id;
        }
        return undefined;
      },
      20_000,
    );
    if (ETCD_API === 'grpc') {
      const session = http2.connect(`http://127.0.0.1:${leaderPort}`);
      session.on('error', () => {});
      return {
        procs,
        stop: async () => {
          session.close();
          await stop();
        },
        put: (i) => grpcPut(session, Buffer.from(`key${i}`), Buffer.from(value)),
      };
    }
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const v = b64(value);
    return {
      procs,
      stop,
      put: async (i) =>
        (await request(leaderPort, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(`key${i}`), value: v }))).status ===
        200,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

const clusters: { name: 'nextdb' | 'etcd'; cluster: Cluster; rounds: Round[] }[] = [];
try {
  clusters.push({ name: 'nextdb', cluster: await startNextDb(), rounds: [] });
  const etcdCluster = args.includes('--skip-etcd') ? undefined : await startEtcd();
  if (etcdCluster !== undefined) clusters.push({ name: 'etcd', cluster: etcdCluster, rounds: [] });
  for (const c of clusters) await load(c.cluster.procs, PUTS, WARMUP, c.cluster.put);
  // A B B A A B ...: each system goes first in half of the rounds.
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? clusters : [...clusters].reverse();
    const from = Math.floor((r * PUTS) / ROUNDS);
    const count = Math.floor(((r + 1) * PUTS) / ROUNDS) - from;
    for (const c of order) c.rounds.push(await load(c.cluster.procs, from, count, c.cluster.put));
  }
} finally {
  for (const c of clusters) await c.cluster.stop();
  agent.destroy();
}
const nextdb = summarize(clusters[0]!.rounds);
const etcdRuns = clusters[1];
const etcd = etcdRuns === undefined ? undefined : summarize(etcdRuns.rounds);
const f = (x: number): string => x.toFixed(0);
const ms = (x: number): string => x.toFixed(2);
console.log(
  `# ${PUTS} puts of ${VALUE_BYTES}-byte values per system in ${ROUNDS} alternating rounds after ${WARMUP} unmeasured, ${CONCURRENCY} concurrent clients (NextDB over ${NEXTDB_API === 'h2' ? 'HTTP/2' : 'HTTP/1.1'}, etcd through its ${ETCD_API === 'grpc' ? 'gRPC API' : 'HTTP/JSON gateway'}), 3 nodes on loopback, fsync on`,
);
console.log(
  `bench raft-put nextdb=${f(nextdb.opsPerSec)} etcd=${etcd === undefined ? 'n/a' : f(etcd.opsPerSec)} ratio=${etcd === undefined ? 'n/a' : (nextdb.opsPerSec / etcd.opsPerSec).toFixed(2)}`,
);
if (etcdRuns !== undefined) {
  const perRound = clusters[0]!.rounds.map((r, i) => {
    const e = etcdRuns.rounds[i]!;
    return (r.latencies.length / r.secs / (e.latencies.length / e.secs)).toFixed(2);
  });
  console.log(`rounds raft-put ratio per round: ${perRound.join(' ')}`);
}
console.log(`latency raft-put-nextdb p50=${ms(nextdb.p50Ms)} p99=${ms(nextdb.p99Ms)}`);
if (etcd !== undefined) console.log(`latency raft-put-etcd p50=${ms(etcd.p50Ms)} p99=${ms(etcd.p99Ms)}`);
const cpu = (r: LoadResult): string =>
  r.cpuMs === undefined ? 'n/a' : `${r.cpuMs.toFixed(0)}ms per-put=${((r.cpuMs * 1000) / PUTS).toFixed(0)}us`;
console.log(
  `cpu raft-put nextdb ${cpu(nextdb)}${etcd === undefined ? '' : ` etcd ${cpu(etcd)}`} (its three server processes, during its rounds)`,
);
const client = (rounds: readonly Round[]): string =>
  `loop-delay p99=${ms(Math.max(...rounds.map((r) => r.clientLoopP99Ms)))} max=${ms(Math.max(...rounds.map((r) => r.clientLoopMaxMs)))} cpu-per-put=${((rounds.reduce((a, r) => a + r.clientCpuMs, 0) * 1000) / PUTS).toFixed(0)}us`;
console.log(
  `client raft-put nextdb ${client(clusters[0]!.rounds)}${etcdRuns === undefined ? '' : ` etcd ${client(etcdRuns.rounds)}`} (the bench process, worst round)`,
);

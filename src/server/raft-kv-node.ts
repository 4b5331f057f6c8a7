/**
 * A tiny replicated key-value node: one Raft group (group 1) over the TCP
 * transport, the segmented log store on the real file system, and an HTTP
 * API. It exists to exercise the Raft stack end to end — the 3-process
 * kill -9 test and the Raft benchmark run it as separate processes — and is
 * not NextDB's data path (ranges and MVCC come later).
 *
 *   POST /put?key=K     body = value   200 after commit+apply;
 *                                      421 {"leader":N} on a follower
 *   GET  /get?key=K     linearizable read (ReadIndex): 200 value | 404
 *   GET  /status        {"id","role","term","leader","commit","applied","lastIndex"}
 *   GET  /kv            the whole map as JSON
 *
 * Run as a process: node --import tsx src/server/raft-kv-node.ts --id 1
 *   --dir D --raft-port P --http-port H [--h2-port H2] --peers 1=127.0.0.1:P1,2=...
 * (all peers, self included; voters are the peer ids). Prints
 * "ready <id>" on stdout once listening.
 */

import http from 'node:http';
import http2 from 'node:http2';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { NotLeaderError, RaftBusyError } from '../raft/errors.ts';
import { RaftLogStore } from '../raft/log-store.ts';
import { RaftNode, bootstrapState } from '../raft/raft-node.ts';
import { EntryType } from '../raft/types.ts';
import type { NodeId } from '../raft/types.ts';
import { NodeVfs } from '../storage/node-vfs.ts';
import { Prng } from '../util/prng.ts';
import { RaftDriver } from './raft-driver.ts';
import { RaftTransport } from './raft-transport.ts';
import type { PeerAddress } from './raft-transport.ts';

export interface RaftKvNodeOptions {
  readonly id: NodeId;
  readonly dir: string;
  readonly host: string;
  readonly raftPort: number;
  readonly httpPort: number;
  /** Also serve the same API over cleartext HTTP/2 (h2c) on this port: many requests share one connection. */
  readonly h2Port?: number;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  /** Snapshot and compact the log after this many applied entries. */
  readonly snapshotEntries?: number;
}

export interface RaftKvNode {
  readonly driver: RaftDriver;
  readonly transport: RaftTransport;
  readonly kv: Map<string, string>;
  close(): Promise<void>;
}

const GROUP = 1;

export async function startRaftKvNode(o: RaftKvNodeOptions): Promise<RaftKvNode> {
  const store = await RaftLogStore.open(new NodeVfs(), o.dir);
  const voters = [...o.peers.keys()].sort((a, b) => a - b);
  let init = store.initialState(GROUP);
  if (init === undefined) {
    // First start: the bootstrap state must be durable before the node acts on it.
    init = bootstrapState(voters);
    store.save(GROUP, { hardState: init.hardState, entries: init.entries, snapshot: undefined });
    await store.sync();
  }
  const raft = new RaftNode(
    {
      id: o.id,
      group: GROUP,
      prng: new Prng(o.id * 7919 + Date.now()),
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: 2,
      maxInflight: 64,
    },
    init,
  );
  const kv = new Map<string, string>();
  decodeSnapshot(init.snapshot.data, kv);
  // The transport is created first (it must be listening before peers dial), the driver after it.
  const ref: { driver?: RaftDriver } = {};
  const peers = new Map([...o.peers].filter(([id]) => id !== o.id));
  const transport = await RaftTransport.listen({
    nodeId: o.id,
    host: o.host,
    port: o.raftPort,
    peers,
    onMessage: (m) => ref.driver?.step(m),
  });
  const snapshotEntries = o.snapshotEntries ?? 20000;
  // A snapshot is taken from a copy of the map at the applied index and encoded a slice per
  // event-loop turn, so building it never stalls the node (the whole map at once took 15-115 ms).
  let snapshotting = false;
  let restores = 0;
  let closed = false;
  const takeSnapshot = (index: number): void => {
    snapshotting = true;
    const pairs = [...kv];
    const restoresAtStart = restores;
    const parts: Buffer[] = [];
    let at = 0;
    const slice = (): void => {
      if (closed) return;
      if (restores !== restoresAtStart) {
        snapshotting = false; // a leader's snapshot replaced the state meanwhile: this one is stale
        return;
      }
      parts.push(encodePairs(pairs, at, Math.min(pairs.length, at + SNAPSHOT_SLICE)));
      at += SNAPSHOT_SLICE;
      if (at < pairs.length) {
        setImmediate(slice);
        return;
      }
      snapshotting = false;
      // Compact only forward: a leader's snapshot may have moved the log past `index` already.
      if (index > raft.latestSnapshot().meta.index) store.compact(GROUP, raft.compact(index, Buffer.concat(parts)));
    };
    setImmediate(slice);
  };
  const d = new RaftDriver({
    raft,
    store,
    send: (m) => transport.send(m),
    tickMs: o.tickMs ?? 20,
    apply: (e) => {
      if (e.type !== EntryType.normal || e.data.length === 0) return;
      // Entry data is a Buffer already (decoded from a socket chunk, or made by encodePut): no view per apply.
      const b = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      const kl = b.readUInt32LE(0);
      kv.set(b.toString('utf8', 4, 4 + kl), b.toString('utf8', 4 + kl));
    },
    restore: (s) => {
      restores++;
      kv.clear();
      decodeSnapshot(s.data, kv);
    },
    onAdvance: () => {
      if (snapshotting) return;
      const st = raft.status();
      if (st.applied - st.firstIndex < snapshotEntries) return;
      takeSnapshot(st.applied);
    },
  });
  ref.driver = d;
  d.start();

  /**
   * One request, whatever the HTTP version: `body` is the request stream
   * (read only by a put), `send` writes the whole answer.
   */
  const serve = (method: string, target: string, body: Readable, send: Send): void => {
    const q = target.indexOf('?');
    const pathname = q < 0 ? target : target.slice(0, q);
    if (method === 'POST' && pathname === '/put') {
      const key = keyParam(target, q);
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      body.on('end', () => {
        try {
          d.propose(encodePut(key, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))).then(
            () => send(200, 'ok'),
            (e: unknown) => fail(send, e),
          );
        } catch (e) {
          fail(send, e);
        }
      });
      return;
    }
    body.resume(); // other requests carry no body worth reading
    if (pathname === '/get') {
      const key = keyParam(target, q);
      try {
        d.read().then(
          () => {
            const v = kv.get(key);
            if (v === undefined) send(404, '');
            else send(200, v);
          },
          (e: unknown) => fail(send, e),
        );
      } catch (e) {
        fail(send, e);
      }
      return;
    }
    if (pathname === '/status') {
      const st = raft.status();
      send(
        200,
        JSON.stringify({
          id: st.id,
          role: st.role,
          term: st.term,
          leader: st.leader,
          commit: st.commit,
          applied: st.applied,
          lastIndex: st.lastIndex,
        }),
      );
      return;
    }
    if (pathname === '/kv') {
      send(200, JSON.stringify(Object.fromEntries(kv)));
      return;
    }
    send(404, 'not found');
  };
  const server = http.createServer((req, res) =>
    serve(req.method ?? 'GET', req.url ?? '/', req, (code, text) => {
      res.writeHead(code, TEXT_PLAIN);
      res.end(text);
    }),
  );
  server.keepAliveTimeout = 60_000;
  // Small request/response pairs: no Nagle delay on either side.
  server.on('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve) => server.listen(o.httpPort, o.host, resolve));
  // HTTP/2 through the core stream API: no compatibility request/response objects per request.
  const h2 = o.h2Port === undefined ? undefined : http2.createServer();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  if (h2 !== undefined) {
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      stream.on('error', () => {}); // a client gone mid-request: nothing to answer
      serve(headers[':method'] ?? 'GET', headers[':path'] ?? '/', stream, (code, text) => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': code, 'content-type': 'text/plain' });
        stream.end(text);
      });
    });
    h2.on('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
    h2.on('session', (session: http2.ServerHttp2Session) => {
      h2Sessions.add(session);
      session.on('close', () => h2Sessions.delete(session));
    });
    await new Promise<void>((resolve) => h2.listen(o.h2Port, o.host, resolve));
  }
  return {
    driver: d,
    transport,
    kv,
    async close() {
      closed = true;
      await d.stop();
      await transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      if (h2 !== undefined) {
        const closing = new Promise<void>((resolve) => h2.close(() => resolve()));
        for (const session of h2Sessions) session.destroy();
        await closing;
      }
      await store.close();
    },
  };
}

/** Writes a whole answer: status code and text body. */
type Send = (code: number, text: string) => void;

const TEXT_PLAIN = { 'content-type': 'text/plain' } as const;

/** A failed put or get: 421 {"leader":N} on a follower, 503 while busy (leadership transfer), else 500. */
function fail(send: Send, e: unknown): void {
  if (e instanceof NotLeaderError) send(421, JSON.stringify({ leader: e.leader }));
  else if (e instanceof RaftBusyError) send(503, (e as Error).message);
  else send(500, (e as Error).message);
}

/** The `key` query parameter of a request target whose query starts after index `q` (-1: none). */
function keyParam(target: string, q: number): string {
  return q < 0 ? '' : (new URLSearchParams(target.slice(q + 1)).get('key') ?? '');
}

/** A put's log entry: [u32 LE key bytes][key][value] (UTF-8 key; the value's bytes as sent). */
export function encodePut(key: string, value: Buffer): Buffer {
  const kl = Buffer.byteLength(key);
  const out = Buffer.allocUnsafe(4 + kl + value.length);
  out.writeUInt32LE(kl, 0);
  out.write(key, 4);
  value.copy(out, 4 + kl);
  return out;
}

/** Pairs encoded per event-loop turn when building a snapshot. */
const SNAPSHOT_SLICE = 2048;

/** Snapshot format: repeated [u32 key bytes][u32 value bytes][key][value] (UTF-8, little-endian lengths). */
function encodePairs(pairs: readonly (readonly [string, string])[], from: number, to: number): Buffer {
  let size = 0;
  for (let i = from; i < to; i++) size += 8 + Buffer.byteLength(pairs[i]![0]) + Buffer.byteLength(pairs[i]![1]);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = from; i < to; i++) {
    const [k, v] = pairs[i]!;
    const kl = out.write(k, at + 8);
    const vl = out.write(v, at + 8 + kl);
    out.writeUInt32LE(kl, at);
    out.writeUInt32LE(vl, at + 4);
    at += 8 + kl + vl;
  }
  return out;
}

function decodeSnapshot(data: Uint8Array, kv: Map<string, string>): void {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < b.length) {
    const kl = b.readUInt32LE(at);
    const vl = b.readUInt32LE(at + 4);
    const k = b.toString('utf8', at + 8, at + 8 + kl);
    kv.set(k, b.toString('utf8', at + 8 + kl, at + 8 + kl + vl));
    at += 8 + kl + vl;
  }
}

function parseArgs(argv: readonly string[]): RaftKvNodeOptions {
  const get = (name: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : undefined;
    if (v === undefined) throw new Error(`missing --${name}`);
    return v;
  };
  const peers = new Map<NodeId, PeerAddress>();
  for (const spec of get('peers').split(',')) {
    const [id, addr] = spec.split('=');
    const [host, port] = (addr ?? '').split(':');
    peers.set(Number(id), { host: host ?? '127.0.0.1', port: Number(port) });
  }
  const opt = (name: string): number | undefined => (argv.includes(`--${name}`) ? Number(get(name)) : undefined);
  const tickMs = opt('tick-ms');
  const electionTicks = opt('election-ticks');
  const h2Port = opt('h2-port');
  return {
    id: Number(get('id')),
    dir: get('dir'),
    host: '127.0.0.1',
    raftPort: Number(get('raft-port')),
    httpPort: Number(get('http-port')),
    peers,
    ...(tickMs === undefined ? {} : { tickMs }),
    ...(electionTicks === undefined ? {} : { electionTicks }),
    ...(h2Port === undefined ? {} : { h2Port }),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseArgs(process.argv.slice(2));
  // The event-loop delay monitor (a 5 ms timer) runs only when its figures will be printed.
  const stats = process.env.NEXTDB_RAFT_STATS === '1';
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  if (stats) loopDelay.enable();
  // GC pauses (all kinds): count, total, over 5 ms, max — to tell collector pauses from descheduling.
  const gc = { pauses: 0, totalMs: 0, over5ms: 0, maxMs: 0, majorMs: 0, minorMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.pauses++;
      gc.totalMs += e.duration;
      if (e.duration > 5) gc.over5ms++;
      if (e.duration > gc.maxMs) gc.maxMs = e.duration;
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.majorMs += e.duration;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gc.minorMs += e.duration;
    }
  });
  if (stats) gcObserver.observe({ entryTypes: ['gc'] });
  const node = await startRaftKvNode(options);
  process.stdout.write(`ready ${options.id}\n`);
  const shutdown = (): void => {
    if (stats)
      process.stderr.write(
        `raft-kv-node ${options.id} ${node.driver.node.status().role} cpuMs=${((process.cpuUsage().user + process.cpuUsage().system) / 1000).toFixed(0)} (user ${(process.cpuUsage().user / 1000).toFixed(0)}) loopDelayMs p50=${(loopDelay.percentile(50) / 1e6).toFixed(1)} p99=${(loopDelay.percentile(99) / 1e6).toFixed(1)} max=${(loopDelay.max / 1e6).toFixed(1)} gc=${JSON.stringify(gc, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))} ${JSON.stringify(node.driver.stats)} ${JSON.stringify(node.transport.stats)}\n`,
      );
    void node.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

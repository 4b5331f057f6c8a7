/**
 * NextDbServer: one TCP port serving both the PostgreSQL protocol and HTTP.
 *
 *   accept ─► first bytes ─┬─ 0x00 (int32 length of a startup packet) ─► PgConnection
 *                          ├─ "GET " / "HEAD " / "POST " … ─► node:http (health, metrics, admin)
 *                          └─ anything else ─► closed
 *
 * A PostgreSQL startup packet begins with its length, which is below 10,000,
 * so its first byte is always 0; an HTTP request begins with an ASCII method
 * name. The first chunk is pushed back onto the socket (`unshift`) before
 * the socket is handed to node:http.
 *
 * Sockets: TCP_NODELAY on every connection (replies are already batched, so
 * Nagle only adds latency). A connection's reply batch (one per round trip)
 * is written at the end of the event loop's I/O phase (setImmediate), after
 * every connection that had input in that turn has been served, not in the
 * middle of it: on loopback, each write wakes the client, which then
 * preempts this single thread mid-turn. Deferring cut the server's CPU per
 * pgbench -S transaction by about 5-8% and its involuntary context switches
 * per transaction (same-run A/B, 11 rounds: lower CPU/tx in 9). Batches of
 * 16 KB or more (large results) and anything before close or a TLS upgrade
 * are written at once; order per connection is kept. For plaintext
 * connections "written" means handed to the reply writer thread
 * (socket-writer.ts), which makes the write system calls, so the client a
 * write wakes preempts that thread rather than this one; except in a turn
 * with at most two batches (this thread keeps up with its clients), which
 * writes them itself and spares the writer's wake-up and thread hop. An 'error' listener on
 * every socket, so a reset peer never becomes an uncaught exception. TLS: SSLRequest answered 'S' and
 * the socket wrapped in a server TLSSocket when a certificate is configured.
 *
 * stop(): stops accepting, ends every session with FATAL 57P01, closes HTTP
 * sockets, and resolves once all sockets are gone (destroying stragglers
 * after a grace period). The engine is the caller's to close.
 */

import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { Engine } from '../storage/engine.ts';
import { defaultMaxMessageBytes } from '../wire/frontend-parser.ts';
import { ConnectionRegistry } from './connection-registry.ts';
import { PgConnection, type ConnectionContext } from './pg-connection.ts';
import { ServerMetrics } from './server-metrics.ts';
import { SocketWriter, backlogHighWaterBytes } from './socket-writer.ts';
import { renderAdminPage, type AdminStatus } from './admin-page.ts';
import type { AuthConfig, ClusterView, Logger, ServerLimits, SessionProvider, Transport } from './server-types.ts';

export const serverVersion = '0.1.0';

/** An HTTP request as an extra route sees it: POST bodies are parsed JSON (at most 64 KiB). */
export interface HttpRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/** A route's answer, sent as JSON. */
export interface HttpReply {
  readonly status: number;
  readonly body: unknown;
}

export type HttpRoute = (req: HttpRequestInfo) => Promise<HttpReply>;

/** Largest JSON body an extra route accepts. */
const routeBodyBytesMax = 64 << 10;

export interface TlsConfig {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface ServerOptions {
  readonly provider: SessionProvider;
  readonly engine: Engine;
  readonly logger: Logger;
  readonly host?: string;
  /** 0 picks a free port (see `port` after start). */
  readonly port?: number;
  readonly tls?: TlsConfig | undefined;
  readonly limits?: Partial<ServerLimits>;
  readonly auth?: Partial<AuthConfig>;
  /** Shown on the admin page, e.g. 'memory' or the data directory. */
  readonly engineDescription?: string;
  /**
   * Also listen on the Unix-domain socket DIR/.s.PGSQL.<port>, where libpq
   * looks when no host is given (`psql -p 8080`). Connections there count as
   * local (auth.local). A stale socket file left by a dead server is replaced;
   * one a live server answers on is an error.
   */
  readonly unixSocketDir?: string | undefined;
  /**
   * Addresses whose connections authenticate like local ones (auth.local):
   * a cluster node trusts its fellow members, which forward sessions.
   */
  readonly trustedAddress?: (address: string) => boolean;
  /** Cluster nodes: the membership view shown on the admin page and in /api/status. */
  readonly clusterStatus?: () => Promise<ClusterView>;
  /** Extra HTTP routes by exact path (e.g. the cluster's /api/cluster), answered with JSON. */
  readonly routes?: ReadonlyMap<string, HttpRoute>;
  /**
   * Write replies to plaintext PostgreSQL connections from a worker thread
   * (SocketWriter). Default: on, unless the environment variable
   * NEXTDB_WRITER_THREAD is `off`.
   */
  readonly writerThread?: boolean;
}

export const defaultLimits: ServerLimits = {
  maxConnections: 100,
  maxMessageBytes: defaultMaxMessageBytes,
  idleInTransactionTimeoutMs: 0,
  authenticationTimeoutMs: 60_000,
  slowQueryMs: 0,
};

/**
 * A turn that ends with at most this many connections' reply batches writes them on the event loop
 * (SocketWriter.write) instead of waking the writer thread; see the comment on servePg's writeViaWriter.
 */
const directWriteMaxBatches = 2;

/** Reply batches at least this large are written at once instead of at the end of the I/O phase. */
const deferWriteMaxBytes = 16 * 1024;

/** How long stop() waits for clients to go before destroying their sockets. */
const shutdownGraceMs = 2000;

export class NextDbServer {
  readonly registry = new ConnectionRegistry();
  readonly metrics: ServerMetrics;
  private readonly net: net.Server;
  private readonly http: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly httpSockets = new Set<net.Socket>();
  private readonly connections = new Set<PgConnection>();
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly ctx: ConnectionContext;
  private readonly startedAtMs = Date.now();
  private boundPort = 0;
  private unixPath: string | undefined;
  private unix: net.Server | undefined;
  private stopping: Promise<void> | undefined;
  /** Connections holding a reply batch until the end of this event-loop turn's I/O phase (see servePg). */
  private readonly deferred: (() => void)[] = [];
  private readonly writeDeferred = (): void => {
    const d = this.deferred;
    this.directWrites = d.length <= directWriteMaxBatches;
    for (let i = 0; i < d.length; i++) d[i]!();
    this.directWrites = false;
    d.length = 0;
    this.writer?.notify();
  };
  /** True while writeDeferred flushes a turn with few batches: they are written on the event loop. */
  private directWrites = false;
  /** The reply writer thread, started with the first PostgreSQL connection (see socket-writer.ts). */
  private writer: SocketWriter | undefined;
  private useWriter: boolean;

  constructor(private readonly options: ServerOptions) {
    this.useWriter = options.writerThread ?? process.env.NEXTDB_WRITER_THREAD !== 'off';
    this.secureContext =
      options.tls === undefined ? undefined : tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
    this.metrics = new ServerMetrics(
      () => this.registry.size,
      () => options.engine.stats(),
    );
    const limits: ServerLimits = { ...defaultLimits, ...options.limits };
    const auth: AuthConfig = { local: 'trust', remote: 'scram-sha-256', ...options.auth };
    this.ctx = {
      provider: options.provider,
      registry: this.registry,
      limits,
      auth,
      logger: options.logger,
      observeQuery: (kind, seconds) => this.metrics.observeQuery(kind, seconds),
      onAuthFailure: () => this.metrics.authFailures.inc(),
      onProtocolError: () => this.metrics.protocolErrors.inc(),
      onClosed: (c) => this.connections.delete(c),
    };
    this.http = http.createServer((req, res) => {
      this.serveHttp(req, res).catch((err: unknown) => {
        options.logger.error({ err: String(err) }, 'HTTP handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.http.keepAliveTimeout = 5000;
    this.net = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  get port(): number {
    return this.boundPort;
  }

  /** Path of the Unix-domain socket, once listening on one. */
  get unixSocketPath(): string | undefined {
    return this.unixPath;
  }

  /** Starts listening; rejects with a NextDbError naming the address when the port is taken. */
  start(): Promise<number> {
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 8080;
    return new Promise<number>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const what =
          err.code === 'EADDRINUSE'
            ? 'is already in use'
            : err.code === 'EACCES'
              ? 'needs more privileges'
              : `failed (${err.message})`;
        reject(new NextDbError(SqlState.ioError, `cannot listen on ${host}:${port}: the port ${what}`, { cause: err }));
      };
      this.net.once('error', onError);
      this.net.listen({ host, port }, () => {
        this.net.removeListener('error', onError);
        this.net.on('error', (err) => this.options.logger.error({ err: err.message }, 'listener error'));
        const addr = this.net.address();
        this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
        resolve(this.boundPort);
      });
    }).then(async (bound) => {
      if (this.options.unixSocketDir !== undefined)
        await this.listenUnix(join(this.options.unixSocketDir, `.s.PGSQL.${bound}`));
      return bound;
    });
  }

  private async listenUnix(path: string): Promise<void> {
    if (existsSync(path)) {
      const alive = await new Promise<boolean>((resolve) => {
        const probe = net.connect({ path }, () => {
          probe.destroy();
          resolve(true);
        });
        probe.once('error', () => resolve(false));
      });
      if (alive) {
        await new Promise<void>((r) => this.net.close(() => r()));
        throw new NextDbError(SqlState.ioError, `cannot listen on ${path}: another server is listening there`);
      }
      unlinkSync(path); // left behind by a server that died
    }
    const unix = net.createServer((socket) => this.accept(socket, true));
    await new Promise<void>((resolve, reject) => {
      unix.once('error', (err) => {
        this.net.close();
        reject(new NextDbError(SqlState.ioError, `cannot listen on ${path}: ${err.message}`, { cause: err }));
      });
      unix.listen({ path }, () => resolve());
    });
    unix.on('error', (err) => this.options.logger.error({ err: err.message }, 'unix socket listener error'));
    this.unix = unix;
    this.unixPath = path;
  }

  private accept(socket: net.Socket, local = false): void {
    this.sockets.add(socket);
    if (!local) socket.setNoDelay(true);
    socket.on('error', (err) => this.options.logger.debug({ err: err.message }, 'socket error'));
    socket.once('close', () => this.sockets.delete(socket));
    // Sockets that have not authenticated yet do not count against maxConnections; cap them too, so a
    // flood of idle connections cannot exhaust memory (the authentication timeout reaps the rest).
    if (this.stopping !== undefined || this.sockets.size > this.ctx.limits.maxConnections * 2 + 16) {
      socket.destroy();
      return;
    }
    // A connection that never says anything is closed after the authentication timeout.
    socket.setTimeout(this.ctx.limits.authenticationTimeoutMs, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      if (first[0] === 0) {
        this.servePg(socket, first, local);
      } else if (
        /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) /.test(first.toString('latin1', 0, 8)) ||
        /^[A-Z]{1,7}$/.test(first.toString('latin1'))
      ) {
        this.httpSockets.add(socket);
        socket.once('close', () => this.httpSockets.delete(socket));
        socket.pause();
        socket.unshift(first);
        this.http.emit('connection', socket);
        socket.resume();
      } else {
        socket.destroy();
      }
    });
  }

  private servePg(socket: net.Socket, first: Buffer, local: boolean): void {
    this.metrics.connectionsTotal.inc();
    let current: net.Socket | tls.TLSSocket = socket;
    let encrypted = false;
    let writeBlocked = false;
    let inputPaused = false;
    const remote = local ? 'unix socket' : (socket.remoteAddress ?? '');
    const onData = (chunk: Buffer): void => conn.onData(chunk);
    const onEnd = (): void => conn.onEnd();
    let pending: Buffer | undefined;
    // Plaintext replies go through the writer thread when it has a slot for this connection (socket-writer.ts).
    const writer = this.replyWriter();
    const fd = socketFd(socket);
    let slot = writer !== undefined && fd !== undefined ? writer.acquire() : undefined;
    /** Runs `then` once the writer has finished every batch of this connection (at once without a slot). */
    const whenWritten = (then: () => void): void => {
      const s = slot;
      if (s === undefined || writer === undefined || writer.idle(s)) return then();
      const poll = (): void => {
        if (writer.idle(s)) then();
        else setTimeout(poll, 1);
      };
      setTimeout(poll, 1);
    };
    const releaseSlot = (): void => {
      if (slot !== undefined) writer?.release(slot);
      slot = undefined;
      fastRead = false;
    };
    // Input of a connection with a writer slot skips Node's Readable machinery: libuv's read callback calls
    // socket.push(chunk) for every chunk, and Readable's push costs a 'data' emit plus a process.nextTick
    // (maybeReadMore) per read; pushing straight to the connection saves ~10% of the event loop's CPU per
    // pgbench -S transaction. push returns false while input is paused, which makes Node stop reading
    // (handle.readStop); resuming starts the handle again as net.Socket's own _read does. End of input and
    // errors take Node's usual path (push(null), destroy). TLS connections give the slot back before the
    // handshake, and then read through Node as before.
    const handle = (socket as unknown as { _handle?: ReadHandle | null })._handle;
    let fastRead =
      slot !== undefined &&
      handle !== undefined &&
      handle !== null &&
      typeof handle.readStart === 'function' &&
      typeof handle.readStop === 'function';
    let fastReadPaused = false;
    const pauseInput = (): void => {
      if (!fastRead) {
        current.pause();
        return;
      }
      fastReadPaused = true;
      if (handle!.reading && !socket.destroyed) {
        handle!.reading = false;
        handle!.readStop();
      }
    };
    const resumeInput = (): void => {
      if (!fastRead) {
        current.resume();
        return;
      }
      fastReadPaused = false;
      if (!handle!.reading && !socket.destroyed) {
        handle!.reading = true;
        if (handle!.readStart() !== 0) socket.destroy();
      }
    };
    if (slot !== undefined && writer !== undefined) {
      // The descriptor must stay open until the writer is done with it: a closed number can be reused by the next
      // connection at once. Node closes it in _destroy, so that waits for the writer (which drops what is left).
      const guarded = socket as unknown as { _destroy(err: Error | null, cb: (err: Error | null) => void): void };
      const destroySocket = guarded._destroy;
      guarded._destroy = (err, cb) => {
        if (slot === undefined) return destroySocket.call(socket, err, cb);
        writer.drop(slot);
        whenWritten(() => {
          releaseSlot();
          destroySocket.call(socket, err, cb);
        });
      };
    }
    const writeViaWriter = (w: SocketWriter, s: number, data: Buffer): void => {
      if (!w.usable) {
        // The writer thread failed: what it held for this connection is lost, so the connection cannot go on.
        current.destroy();
        return;
      }
      // A turn with few batches (the event loop keeps up with its clients) writes them here: waking the writer
      // would cost a futex call, often a preemption by the woken writer, and one more thread hop before the
      // client sees its reply. Busier turns hand their batches to the writer, which takes the writes' system
      // time and the preemptions by the clients they wake off this thread.
      if (this.directWrites) w.write(fd!, s, data);
      else w.push(fd!, s, data);
      // A client that does not read its results: its backlog in the writer grows; stop reading its input meanwhile.
      if (!writeBlocked && w.backlogBytes(s) > backlogHighWaterBytes) {
        writeBlocked = true;
        pauseInput();
        const timer = setInterval(() => {
          if (!current.destroyed && slot === s && w.usable && w.backlogBytes(s) > backlogHighWaterBytes / 2) return;
          clearInterval(timer);
          writeBlocked = false;
          if (!inputPaused && !current.destroyed) resumeInput();
        }, 5);
      }
    };
    const writeNow = (data: Buffer): void => {
      if (current.destroyed) return;
      if (slot !== undefined && writer !== undefined) return writeViaWriter(writer, slot, data);
      // A client that does not read its results must not make us buffer without bound: stop reading its input until it catches up.
      if (!current.write(data) && !writeBlocked) {
        writeBlocked = true;
        current.pause();
        const sock = current;
        sock.once('drain', () => {
          writeBlocked = false;
          if (!inputPaused) sock.resume();
        });
      }
    };
    const flushPending = (): void => {
      const data = pending;
      pending = undefined;
      if (data !== undefined) writeNow(data);
    };
    const transport: Transport = {
      write: (data) => {
        if (pending !== undefined) flushPending();
        if (data.length >= deferWriteMaxBytes) {
          writeNow(data);
          writer?.notify();
          return;
        }
        pending = data;
        this.deferred.push(flushPending);
        if (this.deferred.length === 1) setImmediate(this.writeDeferred);
      },
      pause: () => {
        inputPaused = true;
        pauseInput();
      },
      resume: () => {
        inputPaused = false;
        if (!writeBlocked) resumeInput();
      },
      close: () => {
        flushPending();
        writer?.notify();
        if (current.destroyed) return;
        // The last replies (a FATAL error, say) leave before the FIN.
        whenWritten(() => {
          if (!current.destroyed) current.end();
        });
        // A peer that never reads must not keep the socket open forever.
        setTimeout(() => socket.destroy(), shutdownGraceMs).unref();
      },
      startTls:
        this.secureContext === undefined
          ? undefined
          : () =>
              new Promise<void>((resolve, reject) => {
                // What arrives from now on is the TLS handshake: it stays in the socket's buffer (the TLSSocket
                // takes over buffered input), not in the protocol parser.
                fastRead = false;
                socket.removeListener('data', onData);
                socket.pause();
                flushPending();
                writer?.notify();
                // The 'S' answer must be on the wire before the handshake; from then on Node writes (TLS).
                whenWritten(() => {
                  releaseSlot();
                  if (current.destroyed) return reject(new Error('connection closed before the TLS handshake'));
                  const t = new tls.TLSSocket(socket, { isServer: true, secureContext: this.secureContext! });
                  t.on('error', (err) => {
                    this.options.logger.debug({ err: err.message }, 'TLS socket error');
                    reject(err);
                    socket.destroy();
                  });
                  t.once('secure', () => {
                    current = t;
                    encrypted = true;
                    t.on('data', onData);
                    resolve();
                  });
                });
              }),
      remoteAddress: remote,
      isLoopback:
        local ||
        remote === '127.0.0.1' ||
        remote === '::1' ||
        remote === '::ffff:127.0.0.1' ||
        remote.startsWith('127.') ||
        (this.options.trustedAddress?.(remote.replace(/^::ffff:/, '')) ?? false),
      get encrypted() {
        return encrypted;
      },
    };
    const conn = new PgConnection(transport, this.ctx);
    this.connections.add(conn);
    socket.on('data', onData);
    if (fastRead) {
      const readable = socket as unknown as { push(chunk: Buffer | null, encoding?: BufferEncoding): boolean };
      const push = readable.push;
      readable.push = (chunk, encoding) => {
        if (chunk === null || !fastRead) return push.call(socket, chunk, encoding);
        onData(chunk);
        return !fastReadPaused;
      };
    }
    socket.once('close', onEnd);
    socket.once('end', onEnd);
    conn.onData(first);
  }

  /** The reply writer thread, started on first use; undefined when off, failed, or stopping. */
  private replyWriter(): SocketWriter | undefined {
    if (!this.useWriter || this.stopping !== undefined) return undefined;
    if (this.writer === undefined) {
      try {
        this.writer = new SocketWriter({
          onFailure: (err) =>
            this.options.logger.error(
              { err: err.message },
              'reply writer thread failed; new connections write directly',
            ),
        });
      } catch (err) {
        this.useWriter = false;
        this.options.logger.error(
          { err: String(err) },
          'reply writer thread could not start; connections write directly',
        );
        return undefined;
      }
    }
    return this.writer.usable ? this.writer : undefined;
  }

  private async serveHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const route = this.options.routes?.get(path);
    const known =
      path === '/' || path === '/health' || path === '/metrics' || path === '/api/status' || route !== undefined;
    this.metrics.httpRequests.inc({ path: known ? path : 'other' });
    if (this.stopping !== undefined) {
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' }).end('shutting down\n');
      return;
    }
    if (route !== undefined) {
      const method = req.method ?? 'GET';
      let body: unknown;
      if (method === 'POST') {
        const parsed = await readJsonBody(req);
        if (!parsed.ok) {
          res
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: parsed.error }) + '\n');
          return;
        }
        body = parsed.value;
      }
      const reply = await route({ method, path, query: url.searchParams, body });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body) + '\n');
      return;
    }
    switch (path) {
      case '/health': {
        const body = JSON.stringify({
          status: 'ok',
          version: serverVersion,
          uptimeSeconds: (Date.now() - this.startedAtMs) / 1000,
          connections: this.registry.size,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
        return;
      }
      case '/metrics': {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
        return;
      }
      case '/api/status':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await this.status()) + '\n');
        return;
      case '/':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(renderAdminPage(await this.status()));
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  /** A snapshot for the admin page: node, storage, catalog (through an internal session) and sessions. */
  async status(): Promise<AdminStatus> {
    let databases: string[] | string;
    let tables: { schema: string; name: string }[] | string;
    const text = (v: Buffer | null | undefined): string => (v === null || v === undefined ? '' : v.toString('utf8'));
    try {
      const session = await this.options.provider.createSession({
        user: 'postgres',
        database: 'postgres',
        params: { application_name: 'nextdb admin page' },
      });
      try {
        const [dbs] = await session.simpleQuery('SELECT datname FROM pg_catalog.pg_database ORDER BY 1');
        databases = (dbs?.rows ?? []).map((r) => text(r[0]));
        try {
          const [tbls] = await session.simpleQuery(
            "SELECT schemaname, tablename FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
          );
          tables = (tbls?.rows ?? []).map((r) => ({ schema: text(r[0]), name: text(r[1]) }));
        } catch (err) {
          tables = err instanceof Error ? err.message : String(err);
        }
      } finally {
        await session.close();
      }
    } catch (err) {
      databases = err instanceof Error ? err.message : String(err);
      tables = databases;
    }
    let engineStats: Record<string, number> = {};
    try {
      engineStats = { ...this.options.engine.stats() };
    } catch {
      // Engine closing: show no figures.
    }
    const now = Date.now();
    let cluster: ClusterView | undefined;
    try {
      cluster = await this.options.clusterStatus?.();
    } catch {
      cluster = undefined; // shown as absent rather than failing the page
    }
    return {
      ...(cluster === undefined ? {} : { cluster }),
      version: serverVersion,
      pid: process.pid,
      uptimeSeconds: (now - this.startedAtMs) / 1000,
      listen: `${this.options.host ?? '127.0.0.1'}:${this.boundPort}`,
      engine: this.options.engineDescription ?? 'unknown',
      rssBytes: process.memoryUsage().rss,
      engineStats,
      databases,
      tables,
      sessions: this.registry.list().map((c) => ({
        pid: c.processId,
        user: c.user,
        database: c.database,
        application: c.applicationName,
        client: c.remoteAddress,
        state: c.state,
        query: c.currentQuery ?? '',
        runningMs: c.state === 'active' && c.queryStartedAtMs !== undefined ? now - c.queryStartedAtMs : undefined,
      })),
    };
  }

  /** Stops accepting, ends every session, waits for sockets to close. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    const unix = this.unix;
    const unixClosed =
      unix === undefined ? Promise.resolve() : new Promise<void>((resolve) => unix.close(() => resolve()));
    for (const c of [...this.connections])
      c.terminate(SqlState.adminShutdown, 'terminating connection due to administrator command');
    // HTTP requests are short and idempotent; keep-alive sockets would only hold up the shutdown.
    for (const s of this.httpSockets) s.destroy();
    const deadline = Date.now() + shutdownGraceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
    this.http.closeAllConnections();
    await closed;
    await unixClosed;
    await this.writer?.stop();
  }
}

/** The libuv stream handle under a net.Socket, as net.Socket itself drives it. */
interface ReadHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

/** The file descriptor of a plaintext TCP or Unix socket (undefined where Node does not expose one). */
function socketFd(socket: net.Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function readJsonBody(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= routeBodyBytesMax) chunks.push(c);
    });
    req.on('error', () => resolve({ ok: false, error: 'request body could not be read' }));
    req.on('end', () => {
      if (size > routeBodyBytesMax)
        return resolve({ ok: false, error: `request body larger than ${routeBodyBytesMax} bytes` });
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({ ok: true, value: {} });
      try {
        resolve({ ok: true, value: JSON.parse(text) as unknown });
      } catch {
        resolve({ ok: false, error: 'request body is not valid JSON' });
      }
    });
  });
}

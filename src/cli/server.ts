/**
 * `nextdb server [port]`: opens the storage engine and the SQL engine and
 * serves PostgreSQL protocol v3 and HTTP on one port (src/server).
 *
 * Start-up order: config (defaults < --config FILE < flags) → logger →
 * storage (--memory, or the LSM engine in --data DIR, created on first
 * start; its LOCK keeps a second server off the same directory) → SQL
 * engine → listener. Any failure before listening is one clear line on
 * stderr and exit code 1, with whatever was opened closed again.
 *
 * Shutdown on SIGINT/SIGTERM: stop accepting, end sessions (FATAL 57P01),
 * close the SQL engine, sync and close the storage engine, exit 0. A second
 * signal during shutdown exits at once with code 1.
 *
 * The bootstrap superuser password (for password logins before any
 * `ALTER ROLE postgres PASSWORD`) comes from NEXTDB_SUPERUSER_PASSWORD, never
 * from argv, where other users of the machine could read it.
 */

import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pino from 'pino';
import { MemoryEngine } from '../storage/memory-engine.ts';
import type { Engine } from '../storage/engine.ts';
import { SqlEngine } from '../sql/index.ts';
import { NextDbError } from '../util/errors.ts';
import { nativeStatus } from '../util/native.ts';
import { NextDbServer, type ServerOptions } from '../server/pg-server.ts';
import {
  configFromJson,
  parsePort,
  resolveServerConfig,
  type ServerConfig,
  type ServerFlags,
} from '../server/server-config.ts';
import type { RoleLookup } from '../sql/api.ts';
import type { AuthMethod, SessionProvider } from '../server/server-types.ts';
import {
  isClusterDir,
  parsePeers,
  replicaDigest,
  startClusterServer,
  type RunningClusterServer,
} from '../server/cluster-server.ts';

export interface ServerCliOptions {
  readonly data?: string;
  readonly memory?: boolean;
  readonly host?: string;
  readonly config?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly unixSocketDir?: string;
  readonly auth?: string;
  readonly maxConnections?: string;
  readonly idleInTransactionTimeout?: string;
  readonly slowQueryMs?: string;
  readonly logLevel?: string;
  /** Cluster mode (see src/server/cluster-server.ts). */
  readonly join?: string;
  readonly cluster?: boolean;
  readonly nodeId?: string;
  readonly raftPort?: string;
  readonly peers?: string;
  readonly tickMs?: string;
  readonly electionTicks?: string;
  readonly snapshotEntries?: string;
}

export async function runServer(portArg: string | undefined, opts: ServerCliOptions): Promise<void> {
  let config: ServerConfig;
  try {
    config = await loadConfig(portArg, opts);
  } catch (err) {
    fail(`nextdb server: ${message(err)}`, 1);
  }
  const logger = pino({ name: 'nextdb', level: config.logLevel });
  if (clusterMode(config, opts)) {
    await runClusterNode(config, opts, logger);
    return;
  }
  const opened: { engine?: Engine; sql?: SqlEngine; server?: NextDbServer } = {};
  try {
    opened.engine = await openStorage(config);
    opened.sql = await openSql(opened.engine, config.memory ? undefined : resolve(config.data));
    const provider = sessionProvider(opened.sql);
    const tls =
      config.tlsCert === undefined || config.tlsKey === undefined
        ? undefined
        : { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) };
    opened.server = new NextDbServer({
      provider,
      engine: opened.engine,
      logger,
      host: config.host,
      port: config.port,
      ...listenerOptions(config, tls),
      engineDescription: config.memory ? 'memory' : `lsm ${resolve(config.data)}`,
    });
    const port = await opened.server.start();
    // Before "listening" is logged: whoever waits for that line may signal at once (see the cluster node below).
    onShutdownSignals(logger, () => closeAll(opened, logger), { note: 'shutting down' });
    logger.info(
      {
        host: config.host,
        port,
        unixSocket: opened.server.unixSocketPath ?? null,
        data: config.memory ? null : resolve(config.data),
        tls: tls !== undefined,
        native: nativeStatus,
      },
      `NextDB listening on ${config.host}:${port}`,
    );
  } catch (err) {
    await closeAll(opened, logger);
    fail(`nextdb server: ${message(err)}`, 1);
  }
}

/** A cluster node: asked for by a cluster flag, or the data directory already is one. */
function clusterMode(config: ServerConfig, opts: ServerCliOptions): boolean {
  if (opts.join !== undefined || opts.cluster === true || opts.peers !== undefined) return true;
  return !config.memory && isClusterDir(resolve(config.data));
}

/**
 * `nextdb server` as a replicated node: the same config (listener, TLS,
 * limits, auth, logging), served by startClusterServer. Shutdown hands
 * leadership to another voter first.
 */
async function runClusterNode(config: ServerConfig, opts: ServerCliOptions, logger: pino.Logger): Promise<void> {
  let running: RunningClusterServer;
  try {
    if (config.memory)
      throw new Error(
        'a cluster node keeps its Raft log and state in --data; --memory cannot be used with cluster flags',
      );
    const int = (v: string | undefined, what: string, def: number): number => {
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
      return n;
    };
    const raftPort = opts.raftPort === undefined ? config.port + 10 : parsePort(opts.raftPort, '--raft-port');
    if (config.port === 0 || raftPort === 0)
      throw new Error('a cluster node needs fixed ports (other nodes dial them): give a port other than 0');
    const tls =
      config.tlsCert === undefined || config.tlsKey === undefined
        ? undefined
        : { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) };
    running = await startClusterServer({
      dir: resolve(config.data),
      host: config.host,
      raftPort,
      pgPort: config.port,
      id: opts.nodeId === undefined ? undefined : int(opts.nodeId, '--node-id', 1),
      peers: opts.peers === undefined ? undefined : parsePeers(opts.peers),
      join:
        opts.join === undefined
          ? undefined
          : opts.join
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
      newCluster: opts.cluster === true,
      tickMs: int(opts.tickMs, '--tick-ms', 50),
      electionTicks: int(opts.electionTicks, '--election-ticks', 10),
      compactAfterEntries:
        opts.snapshotEntries === undefined ? undefined : int(opts.snapshotEntries, '--snapshot-entries', 1),
      logger,
      onRemoved: () => process.kill(process.pid, 'SIGTERM'),
      server: {
        ...listenerOptions(config, tls),
        engineDescription: `cluster node, lsm ${resolve(config.data)}`,
      },
    });
  } catch (err) {
    fail(`nextdb server: ${message(err)}`, 1);
  }
  const id = running.id;
  // The signal handlers go in before "ready" is logged: whoever waits for that line may signal at once,
  // and a signal that arrives before its handler is installed takes its default action (SIGUSR2 ends the process).
  // Tests and operators compare replicas: SIGUSR2 logs a digest of the replicated keyspace at an applied index.
  process.on('SIGUSR2', () => {
    const d = replicaDigest(running.node);
    logger.info({ nodeId: id, applied: d.applied, digest: d.digest }, `digest ${id} ${d.applied} ${d.digest}`);
  });
  onShutdownSignals(logger, () => running.stop(), {
    note: 'shutting down (handing leadership away first if leading)',
    nodeId: id,
  });
  logger.info(
    {
      nodeId: id,
      host: config.host,
      port: running.server.port,
      raftPort: opts.raftPort ?? config.port + 10,
      data: resolve(config.data),
    },
    `NextDB cluster node ${id} ready on ${config.host}:${running.server.port}`,
  );
}

/** The listener's options from the config, the same for a single server and a cluster node. */
function listenerOptions(
  config: ServerConfig,
  tls: ServerOptions['tls'],
): Pick<ServerOptions, 'tls' | 'limits' | 'auth' | 'unixSocketDir'> {
  return {
    tls,
    limits: {
      maxConnections: config.maxConnections,
      maxMessageBytes: config.maxMessageBytes,
      idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs,
      authenticationTimeoutMs: config.authenticationTimeoutMs,
      slowQueryMs: config.slowQueryMs,
    },
    auth: {
      local: config.authLocal,
      remote: config.authRemote,
      superuserPassword: process.env.NEXTDB_SUPERUSER_PASSWORD,
    },
    unixSocketDir: config.unixSocketDir,
  };
}

/**
 * SIGINT/SIGTERM: log, run `stop` (flush, close, hand leadership away), exit 0 when it
 * succeeded and 1 when it failed; a second signal during shutdown exits at once with 1.
 */
function onShutdownSignals(
  logger: pino.Logger,
  stop: () => Promise<void>,
  info: { note: string; nodeId?: number },
): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, ...(info.nodeId === undefined ? {} : { nodeId: info.nodeId }) }, info.note);
    stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: message(err) }, 'error during shutdown');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function loadConfig(portArg: string | undefined, opts: ServerCliOptions): Promise<ServerConfig> {
  let file: ServerFlags = {};
  if (opts.config !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.config, 'utf8');
    } catch (err) {
      throw new Error(`cannot read config file ${opts.config}: ${message(err)}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`config file ${opts.config} is not valid JSON: ${message(err)}`);
    }
    file = configFromJson(json, opts.config);
  }
  const flags: ServerFlags = {
    port: portArg === undefined ? undefined : parsePort(portArg, 'port argument'),
    host: opts.host,
    data: opts.data,
    memory: opts.memory,
    tlsCert: opts.tlsCert,
    tlsKey: opts.tlsKey,
    unixSocketDir: opts.unixSocketDir,
    authLocal: opts.auth as AuthMethod | undefined,
    authRemote: opts.auth as AuthMethod | undefined,
    maxConnections: opts.maxConnections === undefined ? undefined : Number(opts.maxConnections),
    idleInTransactionTimeoutMs:
      opts.idleInTransactionTimeout === undefined ? undefined : Number(opts.idleInTransactionTimeout),
    slowQueryMs: opts.slowQueryMs === undefined ? undefined : Number(opts.slowQueryMs),
    logLevel: opts.logLevel,
  };
  return resolveServerConfig(file, flags);
}

async function openStorage(config: ServerConfig): Promise<Engine> {
  if (config.memory) return new MemoryEngine();
  const dir = resolve(config.data);
  await mkdir(dir, { recursive: true });
  const { openLsmEngine } = await import('../storage/lsm/index.ts');
  return openLsmEngine({ dir });
}

async function openSql(engine: Engine, dataDir: string | undefined): Promise<SqlEngine> {
  return SqlEngine.open({ engine, ...(dataDir === undefined ? {} : { dataDir }) });
}

/**
 * The SQL engine as the server's SessionProvider. A database made by CREATE
 * DATABASE in another session becomes visible to createSession after a
 * catalog refresh, so an unknown database is looked up once more.
 */
function sessionProvider(sql: SqlEngine): SessionProvider {
  const roles = sql as Partial<RoleLookup>;
  return {
    createSession: async (startup) => {
      try {
        return sql.createSession(startup);
      } catch (err) {
        if (!(err instanceof NextDbError) || err.code !== '3D000') throw err;
        await sql.refresh();
        return sql.createSession(startup);
      }
    },
    ...(typeof roles.lookupRole === 'function' ? { lookupRole: (name: string) => roles.lookupRole!(name) } : {}),
  };
}

async function closeAll(
  opened: { engine?: Engine; sql?: SqlEngine; server?: NextDbServer },
  logger: pino.Logger,
): Promise<void> {
  const steps: [string, (() => Promise<void>) | undefined][] = [
    ['server', opened.server && (() => opened.server!.stop())],
    ['sql engine', opened.sql && (() => opened.sql!.close())],
    [
      'storage engine',
      opened.engine &&
        (async () => {
          await opened.engine!.sync();
          await opened.engine!.close();
        }),
    ],
  ];
  for (const [what, step] of steps) {
    if (step === undefined) continue;
    try {
      await step();
    } catch (err) {
      logger.error({ err: message(err) }, `error closing the ${what}`);
    }
  }
}

function message(err: unknown): string {
  return err instanceof NextDbError || err instanceof Error ? err.message : String(err);
}

function fail(text: string, code: number): never {
  process.stderr.write(text + '\n');
  process.exit(code);
}

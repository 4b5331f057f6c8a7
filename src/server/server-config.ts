/**
 * ServerConfig: everything `nextdb server` can be told, from three layers
 * merged in order (later wins): built-in defaults, the JSON config file
 * (`--config FILE`), command-line flags. Pure: reading the file and the
 * environment is the CLI's job; this module validates and merges.
 *
 * Config file (every key optional):
 *   {
 *     "port": 8080, "host": "127.0.0.1",
 *     "data": "./nextdb-data", "memory": false,
 *     "tls": { "cert": "server.crt", "key": "server.key" },
 *     "unixSocketDir": "/var/run/postgresql",
 *     "auth": { "local": "trust", "remote": "scram-sha-256" },
 *     "limits": { "maxConnections": 100, "maxMessageBytes": 67108864,
 *                 "idleInTransactionTimeoutMs": 0, "authenticationTimeoutMs": 60000,
 *                 "slowQueryMs": 0 },
 *     "logLevel": "info"
 *   }
 * Unknown keys are errors (a typo must not silently do nothing).
 */

import { NextDbError, SqlState } from '../util/errors.ts';
import { defaultMaxMessageBytes } from '../wire/frontend-parser.ts';
import { authMethods, type AuthMethod } from './server-types.ts';

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly data: string;
  readonly memory: boolean;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly unixSocketDir: string | undefined;
  readonly authLocal: AuthMethod;
  readonly authRemote: AuthMethod;
  readonly maxConnections: number;
  readonly maxMessageBytes: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly authenticationTimeoutMs: number;
  readonly slowQueryMs: number;
  readonly logLevel: string;
}

export const defaultServerConfig: ServerConfig = {
  port: 8080,
  host: '127.0.0.1',
  data: './nextdb-data',
  memory: false,
  tlsCert: undefined,
  tlsKey: undefined,
  unixSocketDir: undefined,
  authLocal: 'trust',
  authRemote: 'scram-sha-256',
  maxConnections: 100,
  maxMessageBytes: defaultMaxMessageBytes,
  idleInTransactionTimeoutMs: 0,
  authenticationTimeoutMs: 60_000,
  slowQueryMs: 0,
  logLevel: 'info',
};

/** Command-line values, already named as in ServerConfig; undefined = not given. */
export type ServerFlags = { readonly [K in keyof ServerConfig]?: ServerConfig[K] | undefined };

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function bad(message: string): NextDbError {
  return new NextDbError(SqlState.invalidParameterValue, message);
}

function check(cond: boolean, message: string): void {
  if (!cond) throw bad(message);
}

export function parsePort(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  check(
    typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535,
    `${what}: port must be an integer 0-65535, got ${JSON.stringify(value)}`,
  );
  return n as number;
}

function positiveInt(value: unknown, what: string, allowZero: boolean): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  check(
    typeof n === 'number' && Number.isInteger(n) && (allowZero ? n >= 0 : n > 0),
    `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`,
  );
  return n as number;
}

function authMethod(value: unknown, what: string): AuthMethod {
  check(
    typeof value === 'string' && (authMethods as readonly string[]).includes(value),
    `${what} must be one of ${authMethods.join(', ')}, got ${JSON.stringify(value)}`,
  );
  return value as AuthMethod;
}

function str(value: unknown, what: string): string {
  check(typeof value === 'string' && value !== '', `${what} must be a non-empty string`);
  return value as string;
}

function object(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  check(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} must be an object`);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) check(keys.includes(k), `${what}: unknown key "${k}" (known: ${keys.join(', ')})`);
  return o;
}

/** Validates a parsed config file into flags; `source` names the file in errors. */
export function configFromJson(json: unknown, source: string): ServerFlags {
  const o = object(json, source, [
    'port',
    'host',
    'data',
    'memory',
    'tls',
    'unixSocketDir',
    'auth',
    'limits',
    'logLevel',
  ]);
  const out: { -readonly [K in keyof ServerConfig]?: ServerConfig[K] } = {};
  if (o.port !== undefined) out.port = parsePort(o.port, `${source}: port`);
  if (o.host !== undefined) out.host = str(o.host, `${source}: host`);
  if (o.data !== undefined) out.data = str(o.data, `${source}: data`);
  if (o.memory !== undefined) {
    check(typeof o.memory === 'boolean', `${source}: memory must be true or false`);
    out.memory = o.memory as boolean;
  }
  if (o.tls !== undefined) {
    const t = object(o.tls, `${source}: tls`, ['cert', 'key']);
    out.tlsCert = str(t.cert, `${source}: tls.cert`);
    out.tlsKey = str(t.key, `${source}: tls.key`);
  }
  if (o.unixSocketDir !== undefined) out.unixSocketDir = str(o.unixSocketDir, `${source}: unixSocketDir`);
  if (o.auth !== undefined) {
    const a = object(o.auth, `${source}: auth`, ['local', 'remote']);
    if (a.local !== undefined) out.authLocal = authMethod(a.local, `${source}: auth.local`);
    if (a.remote !== undefined) out.authRemote = authMethod(a.remote, `${source}: auth.remote`);
  }
  if (o.limits !== undefined) {
    const l = object(o.limits, `${source}: limits`, [
      'maxConnections',
      'maxMessageBytes',
      'idleInTransactionTimeoutMs',
      'authenticationTimeoutMs',
      'slowQueryMs',
    ]);
    if (l.maxConnections !== undefined)
      out.maxConnections = positiveInt(l.maxConnections, `${source}: limits.maxConnections`, false);
    if (l.maxMessageBytes !== undefined)
      out.maxMessageBytes = positiveInt(l.maxMessageBytes, `${source}: limits.maxMessageBytes`, false);
    if (l.idleInTransactionTimeoutMs !== undefined)
      out.idleInTransactionTimeoutMs = positiveInt(
        l.idleInTransactionTimeoutMs,
        `${source}: limits.idleInTransactionTimeoutMs`,
        true,
      );
    if (l.slowQueryMs !== undefined)
      out.slowQueryMs = positiveInt(l.slowQueryMs, `${source}: limits.slowQueryMs`, true);
    if (l.authenticationTimeoutMs !== undefined)
      out.authenticationTimeoutMs = positiveInt(
        l.authenticationTimeoutMs,
        `${source}: limits.authenticationTimeoutMs`,
        false,
      );
  }
  if (o.logLevel !== undefined) out.logLevel = str(o.logLevel, `${source}: logLevel`);
  return out;
}

/** Merges defaults, file and flags (later wins) and checks the result as a whole. */
export function resolveServerConfig(...layers: readonly ServerFlags[]): ServerConfig {
  const merged: Record<string, unknown> = { ...defaultServerConfig };
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  const c = merged as unknown as ServerConfig;
  parsePort(c.port, 'port');
  authMethod(c.authLocal, 'auth.local');
  authMethod(c.authRemote, 'auth.remote');
  positiveInt(c.maxConnections, 'maxConnections', false);
  positiveInt(c.maxMessageBytes, 'maxMessageBytes', false);
  positiveInt(c.idleInTransactionTimeoutMs, 'idleInTransactionTimeoutMs', true);
  positiveInt(c.authenticationTimeoutMs, 'authenticationTimeoutMs', false);
  positiveInt(c.slowQueryMs, 'slowQueryMs', true);
  check(logLevels.includes(c.logLevel), `logLevel must be one of ${logLevels.join(', ')}`);
  check(
    (c.tlsCert === undefined) === (c.tlsKey === undefined),
    'TLS needs both a certificate (--tls-cert) and a key (--tls-key)',
  );
  return c;
}

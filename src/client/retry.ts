/**
 * Retry policy of the client library: which failures are safe to retry and
 * how long to wait between attempts.
 *
 * Safe to retry, always:
 *   - 40001 serialization failure, 40P01 deadlock victim: the server rolled
 *     the whole transaction back, so running it again is the documented fix;
 *   - failures to connect at all (refused, timed out, DNS): nothing was sent.
 * Safe to retry only when the operation is idempotent (a read, or a
 * transaction that had not yet sent COMMIT):
 *   - a connection lost mid-operation, 57P01 admin shutdown, 57P03 cannot
 *     connect now, 08xxx connection exceptions.
 * Safe to retry elsewhere, always:
 *   - a cluster node that is not the leader refusing the session (40001
 *     "not leader"): nothing ran; the host is skipped for a while.
 * A connection lost while COMMIT was in flight, or a cluster's 40003
 * (statement_completion_unknown), is never retried unless the caller said
 * the transaction is idempotent: whether it committed is unknown, and the
 * caller gets 08007 (transaction_resolution_unknown) to decide.
 */

import { NextDbError } from '../util/errors.ts';

export interface RetryOptions {
  /** Attempts in all, including the first. Default 10. */
  readonly maxAttempts?: number;
  /** First backoff; doubles each attempt up to maxDelayMs. Default 10 ms. */
  readonly baseDelayMs?: number;
  /** Default 1000 ms. */
  readonly maxDelayMs?: number;
}

export type FailureKind = 'conflict' | 'not-sent' | 'not-leader' | 'connection-lost' | 'ambiguous' | 'other';

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ETIMEDOUT',
]);

/** Classifies an error thrown by the driver or the server. */
export function classifyFailure(err: unknown): FailureKind {
  const code = errorCode(err);
  if (code === undefined) return 'other';
  if (code === '40001' && isNotLeader(err)) return 'not-leader';
  if (code === '40001' || code === '40P01') return 'conflict';
  // statement_completion_unknown: the server lost leadership while COMMIT was in flight.
  if (code === '40003') return 'ambiguous';
  if (NOT_SENT_CODES.has(code) || code === '57P03') return 'not-sent';
  if (LOST_CODES.has(code) || code === '57P01' || code === '57P02' || code.startsWith('08')) return 'connection-lost';
  return 'other';
}

/**
 * A cluster node that is not the Raft leader refuses SQL with 40001 and a
 * message naming the leader; nothing ran, and another node will serve.
 */
function isNotLeader(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /\bnot leader\b/i.test(message);
}

/**
 * The error means the session is over: the driver lost or never had the
 * connection, or the server ended the session (severity FATAL or PANIC,
 * e.g. 57P01 admin shutdown). Nothing more can be sent on that connection.
 */
export function endsSession(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && (LOST_CODES.has(code) || NOT_SENT_CODES.has(code))) return true;
  const severity = typeof err === 'object' && err !== null ? (err as { severity?: unknown }).severity : undefined;
  return severity === 'FATAL' || severity === 'PANIC';
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Full-jitter exponential backoff (uniform in [0, min(max, base * 2^attempt))). */
export function backoffMs(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const base = options.baseDelayMs ?? 10;
  const max = options.maxDelayMs ?? 1000;
  return Math.floor(random() * Math.min(max, base * 2 ** attempt));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface DriverErrorFields {
  code?: unknown;
  severity?: unknown;
  detail?: unknown;
  hint?: unknown;
  position?: unknown;
  schema_name?: unknown;
  table_name?: unknown;
  column_name?: unknown;
  constraint_name?: unknown;
}

/**
 * Wraps a driver error as a NextDbError keeping every PostgreSQL field
 * (code, severity, detail, hint, position, schema/table/column/constraint),
 * with the original as `cause`.
 */
export function toClientError(err: unknown): NextDbError {
  if (err instanceof NextDbError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverErrorFields;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const message = err instanceof Error ? err.message : String(err);
  const code = str(e.code);
  const sqlstate = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : connectionCode(code);
  const position = str(e.position);
  const severity = str(e.severity);
  const fields = {
    cause: err,
    ...(severity === undefined ? {} : { severity: severity as NextDbError['severity'] }),
    ...(str(e.detail) === undefined ? {} : { detail: str(e.detail) as string }),
    ...(str(e.hint) === undefined ? {} : { hint: str(e.hint) as string }),
    ...(position === undefined ? {} : { position: Number(position) }),
    ...(str(e.schema_name) === undefined ? {} : { schema: str(e.schema_name) as string }),
    ...(str(e.table_name) === undefined ? {} : { table: str(e.table_name) as string }),
    ...(str(e.column_name) === undefined ? {} : { column: str(e.column_name) as string }),
    ...(str(e.constraint_name) === undefined ? {} : { constraint: str(e.constraint_name) as string }),
  };
  return new NextDbError(sqlstate, message, fields);
}

function connectionCode(code: string | undefined): string {
  if (code === undefined) return 'XX000';
  if (NOT_SENT_CODES.has(code)) return '08001'; // sqlclient_unable_to_establish_sqlconnection
  if (LOST_CODES.has(code)) return '08006'; // connection_failure
  return 'XX000';
}

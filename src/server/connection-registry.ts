/**
 * ConnectionRegistry: the server's table of live PostgreSQL connections.
 *
 * It hands out BackendKeyData (a process id unique among live connections
 * and a random secret), finds the target of a CancelRequest (which arrives
 * on a separate connection and must match both numbers), enforces the
 * connection limit, and lists sessions for the admin page.
 */

import { randomInt } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';

/** What the registry knows of each connection (the admin page reads it). */
export interface RegisteredConnection {
  readonly processId: number;
  readonly secretKey: number;
  readonly remoteAddress: string;
  readonly connectedAtMs: number;
  user: string;
  database: string;
  applicationName: string;
  /** PostgreSQL's pg_stat_activity states: 'idle', 'active', 'idle in transaction', ... */
  state: string;
  currentQuery: string | undefined;
  queryStartedAtMs: number | undefined;
  cancel(): void;
  /** Ends the connection with FATAL 57P01 (server shutdown). */
  terminate(reason: string): void;
}

export class ConnectionRegistry {
  private readonly byPid = new Map<number, RegisteredConnection>();
  private nextPid: number;

  constructor(firstPid = 1000 + randomInt(50_000)) {
    this.nextPid = firstPid;
  }

  get size(): number {
    return this.byPid.size;
  }

  /** Allocates a process id (`preferred` when it is free) and a secret key for a new connection. */
  allocateKey(preferred?: number): { processId: number; secretKey: number } {
    if (
      preferred !== undefined &&
      Number.isInteger(preferred) &&
      preferred > 0 &&
      preferred <= 0x7fffffff &&
      !this.byPid.has(preferred)
    ) {
      return { processId: preferred, secretKey: randomInt(-0x80000000, 0x7fffffff) };
    }
    let pid = this.nextPid;
    while (this.byPid.has(pid)) pid = pid >= 0x7fffffff ? 1000 : pid + 1;
    this.nextPid = pid >= 0x7fffffff ? 1000 : pid + 1;
    return { processId: pid, secretKey: randomInt(-0x80000000, 0x7fffffff) };
  }

  add(c: RegisteredConnection): void {
    this.byPid.set(c.processId, c);
  }

  remove(c: RegisteredConnection): void {
    if (this.byPid.get(c.processId) === c) this.byPid.delete(c.processId);
  }

  /** Cancels the running statement of the matching connection; false when no connection matches both numbers. */
  cancel(processId: number, secretKey: number): boolean {
    const c = this.byPid.get(processId);
    if (c === undefined) return false;
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    a.writeInt32BE(c.secretKey);
    b.writeInt32BE(secretKey | 0);
    if (!timingSafeEqual(a, b)) return false;
    c.cancel();
    return true;
  }

  list(): RegisteredConnection[] {
    return [...this.byPid.values()];
  }
}

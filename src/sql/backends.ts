/**
 * The live sessions of one SQL engine by backend pid (the number
 * pg_backend_pid() and, through the server, BackendKeyData report), for
 * pg_cancel_backend and pg_terminate_backend. Permission follows
 * PostgreSQL 15: a superuser may signal anyone; anyone else only sessions
 * of their own role, never a superuser's.
 */

import { NextDbError } from '../util/errors.ts';

export interface Backend {
  readonly backendPid: number;
  /** The role the session runs as. */
  readonly user: string;
  /** Cancels the running statement (as a CancelRequest does). */
  cancel(): void;
  /** Ends the session: FATAL 57P01 to its client, then closes it. */
  terminate(): void;
}

export type BackendSignal = 'cancel' | 'terminate';

export class BackendTable {
  private readonly byPid = new Map<number, Backend>();

  add(b: Backend): void {
    this.byPid.set(b.backendPid, b);
  }

  remove(b: Backend): void {
    if (this.byPid.get(b.backendPid) === b) this.byPid.delete(b.backendPid);
  }

  /**
   * Signals the session with that pid on behalf of `caller`: false when no
   * session has it (PostgreSQL also warns "PID n is not a PostgreSQL
   * backend process"), 42501 when the caller may not.
   */
  signal(pid: number, signal: BackendSignal, caller: string, isSuperuser: (role: string) => boolean): boolean {
    const b = this.byPid.get(pid);
    if (b === undefined) return false;
    const callerIsSuper = isSuperuser(caller);
    if (!callerIsSuper && isSuperuser(b.user)) {
      throw new NextDbError(
        '42501',
        signal === 'cancel'
          ? 'must be a superuser to cancel superuser query'
          : 'must be a superuser to terminate superuser process',
      );
    }
    if (!callerIsSuper && b.user !== caller) {
      throw new NextDbError(
        '42501',
        signal === 'cancel'
          ? 'must be a member of the role whose query is being canceled or member of pg_signal_backend'
          : 'must be a member of the role whose process is being terminated or member of pg_signal_backend',
      );
    }
    if (signal === 'cancel') b.cancel();
    else b.terminate();
    return true;
  }
}

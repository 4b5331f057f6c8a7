/**
 * What an expression sees while it is evaluated: session settings for I/O,
 * bound parameters, the rows of enclosing queries (correlated subqueries),
 * the per-row results of subqueries and storage-reading functions that the
 * operator computed ahead of the expression, and the session services that
 * built-in functions need.
 */

import type { CheckpointInfo } from '../../storage/engine.ts';
import type { Txn } from '../../txn/api.ts';
import type { Value } from '../types/sql-type.ts';
import type { IoSettings } from '../types/text-io.ts';
import type { BackendSignal } from '../backends.ts';
import type { FunctionDef, TriggerDef } from '../catalog/catalog.ts';
import type { Notice } from '../api.ts';
import type { PlResult, TriggerInfo } from '../plpgsql/interpreter.ts';

/** Session services for built-in functions (current_setting, nextval, catalog lookups). */
export interface SessionServices {
  getSetting(name: string): string | undefined;
  setSetting(name: string, value: string, isLocal: boolean): void;
  /** current_user (SET ROLE). */
  readonly user: string;
  /** session_user (SET SESSION AUTHORIZATION); absent: the same as user. */
  readonly sessionUser?: string;
  readonly database: string;
  readonly backendPid: number;
  txn(): Txn;
  /** Sequences by name (text) or OID (regclass). */
  nextval(seq: string | number): Promise<bigint>;
  currval(seq: string | number): bigint;
  setval(seq: string | number, value: bigint, isCalled: boolean): Promise<bigint>;
  /** Throws 25006 when the current transaction is read-only (`command`: what would write, e.g. 'UPDATE'). */
  checkWritable?(command: string): void;
  /** Statement start (now(), CURRENT_TIMESTAMP), microseconds since epoch. */
  readonly statementStartMicros: bigint;
  readonly txnStartMicros: bigint;
  clockMicros(): bigint;
  random(): number;
  /** A fresh, process-unique int8 for the hidden rowid of tables without a primary key. */
  uniqueRowId(): bigint;
  /** Resolves a relation name to its OID (regclass input). */
  relationOid(name: string): number | undefined;
  relationName(oid: number): string | undefined;
  /** Definition text for pg_get_indexdef / pg_get_constraintdef / pg_get_viewdef (null when unknown). */
  catalogText(
    kind: 'indexdef' | 'constraintdef' | 'viewdef' | 'functionresult' | 'functionargs' | 'triggerdef',
    oid: number,
  ): string | null;
  /** Bytes of keys and values stored for a relation (0 = database-wide). */
  relationSize(oid: number): Promise<bigint>;
  /** Throws 57014 when the statement was cancelled or timed out. */
  checkInterrupt(): void;
  /**
   * A promise to await when the statement has run long enough that it
   * should let the event loop breathe (so a cancel request or timer can
   * arrive); undefined otherwise, which costs nothing.
   */
  yieldPoint(): Promise<void> | undefined;
  /** Calls a LANGUAGE plpgsql function (absent where no session runs PL/pgSQL). */
  callFunction?(f: FunctionDef, args: readonly Value[]): Promise<PlResult>;
  /**
   * Runs a trigger (its WHEN condition, then its function): undefined when
   * WHEN was not true, else the function's result (`record`: the row a
   * BEFORE ROW trigger returned, null to skip the row).
   */
  fireTrigger?(g: TriggerDef, info: TriggerInfo): Promise<PlResult | undefined>;
  /** has_*_privilege: see exec/privileges.ts privilegeAnswer (`user` undefined: the session's). */
  privilege?(
    kind: 'table' | 'schema' | 'sequence' | 'function' | 'database',
    user: string | number | undefined,
    object: string | number,
    privs: string,
  ): boolean;
  /** A notice for the client (RAISE NOTICE); absent where there is no client. */
  notice?(n: Notice): void;
  /** pg_cancel_backend / pg_terminate_backend: false when no session has that pid (absent where there are no sessions). */
  signalBackend?(pid: number, signal: BackendSignal): boolean;
  /**
   * nextdb_backup(dir): an online copy of the database into a new or empty server directory (superusers
   * only: 42501 otherwise); absent where the storage cannot be backed up from here (0A000).
   */
  backup?(dir: string): Promise<CheckpointInfo>;
}

/** The outer rows of a top-level query: none (shared, never written). */
const NO_OUTER: readonly (readonly Value[])[] = [];

export class EvalContext {
  /** Subquery and async-call results for the current row, by slot number. */
  slots: Value[] = [];
  constructor(
    readonly io: IoSettings,
    readonly params: readonly Value[],
    readonly services: SessionServices,
    /** Enclosing queries' current rows, innermost first. */
    readonly outer: readonly (readonly Value[])[] = NO_OUTER,
  ) {}

  withOuter(row: readonly Value[]): EvalContext {
    return new EvalContext(this.io, this.params, this.services, [row, ...this.outer]);
  }
}

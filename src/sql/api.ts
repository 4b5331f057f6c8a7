/**
 * The boundary between the SQL engine and the protocol server (src/server)
 * and the embedded API. The server never looks inside plans: it hands text
 * and parameters to a Session and writes back what comes out.
 *
 * Values cross this boundary already formatted for the wire: text format
 * (PostgreSQL's output functions) or binary format (PostgreSQL's send
 * functions), as the client asked, so the server stays type-agnostic.
 */

export interface ColumnDescription {
  readonly name: string;
  /** Table OID and attribute number when the column comes straight from a table; else 0. */
  readonly tableOid: number;
  readonly columnAttr: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeMod: number;
}

/** One finished statement. */
export interface StatementResult {
  /** PostgreSQL's command tag, e.g. 'SELECT 3', 'INSERT 0 1', 'BEGIN'. */
  readonly commandTag: string;
  /** Present for statements that return rows (also zero rows). */
  readonly columns?: readonly ColumnDescription[];
  /** Each row's values, formatted per the requested formats; null is SQL NULL. */
  readonly rows?: readonly (readonly (Buffer | null)[])[];
  /** Notices raised while running (e.g. "table does not exist, skipping"). */
  readonly notices?: readonly Notice[];
  /**
   * COPY ... FROM STDIN: the statement waits for the client's data. Added
   * for the server (issue 5). `simpleQuery` returns this result LAST (the
   * statements after the COPY in the same query string run in `finish()`);
   * the server streams CopyData into it and reports what `finish()` returns.
   */
  readonly copyIn?: CopyIn;
  /**
   * COPY ... TO STDOUT: the data to send, already in the COPY format (text
   * lines, CSV lines, or binary). Added for the server (issue 5). The server
   * writes CopyOutResponse, one CopyData per chunk, CopyDone, then this
   * result's commandTag ('COPY n').
   */
  readonly copyOut?: CopyOut;
}

/** The shape of a COPY's data on the wire: 0 text/CSV (format 0 in PostgreSQL), 1 binary. */
export interface CopyFormat {
  readonly format: FormatCode;
  /** One entry per column (all equal to `format` in PostgreSQL). */
  readonly columnFormats: readonly FormatCode[];
}

/** A COPY FROM STDIN in progress (see StatementResult.copyIn). */
export interface CopyIn extends CopyFormat {
  /** One CopyData payload; chunk boundaries are arbitrary (not aligned to rows). Throwing fails the COPY. */
  write(data: Buffer): void | Promise<void>;
  /**
   * CopyDone: ends the data. Resolves to the COPY's own result ('COPY n')
   * followed by the results of the statements after it in the same query
   * string; throws like simpleQuery (with PartialResultsCarrier) on error.
   */
  finish(): Promise<StatementResult[]>;
  /** CopyFail from the client (its message) or the connection lost: the COPY fails and its transaction with it. */
  abort(reason: string): Promise<void>;
}

/** The output of a COPY TO STDOUT (see StatementResult.copyOut). */
export interface CopyOut extends CopyFormat {
  readonly chunks: readonly Buffer[];
}

export interface Notice {
  readonly severity: 'NOTICE' | 'WARNING' | 'INFO' | 'DEBUG' | 'LOG';
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export type TxnStatus = 'I' | 'T' | 'E';

export const FormatCode = { text: 0, binary: 1 } as const;
export type FormatCode = (typeof FormatCode)[keyof typeof FormatCode];

export interface PreparedStatementInfo {
  /** Parameter type OIDs (resolved; 0 never appears here). */
  readonly paramTypes: readonly number[];
  /** Result columns, or undefined for statements that return no rows. */
  readonly columns: readonly ColumnDescription[] | undefined;
}

export interface PortalResult extends StatementResult {
  /** True when the row limit stopped execution before the end (PortalSuspended). */
  readonly suspended: boolean;
}

/** One connection's SQL session: transaction state, settings, prepared statements. */
export interface Session {
  readonly txnStatus: TxnStatus;
  /**
   * The session's process id as `pg_backend_pid()` reports it. Optional;
   * added for the server (issue 5): when present and not in use by another
   * connection, BackendKeyData carries it, so the two agree.
   */
  readonly backendPid?: number;
  /**
   * How many writes this session's read-only transactions refused (25006),
   * counted even when a PL/pgSQL handler caught the error. Optional; the
   * cluster's stale reads use it to tell a statement that tried to write.
   */
  readonly writesRefused?: number;
  /** Current value of a setting (SHOW), for ParameterStatus. */
  getSetting(name: string): string | undefined;
  /**
   * Optional: a number that changes whenever a value getSetting reports may
   * have changed (SET, RESET, the end of a block with SET LOCAL, SET ROLE,
   * DISCARD ALL). While it stays the same the server skips looking for
   * ParameterStatus changes after COMMIT and ROLLBACK.
   */
  readonly settingsVersion?: number;
  /** Simple query protocol: one or more statements separated by ';'. Stops at the first error (which is thrown). */
  simpleQuery(sql: string): Promise<StatementResult[]>;

  /** Extended protocol. `paramTypes` may contain 0 for "infer". */
  prepare(name: string, sql: string, paramTypes: readonly number[]): Promise<PreparedStatementInfo>;
  describeStatement(name: string): PreparedStatementInfo;
  bind(
    portal: string,
    statement: string,
    paramFormats: readonly FormatCode[],
    params: readonly (Buffer | null)[],
    resultFormats: readonly FormatCode[],
  ): void;
  describePortal(portal: string): readonly ColumnDescription[] | undefined;
  /** Runs a portal; maxRows 0 means all. */
  execute(portal: string, maxRows: number): Promise<PortalResult>;
  /**
   * Optional: runs a portal without a promise when the session can answer
   * at once (the embedded engine's prepared point reads and constant
   * SELECTs); undefined when it cannot, and then nothing has happened:
   * call execute().
   */
  executeNow?(portal: string, maxRows: number): PortalResult | undefined;
  closeStatement(name: string): void;
  closePortal(portal: string): void;
  /** End of an extended-protocol cycle: closes the implicit transaction if any (undefined: done at once). */
  sync(): Promise<void> | undefined;

  /** Requests cancellation of the running statement (CancelRequest). */
  cancel(): void;
  /**
   * Set by the server: ends this session's connection with FATAL `message`
   * (57P01), for pg_terminate_backend. Optional.
   */
  onTerminate?: ((message: string) => void) | undefined;
  close(): Promise<void>;
}

/**
 * A role as the catalog stores it (pg_authid), for the protocol server's
 * authentication. Added for the server (issue 5): the SQL engine offers
 * `lookupRole(name)` (see RoleLookup) so logins are checked against
 * `CREATE ROLE ... LOGIN PASSWORD`.
 */
export interface RoleInfo {
  readonly name: string;
  readonly canLogin: boolean;
  readonly superuser: boolean;
  /**
   * PostgreSQL's rolpassword: a SCRAM-SHA-256 verifier (make one with
   * `scramVerifier` from src/wire/password-auth.ts), an md5 verifier
   * ('md5' + md5hex(password || name)), or null when the role has none.
   */
  readonly password: string | null;
}

/**
 * Implemented by the SQL engine for the server: the role a login names, or
 * undefined when no such role exists. Never throws for a missing role.
 */
export interface RoleLookup {
  lookupRole(name: string): RoleInfo | undefined | Promise<RoleInfo | undefined>;
}

/**
 * An error thrown by `Session.simpleQuery` after some of its statements have
 * completed may carry their results here, so the server sends them before
 * the ErrorResponse, as PostgreSQL does. Optional: without it the client
 * sees only the error.
 */
export interface PartialResultsCarrier {
  readonly completedResults?: readonly StatementResult[];
  /**
   * The failing statement's result columns when it failed while running,
   * after planning: PostgreSQL has sent its RowDescription by then, so the
   * server sends one before the ErrorResponse (simple protocol; in the
   * extended protocol Describe already did).
   */
  readonly failedColumns?: readonly ColumnDescription[];
}

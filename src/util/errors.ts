/**
 * The one error base class of NextDB.
 *
 * Every error that can reach a user carries a PostgreSQL SQLSTATE `code` and
 * the optional fields of PostgreSQL's ErrorResponse, so the wire protocol can
 * report it field by field. Foreign errors are wrapped with `cause`.
 */

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

export interface ErrorFields {
  readonly severity?: Severity;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the query text (PostgreSQL's convention). */
  readonly position?: number;
  /** PostgreSQL's CONTEXT line (e.g. 'COPY t, line 3, column x: "abc"'). */
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;
  readonly cause?: unknown;
}

export class NextDbError extends Error {
  override name = 'NextDbError';
  readonly code: string;
  readonly severity: Severity;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: number | undefined;
  readonly where: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly constraint: string | undefined;

  constructor(code: string, message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = code;
    this.severity = fields.severity ?? 'ERROR';
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.where = fields.where;
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.constraint = fields.constraint;
  }
}

/** SQLSTATE codes used across layers (PostgreSQL's Appendix A names). */
export const SqlState = {
  successfulCompletion: '00000',
  featureNotSupported: '0A000',
  invalidParameterValue: '22023',
  numericValueOutOfRange: '22003',
  divisionByZero: '22012',
  invalidTextRepresentation: '22P02',
  dataCorrupted: 'XX001',
  indexCorrupted: 'XX002',
  internalError: 'XX000',
  ioError: '58030',
  duplicateFile: '58P02',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  objectInUse: '55006',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  syntaxError: '42601',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  duplicateTable: '42P07',
  uniqueViolation: '23505',
  notNullViolation: '23502',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  readOnlySqlTransaction: '25006',
  inFailedSqlTransaction: '25P02',
  invalidTransactionState: '25000',
  noActiveSqlTransaction: '25P01',
  protocolViolation: '08P01',
  invalidPassword: '28P01',
  invalidAuthorizationSpecification: '28000',
} as const;

/** A feature that is not built yet: a clear error instead of a wrong answer. */
export function notSupported(what: string, hint?: string): NextDbError {
  return new NextDbError(
    SqlState.featureNotSupported,
    `${what} is not supported yet`,
    hint === undefined ? {} : { hint },
  );
}

/**
 * Corruption found in a file: a checksum mismatch, a bad magic number, a
 * length that runs past the end. Always names the file, never returns data.
 */
export class CorruptionError extends NextDbError {
  override name = 'CorruptionError';
  readonly file: string;
  readonly offset: number | undefined;
  constructor(file: string, message: string, offset?: number) {
    super(
      SqlState.dataCorrupted,
      `corruption in ${file}${offset === undefined ? '' : ` at offset ${offset}`}: ${message}`,
    );
    this.file = file;
    this.offset = offset;
  }
}

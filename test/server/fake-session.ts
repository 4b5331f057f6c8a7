// A scripted Session for protocol tests, independent of the SQL engine.
// Its tiny language (one statement per ';'):
//   SELECT <n>        n rows of one int4 column "n" (values 1..n); SELECT 0 is zero rows
//   ECHO $1[, $2...]  one row echoing the bound parameters as text columns (extended only)
//   BEGIN / COMMIT / ROLLBACK   transaction status I/T/E as PostgreSQL tracks it
//   FAIL              throws 22012 with detail, hint and position
//   FAIL AT RUN       throws 22012 after "planning": a one-int4-column statement whose
//                     error carries failedColumns (PartialResultsCarrier), as the SQL
//                     engine's run-time errors do
//   SLEEP <ms>        waits, then 'SLEEP'; cancel() makes it throw 57014
//   SET <name> = <v>  changes a setting (reported through ParameterStatus)
//   NOTICE            completes with a NoticeResponse
//   COPY IN           COPY FROM STDIN: counts the lines received ('COPY n'); data "fail" makes write() throw 22P04
//   COPY OUT <n>      COPY TO STDOUT of n text lines
//   (empty)           an empty query
// Anything else is a 42601 syntax error.
import { NextDbError, SqlState } from '../../src/util/errors.ts';
import type {
  ColumnDescription,
  CopyIn,
  FormatCode,
  PortalResult,
  PreparedStatementInfo,
  RoleInfo,
  Session,
  StatementResult,
  TxnStatus,
} from '../../src/sql/api.ts';
import type { SessionProvider, StartupInfo } from '../../src/server/server-types.ts';

const int4 = (name: string): ColumnDescription => ({
  name,
  tableOid: 0,
  columnAttr: 0,
  typeOid: 23,
  typeSize: 4,
  typeMod: -1,
});
const text = (name: string): ColumnDescription => ({
  name,
  tableOid: 0,
  columnAttr: 0,
  typeOid: 25,
  typeSize: -1,
  typeMod: -1,
});

function int4Value(n: number, format: FormatCode): Buffer {
  if (format === 0) return Buffer.from(String(n));
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

interface Portal {
  readonly sql: string;
  readonly params: readonly (Buffer | null)[];
  readonly formats: readonly FormatCode[];
  produced: number;
}

export class FakeSession implements Session {
  txnStatus: TxnStatus = 'I';
  readonly settings = new Map<string, string>();
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  private cancelRequested = false;
  private wake: (() => void) | undefined;
  closed = false;

  constructor(readonly startup: StartupInfo) {
    if (startup.params?.application_name !== undefined)
      this.settings.set('application_name', startup.params.application_name);
  }

  getSetting(name: string): string | undefined {
    return this.settings.get(name);
  }

  /** Every COPY IN's received data, in order. */
  readonly copied: string[] = [];

  async simpleQuery(sql: string): Promise<StatementResult[]> {
    return this.runAll(
      sql
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }

  private async runAll(stmts: readonly string[]): Promise<StatementResult[]> {
    const out: StatementResult[] = [];
    for (const [i, stmt] of stmts.entries()) {
      if (stmt.toUpperCase() === 'COPY IN') {
        out.push({ commandTag: 'COPY', copyIn: this.copyIn(stmts.slice(i + 1)) });
        return out;
      }
      try {
        out.push(await this.run(stmt, [], []));
      } catch (err) {
        if (err instanceof NextDbError && this.txnStatus === 'T') this.txnStatus = 'E';
        Object.assign(err as object, { completedResults: out });
        throw err;
      }
    }
    return out;
  }

  private copyIn(rest: readonly string[]): CopyIn {
    let data = '';
    return {
      format: 0,
      columnFormats: [0, 0],
      write: (chunk) => {
        if (chunk.toString().includes('fail')) throw new NextDbError('22P04', 'bad copy data', { detail: 'line 1' });
        data += chunk.toString();
      },
      finish: async () => {
        this.copied.push(data);
        const lines = data.split('\n').filter((l) => l !== '' && l !== '\\.').length;
        return [{ commandTag: `COPY ${lines}` }, ...(await this.runAll(rest))];
      },
      abort: async () => {
        if (this.txnStatus === 'T') this.txnStatus = 'E';
      },
    };
  }

  private async run(
    stmt: string,
    params: readonly (Buffer | null)[],
    formats: readonly FormatCode[],
  ): Promise<StatementResult> {
    const upper = stmt.toUpperCase();
    if (this.txnStatus === 'E' && upper !== 'ROLLBACK' && upper !== 'COMMIT') {
      throw new NextDbError(
        SqlState.inFailedSqlTransaction,
        'current transaction is aborted, commands ignored until end of transaction block',
      );
    }
    const m = /^SELECT (\d+)$/i.exec(stmt);
    if (m !== null) {
      const n = Number(m[1]);
      const f = formats[0] ?? 0;
      return {
        commandTag: `SELECT ${n}`,
        columns: [int4('n')],
        rows: Array.from({ length: n }, (_, i) => [int4Value(i + 1, f)]),
      };
    }
    if (/^ECHO/i.test(stmt))
      return { commandTag: 'SELECT 1', columns: params.map((_, i) => text(`p${i + 1}`)), rows: [params] };
    if (upper === 'BEGIN') {
      this.txnStatus = 'T';
      return { commandTag: 'BEGIN' };
    }
    if (upper === 'COMMIT' || upper === 'ROLLBACK') {
      const tag = this.txnStatus === 'E' ? 'ROLLBACK' : upper;
      this.txnStatus = 'I';
      return { commandTag: tag };
    }
    if (upper === 'FAIL AT RUN') {
      throw Object.assign(new NextDbError(SqlState.divisionByZero, 'division by zero'), { failedColumns: [int4('n')] });
    }
    if (upper === 'FAIL')
      throw new NextDbError(SqlState.divisionByZero, 'division by zero', {
        detail: 'the detail',
        hint: 'the hint',
        position: 3,
      });
    const copyOut = /^COPY OUT (\d+)$/i.exec(stmt);
    if (copyOut !== null) {
      const n = Number(copyOut[1]);
      const chunks = Array.from({ length: n }, (_, i) => Buffer.from(`${i + 1}\trow ${i + 1}\n`));
      return { commandTag: `COPY ${n}`, copyOut: { format: 0, columnFormats: [0, 0], chunks } };
    }
    if (upper === 'NOTICE')
      return { commandTag: 'DO', notices: [{ severity: 'NOTICE', code: '00000', message: 'hello notice' }] };
    const sleep = /^SLEEP (\d+)$/i.exec(stmt);
    if (sleep !== null) {
      this.cancelRequested = false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Number(sleep[1]));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.cancelRequested)
        throw new NextDbError(SqlState.queryCanceled, 'canceling statement due to user request');
      return { commandTag: 'SLEEP' };
    }
    const set = /^SET (\w+) = (.*)$/i.exec(stmt);
    if (set !== null) {
      this.settings.set(set[1]!, set[2]!);
      return { commandTag: 'SET' };
    }
    if (stmt === '') return { commandTag: '' };
    throw new NextDbError(SqlState.syntaxError, `syntax error at or near "${stmt.split(' ')[0]}"`, { position: 1 });
  }

  private columnsOf(sql: string, nParams: number): ColumnDescription[] | undefined {
    if (/^SELECT \d+$/i.test(sql) || /^FAIL AT RUN$/i.test(sql)) return [int4('n')];
    if (/^ECHO/i.test(sql)) return Array.from({ length: nParams }, (_, i) => text(`p${i + 1}`));
    return undefined;
  }

  async prepare(name: string, sql: string, paramTypes: readonly number[]): Promise<PreparedStatementInfo> {
    const stmt = sql.trim().replace(/;$/, '');
    if (
      !/^(SELECT \d+|ECHO.*|BEGIN|COMMIT|ROLLBACK|FAIL|FAIL AT RUN|SLEEP \d+|SET .*|NOTICE|COPY OUT \d+|)$/i.test(stmt)
    ) {
      throw new NextDbError(SqlState.syntaxError, `syntax error at or near "${stmt.split(' ')[0]}"`, { position: 1 });
    }
    if (name !== '' && this.statements.has(name))
      throw new NextDbError('42P05', `prepared statement "${name}" already exists`);
    this.statements.set(name, stmt);
    return this.describeStatement(name, paramTypes.length);
  }

  describeStatement(name: string, n?: number): PreparedStatementInfo {
    const sql = this.statements.get(name);
    if (sql === undefined) throw new NextDbError('26000', `prepared statement "${name}" does not exist`);
    const nParams = n ?? (sql.match(/\$\d+/g) ?? []).length;
    return { paramTypes: Array.from({ length: nParams }, () => 25), columns: this.columnsOf(sql, nParams) };
  }

  bind(
    portal: string,
    statement: string,
    _paramFormats: readonly FormatCode[],
    params: readonly (Buffer | null)[],
    resultFormats: readonly FormatCode[],
  ): void {
    const sql = this.statements.get(statement);
    if (sql === undefined) throw new NextDbError('26000', `prepared statement "${statement}" does not exist`);
    if (this.txnStatus === 'E')
      throw new NextDbError(
        SqlState.inFailedSqlTransaction,
        'current transaction is aborted, commands ignored until end of transaction block',
      );
    this.portals.set(portal, { sql, params, formats: resultFormats, produced: 0 });
  }

  describePortal(portal: string): readonly ColumnDescription[] | undefined {
    const p = this.portals.get(portal);
    if (p === undefined) throw new NextDbError('34000', `portal "${portal}" does not exist`);
    return this.columnsOf(p.sql, p.params.length);
  }

  async execute(portal: string, maxRows: number): Promise<PortalResult> {
    const p = this.portals.get(portal);
    if (p === undefined) throw new NextDbError('34000', `portal "${portal}" does not exist`);
    let r: StatementResult;
    try {
      r = await this.run(p.sql, p.params, p.formats);
    } catch (err) {
      if (this.txnStatus === 'T') this.txnStatus = 'E';
      throw err;
    }
    const rows = r.rows ?? [];
    const end = maxRows > 0 ? Math.min(rows.length, p.produced + maxRows) : rows.length;
    const slice = rows.slice(p.produced, end);
    p.produced = end;
    const suspended = end < rows.length;
    return {
      ...r,
      rows: slice,
      commandTag: /^SELECT/.test(r.commandTag) ? `SELECT ${slice.length}` : r.commandTag,
      suspended,
    };
  }

  closeStatement(name: string): void {
    this.statements.delete(name);
  }

  closePortal(portal: string): void {
    this.portals.delete(portal);
  }

  async sync(): Promise<void> {
    if (this.txnStatus === 'I') this.portals.clear();
  }

  cancel(): void {
    this.cancelRequested = true;
    this.wake?.();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A provider of FakeSessions with an optional role table (for authentication tests). */
export class FakeProvider implements SessionProvider {
  readonly sessions: FakeSession[] = [];
  /** Present only when a role table is given: without it the server has no role catalog. */
  readonly lookupRole?: (name: string) => RoleInfo | undefined;
  constructor(roles?: Map<string, RoleInfo>) {
    if (roles !== undefined) this.lookupRole = (name) => roles.get(name);
  }

  createSession(startup: StartupInfo): FakeSession {
    if (startup.database === 'nosuchdb')
      throw new NextDbError('3D000', `database "${startup.database}" does not exist`);
    const s = new FakeSession(startup);
    this.sessions.push(s);
    return s;
  }
}

/**
 * RemoteSession: the Session contract (src/sql/api.ts) served by another
 * NextDB node over the PostgreSQL protocol — how a cluster node that does
 * not lead runs statements on the leader (cluster-session.ts decides when).
 *
 *   PgConnection ──Session calls──► RemoteSession ──PG v3 messages──► leader's SQL port
 *
 * Each Session call becomes the protocol messages a client would send
 * (Query; Parse/Describe; Bind; Execute; Sync; Close), and the replies are
 * read back into results: rows stay the raw bytes the leader encoded (in the
 * formats the client asked for), errors become NextDbErrors with every
 * field. `bind` and `close*` are synchronous in the contract: their messages
 * go out at once and their replies are read before the next reply that is
 * awaited, so an error of theirs surfaces at the following Execute or Sync.
 *
 * The connection authenticates as the client's user with the startup
 * parameters the client gave, plus `nextdb.forwarded_from=<node id>` (the
 * leader then never forwards again). The leader must trust cluster members
 * (pg-server's trustedAddress hook does that for registered member hosts);
 * a password request fails the connection with 28000.
 *
 * When the socket closes, `lost` becomes true and every pending and later
 * call rejects with a ConnectionLostError saying whether the request had
 * been sent (its outcome is then unknown) or not.
 */

import net from 'node:net';
import type {
  ColumnDescription,
  CopyIn,
  FormatCode,
  Notice,
  PortalResult,
  PreparedStatementInfo,
  Session,
  StatementResult,
  TxnStatus,
} from '../sql/api.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { BackendParser, type BackendMessage } from '../wire/backend-parser.ts';
import { FrontendWriter } from '../wire/frontend-writer.ts';

/** The leader's connection went away; `sent` says whether the failed request had reached the socket. */
export class ConnectionLostError extends NextDbError {
  override name = 'ConnectionLostError';
  constructor(
    readonly address: string,
    readonly sent: boolean,
  ) {
    super(
      sent ? '40003' : '08006',
      sent
        ? `the connection to the leader (${address}) was lost while a statement ran there; whether it completed is unknown`
        : `the connection to the leader (${address}) is closed`,
    );
  }
}

const PROTOCOL_3_0 = 196608;
/** How long connecting to the leader (TCP + startup) may take. */
const CONNECT_TIMEOUT_MS = 5000;

type Waiter = { resolve: (m: BackendMessage) => void; reject: (e: Error) => void };

interface RemoteStatement {
  readonly info: PreparedStatementInfo;
}

export class RemoteSession implements Session {
  private readonly w = new FrontendWriter();
  private readonly parser = new BackendParser();
  private readonly queue: BackendMessage[] = [];
  private waiter: Waiter | undefined;
  private status: TxnStatus = 'I';
  private readonly settings = new Map<string, string>();
  private readonly statements = new Map<string, RemoteStatement>();
  private readonly portals = new Map<string, readonly ColumnDescription[] | undefined>();
  /** Replies still owed for messages sent by synchronous calls (Bind, Close): read before the next awaited reply. */
  private owed = 0;
  /** An error from one of those replies, raised at the next awaited call. */
  private deferredError: NextDbError | undefined;
  private key: { processId: number; secretKey: number } | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  lost = false;

  private constructor(
    private readonly socket: net.Socket,
    readonly address: string,
  ) {
    socket.on('data', (c: Buffer) => {
      this.parser.push(c);
      try {
        for (let m = this.parser.next(); m !== undefined; m = this.parser.next()) this.deliver(m);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.lost = true;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(new ConnectionLostError(address, true));
    });
  }

  /** Connects and authenticates to `address` (host:port) as `startup` describes. */
  static async connect(
    host: string,
    port: number,
    startup: { user: string; database: string; params?: Record<string, string> },
    forwardedFrom: number,
  ): Promise<RemoteSession> {
    const address = `${host}:${port}`;
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionLostError(address, false));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', () => {
        clearTimeout(t);
        reject(new ConnectionLostError(address, false));
      });
    });
    const s = new RemoteSession(socket, address);
    const params: Record<string, string> = {
      ...(startup.params ?? {}),
      user: startup.user,
      database: startup.database,
      'nextdb.forwarded_from': String(forwardedFrom),
    };
    s.send(new FrontendWriter().add({ kind: 'startup', protocolVersion: PROTOCOL_3_0, params }).take());
    try {
      for (;;) {
        const m = await s.next();
        if (m.type === 'R') {
          if (m.code !== 0)
            throw new NextDbError(
              SqlState.invalidAuthorizationSpecification,
              `the leader (${address}) asks this node for a password; cluster members must trust each other (see docs/operating/cluster.md)`,
            );
        } else if (m.type === 'E') throw errorFrom(m.fields);
        else if (m.type === 'K') s.key = { processId: m.processId, secretKey: m.secretKey };
        else if (m.type === 'Z') {
          s.status = m.status as TxnStatus;
          return s;
        }
      }
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  get txnStatus(): TxnStatus {
    return this.status;
  }

  getSetting(name: string): string | undefined {
    return this.settings.get(name);
  }

  // ───────────── simple protocol ─────────────

  simpleQuery(sql: string): Promise<StatementResult[]> {
    return this.exclusive(async () => {
      await this.settle();
      this.send(this.w.add({ kind: 'query', sql }).take());
      return this.readResults();
    });
  }

  /** Reads one simple query's replies up to ReadyForQuery (or a COPY's start). */
  private async readResults(): Promise<StatementResult[]> {
    const results: StatementResult[] = [];
    let columns: ColumnDescription[] | undefined;
    let rows: (Buffer | null)[][] | undefined;
    let notices: Notice[] | undefined;
    let error: NextDbError | undefined;
    for (;;) {
      const m = await this.next();
      switch (m.type) {
        case 'T':
          columns = m.fields.map(columnOf);
          rows = [];
          break;
        case 'D':
          (rows ??= []).push(m.values as (Buffer | null)[]);
          break;
        case 'N':
          (notices ??= []).push(noticeFrom(m.fields));
          break;
        case 'C':
          results.push({
            commandTag: m.tag,
            ...(columns === undefined ? {} : { columns, rows: rows ?? [] }),
            ...(notices === undefined ? {} : { notices }),
          });
          columns = undefined;
          rows = undefined;
          notices = undefined;
          break;
        case 'I':
          break;
        case 'E':
          error = errorFrom(m.fields);
          break;
        case 'G': {
          // COPY FROM STDIN: hand the rest to the caller through a CopyIn.
          results.push({
            commandTag: 'COPY',
            copyIn: this.copyIn(m.format as FormatCode, m.columnFormats as FormatCode[]),
          });
          return results;
        }
        case 'H': {
          const chunks: Buffer[] = [];
          for (let d = await this.next(); d.type !== 'c'; d = await this.next()) {
            if (d.type === 'd') chunks.push(d.data);
            else if (d.type === 'E') throw errorFrom(d.fields);
          }
          const done = await this.next();
          results.push({
            commandTag: done.type === 'C' ? done.tag : 'COPY',
            copyOut: { format: m.format as FormatCode, columnFormats: m.columnFormats as FormatCode[], chunks },
          });
          break;
        }
        case 'Z':
          this.status = m.status as TxnStatus;
          if (error !== undefined) throw Object.assign(error, { completedResults: results });
          return results;
        default:
          break;
      }
    }
  }

  private copyIn(format: FormatCode, columnFormats: FormatCode[]): CopyIn {
    return {
      format,
      columnFormats,
      write: (data) => {
        this.send(this.w.add({ kind: 'copyData', data }).take());
      },
      finish: () => {
        this.send(this.w.add({ kind: 'copyDone' }).take());
        return this.readResults();
      },
      abort: async (reason) => {
        this.send(this.w.add({ kind: 'copyFail', message: reason }).take());
        await this.readResults().catch(() => undefined);
      },
    };
  }

  // ───────────── extended protocol ─────────────

  prepare(name: string, sql: string, paramTypes: readonly number[]): Promise<PreparedStatementInfo> {
    return this.exclusive(async () => {
      await this.settle();
      this.send(
        this.w
          .add({ kind: 'parse', name, sql, paramTypes })
          .add({ kind: 'describe', target: 'S', name })
          .add({ kind: 'flush' })
          .take(),
      );
      let params: readonly number[] = [];
      let columns: ColumnDescription[] | undefined;
      for (;;) {
        const m = await this.next();
        if (m.type === 'E') throw errorFrom(m.fields); // the leader now skips to Sync, as our client's server does
        if (m.type === 't') params = m.typeOids;
        else if (m.type === 'T') {
          columns = m.fields.map(columnOf);
          break;
        } else if (m.type === 'n') break;
      }
      const info: PreparedStatementInfo = { paramTypes: params, columns };
      this.statements.set(name, { info });
      return info;
    });
  }

  describeStatement(name: string): PreparedStatementInfo {
    const s = this.statements.get(name);
    if (s === undefined) throw new NextDbError('26000', `prepared statement "${name}" does not exist`);
    return s.info;
  }

  bind(
    portal: string,
    statement: string,
    paramFormats: readonly FormatCode[],
    params: readonly (Buffer | null)[],
    resultFormats: readonly FormatCode[],
  ): void {
    const s = this.statements.get(statement);
    if (s === undefined) throw new NextDbError('26000', `prepared statement "${statement}" does not exist`);
    if (this.lost) throw new ConnectionLostError(this.address, false);
    this.send(this.w.add({ kind: 'bind', portal, statement, paramFormats, params, resultFormats }).take());
    this.owed++;
    this.portals.set(portal, s.info.columns);
  }

  describePortal(portal: string): readonly ColumnDescription[] | undefined {
    if (!this.portals.has(portal)) throw new NextDbError('34000', `portal "${portal}" does not exist`);
    return this.portals.get(portal);
  }

  execute(portal: string, maxRows: number): Promise<PortalResult> {
    return this.exclusive(async () => {
      await this.settle();
      this.send(this.w.add({ kind: 'execute', portal, maxRows }).add({ kind: 'flush' }).take());
      const rows: (Buffer | null)[][] = [];
      let notices: Notice[] | undefined;
      for (;;) {
        const m = await this.next();
        if (m.type === 'D') rows.push(m.values as (Buffer | null)[]);
        else if (m.type === 'N') (notices ??= []).push(noticeFrom(m.fields));
        else if (m.type === 'E') throw errorFrom(m.fields);
        else if (m.type === 'C' || m.type === 's' || m.type === 'I') {
          const columns = this.portals.get(portal);
          return {
            commandTag: m.type === 'C' ? m.tag : '',
            ...(columns === undefined ? {} : { columns, rows }),
            ...(notices === undefined ? {} : { notices }),
            suspended: m.type === 's',
          };
        } else if (m.type === 'G' || m.type === 'H') {
          throw new NextDbError(
            SqlState.featureNotSupported,
            'COPY through the extended protocol on a node that forwards to the leader is not supported; use the simple protocol',
          );
        }
      }
    });
  }

  closeStatement(name: string): void {
    this.statements.delete(name);
    this.closeRemote('S', name);
  }

  closePortal(portal: string): void {
    this.portals.delete(portal);
    this.closeRemote('P', portal);
  }

  private closeRemote(target: 'S' | 'P', name: string): void {
    if (this.lost) return;
    this.send(this.w.add({ kind: 'close', target, name }).take());
    this.owed++;
  }

  sync(): Promise<void> {
    return this.exclusive(async () => {
      this.send(this.w.add({ kind: 'sync' }).take());
      this.owed = 0; // everything before Sync is answered (or skipped) before its ReadyForQuery
      this.deferredError = undefined;
      let error: NextDbError | undefined;
      for (;;) {
        const m = await this.next();
        if (m.type === 'E') error ??= errorFrom(m.fields);
        else if (m.type === 'Z') {
          this.status = m.status as TxnStatus;
          if (this.status === 'I') this.portals.clear();
          if (error !== undefined) throw error;
          return;
        }
      }
    });
  }

  cancel(): void {
    const key = this.key;
    if (key === undefined || this.lost) return;
    const [host, port] = splitAddress(this.address);
    const c = net.connect({ host, port }, () => {
      c.end(
        new FrontendWriter().add({ kind: 'cancelRequest', processId: key.processId, secretKey: key.secretKey }).take(),
      );
    });
    c.on('error', () => undefined);
  }

  async close(): Promise<void> {
    if (!this.lost) {
      this.socket.end(this.w.add({ kind: 'terminate' }).take());
      this.lost = true;
    }
    this.socket.destroy();
    return Promise.resolve();
  }

  // ───────────── plumbing ─────────────

  /** Runs `fn` after every earlier call finished (the protocol is strictly request/response in order). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(() => {
      if (this.lost) throw new ConnectionLostError(this.address, false);
      return fn();
    });
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** Reads the replies owed to synchronous calls; their first error is raised here. */
  private async settle(): Promise<void> {
    while (this.owed > 0) {
      const m = await this.next();
      if (m.type === '2' || m.type === '3') this.owed--;
      else if (m.type === 'E') {
        // The leader now skips everything up to Sync: nothing more is owed.
        this.owed = 0;
        this.deferredError = errorFrom(m.fields);
      }
    }
    const e = this.deferredError;
    if (e !== undefined) {
      this.deferredError = undefined;
      throw e;
    }
  }

  private send(data: Buffer): void {
    if (this.lost) throw new ConnectionLostError(this.address, false);
    this.socket.write(data);
  }

  private deliver(m: BackendMessage): void {
    if (m.type === 'S') {
      this.settings.set(m.name, m.value);
      return;
    }
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve(m);
    } else this.queue.push(m);
  }

  private next(): Promise<BackendMessage> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.lost) return Promise.reject(new ConnectionLostError(this.address, true));
    return new Promise<BackendMessage>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}

function columnOf(f: ColumnDescription): ColumnDescription {
  return {
    name: f.name,
    tableOid: f.tableOid,
    columnAttr: f.columnAttr,
    typeOid: f.typeOid,
    typeSize: f.typeSize,
    typeMod: f.typeMod,
  };
}

function errorFrom(f: Readonly<Record<string, string>>): NextDbError {
  const pos = f.P === undefined ? undefined : Number(f.P);
  return new NextDbError(f.C ?? SqlState.internalError, f.M ?? 'error on the leader', {
    ...(f.D === undefined ? {} : { detail: f.D }),
    ...(f.H === undefined ? {} : { hint: f.H }),
    ...(pos === undefined || !Number.isFinite(pos) ? {} : { position: pos }),
    ...(f.W === undefined ? {} : { where: f.W }),
    ...(f.s === undefined ? {} : { schema: f.s }),
    ...(f.t === undefined ? {} : { table: f.t }),
    ...(f.c === undefined ? {} : { column: f.c }),
    ...(f.n === undefined ? {} : { constraint: f.n }),
  });
}

function noticeFrom(f: Readonly<Record<string, string>>): Notice {
  const sev = f.V ?? f.S ?? 'NOTICE';
  const severity: Notice['severity'] =
    sev === 'WARNING' || sev === 'INFO' || sev === 'DEBUG' || sev === 'LOG' ? sev : 'NOTICE';
  return {
    severity,
    code: f.C ?? '00000',
    message: f.M ?? '',
    ...(f.D === undefined ? {} : { detail: f.D }),
    ...(f.H === undefined ? {} : { hint: f.H }),
  };
}

function splitAddress(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))];
}

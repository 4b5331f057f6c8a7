/**
 * PgConnection: the state machine of one PostgreSQL protocol connection.
 *
 *   startup ──SSLRequest──► 'S'/'N' (TLS upgrade) ──► startup
 *      │ ──GSSENCRequest──► 'N'
 *      │ ──CancelRequest──► cancel the matching session, close
 *      ▼ StartupMessage
 *   authenticating (trust | cleartext | md5 | SCRAM-SHA-256 rounds)
 *      ▼ AuthenticationOk, ParameterStatus…, BackendKeyData, ReadyForQuery
 *   ready ◄──────────────────────────────────────────────┐
 *      Query ─► results… ReadyForQuery ──────────────────┤
 *      Parse/Bind/Describe/Execute/Close/Flush ─► replies│
 *      (error ─► ErrorResponse, discard until Sync)      │
 *      Sync ─► ReadyForQuery(txnStatus) ─────────────────┘
 *      Terminate / EOF / protocol error ─► closed
 *
 * Messages are handled strictly one at a time in arrival order (a pump
 * drains the parser, awaiting the session between messages), so pipelined
 * clients get replies in order. Replies accumulate in one BackendWriter and
 * leave in one write at each ReadyForQuery, Flush, authentication step,
 * or when the batch grows past `flushBytes`, so one round trip costs one
 * write.
 *
 * Any framing error or protocol violation gets a FATAL ErrorResponse (when
 * the protocol allows one) and closes this connection only. An exception
 * that is not a NextDbError is a bug: it is logged and reported as XX000.
 */

import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type {
  CopyIn,
  FormatCode,
  PartialResultsCarrier,
  PortalResult,
  RoleInfo,
  Session,
  StatementResult,
} from '../sql/api.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { assertNever } from '../util/assert.ts';
import { BackendWriter, type ErrorNoticeFields } from '../wire/backend-writer.ts';
import { FrontendParser } from '../wire/frontend-parser.ts';
import { type FrontendMessage, parsePasswordMessage, parseSaslInitialResponse } from '../wire/frontend-messages.ts';
import { ProtocolError } from '../wire/protocol-error.ts';
import {
  ScramServerExchange,
  checkPassword,
  md5ExpectedResponse,
  constantTimeEqual,
  scramMechanism,
  scramSecretFor,
} from '../wire/password-auth.ts';
import type { ConnectionRegistry, RegisteredConnection } from './connection-registry.ts';
import type {
  AuthConfig,
  AuthMethod,
  Logger,
  QueryObserver,
  ServerLimits,
  SessionProvider,
  Transport,
} from './server-types.ts';

/** Batches larger than this are written before the next ReadyForQuery (large results). */
const flushBytes = 64 * 1024;
/** Buffered input beyond which reading pauses while a message is being handled. */
const inputHighWaterBytes = 1024 * 1024;

/** The parameters PostgreSQL 15 reports at startup (and again when they change). */
export const reportedParameters = [
  'application_name',
  'client_encoding',
  'DateStyle',
  'default_transaction_read_only',
  'in_hot_standby',
  'integer_datetimes',
  'IntervalStyle',
  'is_superuser',
  'server_encoding',
  'server_version',
  'session_authorization',
  'standard_conforming_strings',
  'TimeZone',
] as const;

export const defaultServerVersion = '15.0 (NextDB 0.1.0)';

/** Values used when the session does not know a reported setting. */
const parameterDefaults: Readonly<Record<string, string>> = {
  application_name: '',
  client_encoding: 'UTF8',
  DateStyle: 'ISO, MDY',
  default_transaction_read_only: 'off',
  in_hot_standby: 'off',
  integer_datetimes: 'on',
  IntervalStyle: 'postgres',
  server_encoding: 'UTF8',
  server_version: defaultServerVersion,
  standard_conforming_strings: 'on',
  TimeZone: 'Etc/UTC',
};

/** Everything a connection shares with the rest of the server. */
export interface ConnectionContext {
  readonly provider: SessionProvider;
  readonly registry: ConnectionRegistry;
  readonly limits: ServerLimits;
  readonly auth: AuthConfig;
  readonly logger: Logger;
  readonly observeQuery: QueryObserver;
  /** Counts failed logins and protocol violations (metrics). */
  readonly onAuthFailure?: () => void;
  readonly onProtocolError?: () => void;
  /** Called once when the connection has ended (for metrics). */
  readonly onClosed?: (c: PgConnection) => void;
}

type State =
  | { readonly kind: 'startup' }
  | { readonly kind: 'tls' }
  | { readonly kind: 'auth-password'; readonly method: 'password' | 'md5'; readonly salt: Buffer }
  | { readonly kind: 'auth-sasl-initial' }
  | { readonly kind: 'auth-sasl-final'; readonly exchange: ScramServerExchange }
  | { readonly kind: 'ready' }
  /** COPY FROM STDIN: CopyData flows into `copy` until CopyDone/CopyFail. `simple` says whether ReadyForQuery follows. */
  | { readonly kind: 'copy-in'; readonly copy: CopyIn; readonly simple: boolean }
  | { readonly kind: 'closed' };

const textFormats: readonly FormatCode[] = [];

export class PgConnection {
  private readonly parser: FrontendParser;
  private readonly out = new BackendWriter();
  private state: State = { kind: 'startup' };
  private session: Session | undefined;
  private pumping = false;
  private skipToSync = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private user = '';
  private database = '';
  private role: RoleInfo | undefined;
  private startupParams: Record<string, string> = {};
  /** Result formats per portal, from Bind, for Describe(portal). */
  private readonly portalFormats = new Map<string, readonly FormatCode[]>();
  /** Last reported value of each ParameterStatus, to report changes. */
  private readonly reported = new Map<string, string>();
  /** The session's settingsVersion when `reported` was last brought up to date (undefined: the session has none). */
  private reportedVersion: number | undefined;
  private registration: RegisteredConnection | undefined;
  private closedNotified = false;

  private authTimer: NodeJS.Timeout | undefined;
  private inputPaused = false;

  constructor(
    private readonly transport: Transport,
    private readonly ctx: ConnectionContext,
  ) {
    this.parser = new FrontendParser({ maxMessageBytes: ctx.limits.maxMessageBytes });
    this.authTimer = setTimeout(() => {
      this.ctx.logger.info(
        { remote: transport.remoteAddress },
        'closing connection: startup not completed within the authentication timeout',
      );
      this.terminate(SqlState.protocolViolation, 'canceling authentication due to timeout');
    }, ctx.limits.authenticationTimeoutMs);
    this.authTimer.unref();
  }

  get closed(): boolean {
    return this.state.kind === 'closed';
  }

  /** Bytes from the client. */
  onData(chunk: Buffer): void {
    if (this.state.kind === 'closed') return;
    this.clearIdleTimer();
    this.parser.push(chunk);
    // While a statement runs, a client may keep sending; hold its input once a full message's worth is waiting.
    if (this.pumping && !this.inputPaused && this.parser.bufferedBytes > inputHighWaterBytes) {
      this.inputPaused = true;
      this.transport.pause();
    }
    void this.pump();
  }

  /** The peer closed or the socket failed. */
  onEnd(): void {
    this.shutdown();
  }

  /** Ends the connection from the server side with a FATAL message (shutdown, timeouts). */
  terminate(code: string, message: string): void {
    if (this.state.kind === 'closed') return;
    this.out.errorResponse({ severity: 'FATAL', code, message });
    this.flush();
    this.shutdown();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state.kind !== 'closed' && this.state.kind !== 'tls') {
        let msg: FrontendMessage | undefined;
        try {
          msg = this.parser.next();
        } catch (err) {
          this.fatal(err);
          break;
        }
        if (msg === undefined) break;
        try {
          const pending = this.handle(msg);
          if (pending !== undefined) await pending;
        } catch (err) {
          // Errors inside handlers are reported there; reaching here is a bug or a FATAL condition.
          this.fatal(err);
        }
      }
    } finally {
      this.pumping = false;
      if (this.inputPaused && this.state.kind !== 'closed') {
        this.inputPaused = false;
        this.transport.resume();
      }
      if (this.state.kind !== 'closed') {
        this.flush();
        this.armIdleTimer();
      }
    }
  }

  private handle(msg: FrontendMessage): Promise<void> | undefined {
    switch (this.state.kind) {
      case 'startup':
        return this.handleStartup(msg);
      case 'auth-password':
      case 'auth-sasl-initial':
      case 'auth-sasl-final':
        return this.handleAuth(msg);
      case 'ready':
        return this.handleReady(msg);
      case 'copy-in':
        return this.handleCopyIn(this.state, msg);
      case 'tls':
      case 'closed':
        return undefined;
      default:
        assertNever(this.state, 'connection state');
    }
  }

  // ---------------------------------------------------------------- startup

  private async handleStartup(msg: FrontendMessage): Promise<void> {
    switch (msg.kind) {
      case 'sslRequest': {
        // Bytes after SSLRequest but before the handshake would be read as plaintext: refuse them.
        if (this.parser.bufferedBytes > 0) throw new ProtocolError('received unencrypted data after SSL request');
        const startTls = this.transport.encrypted ? undefined : this.transport.startTls;
        this.out.sslResponse(startTls !== undefined);
        this.flush();
        if (startTls === undefined) return;
        this.state = { kind: 'tls' };
        try {
          await startTls();
        } catch (err) {
          this.ctx.logger.info({ err: errorText(err), remote: this.transport.remoteAddress }, 'TLS handshake failed');
          this.shutdown();
          return;
        }
        if (this.state.kind === 'tls') this.state = { kind: 'startup' };
        return;
      }
      case 'gssEncRequest':
        this.out.sslResponse(false);
        this.flush();
        return;
      case 'cancelRequest':
        // PostgreSQL never answers a CancelRequest; the requester just sees the connection close.
        this.ctx.registry.cancel(msg.processId, msg.secretKey);
        this.shutdown();
        return;
      case 'startup':
        return this.startup(msg.protocolVersion, msg.params);
      default:
        throw new ProtocolError(`unexpected ${msg.kind} message during startup`);
    }
  }

  private async startup(protocolVersion: number, params: Readonly<Record<string, string>>): Promise<void> {
    const user = params.user;
    if (user === undefined || user === '') {
      throw new NextDbError(
        SqlState.invalidAuthorizationSpecification,
        'no PostgreSQL user name specified in startup packet',
        { severity: 'FATAL' },
      );
    }
    this.user = user;
    this.database = params.database ?? user;
    const unrecognized: string[] = [];
    const sessionParams: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) {
      if (k.startsWith('_pq_.')) unrecognized.push(k);
      else if (k === 'options') Object.assign(sessionParams, parseOptions(v));
      else if (k !== 'user' && k !== 'database') sessionParams[k] = v;
    }
    this.startupParams = sessionParams;
    if ((protocolVersion & 0xffff) !== 0 || unrecognized.length > 0) this.out.negotiateProtocolVersion(0, unrecognized);

    if (this.ctx.registry.size >= this.ctx.limits.maxConnections) {
      throw new NextDbError('53300', 'sorry, too many clients already', { severity: 'FATAL' });
    }
    this.role = this.ctx.provider.lookupRole === undefined ? undefined : await this.ctx.provider.lookupRole(user);
    const method: AuthMethod = this.transport.isLoopback ? this.ctx.auth.local : this.ctx.auth.remote;
    switch (method) {
      case 'trust':
        if (this.ctx.provider.lookupRole !== undefined && this.role === undefined) {
          throw new NextDbError(SqlState.invalidAuthorizationSpecification, `role "${user}" does not exist`, {
            severity: 'FATAL',
          });
        }
        return this.authenticated();
      case 'password':
        this.state = { kind: 'auth-password', method: 'password', salt: Buffer.alloc(0) };
        this.out.authenticationCleartextPassword();
        return;
      case 'md5': {
        const salt = randomBytes(4);
        this.state = { kind: 'auth-password', method: 'md5', salt };
        this.out.authenticationMd5Password(salt);
        return;
      }
      case 'scram-sha-256':
        this.state = { kind: 'auth-sasl-initial' };
        this.out.authenticationSasl([scramMechanism]);
        return;
      default:
        assertNever(method, 'auth method');
    }
  }

  /** The stored secret for the login role, or undefined when it has none. */
  private storedSecret(): string | undefined {
    const role = this.role;
    if (role !== undefined && role.password !== null) return role.password;
    const boot = this.ctx.auth.superuserPassword;
    if (boot !== undefined && this.user === 'postgres' && (role === undefined || role.superuser)) return boot;
    return undefined;
  }

  private authFailed(): NextDbError {
    this.ctx.onAuthFailure?.();
    this.ctx.logger.info({ user: this.user, remote: this.transport.remoteAddress }, 'password authentication failed');
    return new NextDbError(SqlState.invalidPassword, `password authentication failed for user "${this.user}"`, {
      severity: 'FATAL',
    });
  }

  private async handleAuth(msg: FrontendMessage): Promise<void> {
    if (msg.kind !== 'password') throw new ProtocolError(`expected password response, got ${msg.kind} message`);
    const state = this.state;
    const stored = this.storedSecret();
    switch (state.kind) {
      case 'auth-password': {
        const answer = parsePasswordMessage(msg.data);
        let ok = false;
        if (stored !== undefined) {
          if (state.method === 'password') ok = checkPassword(stored, this.user, answer);
          else {
            const expected = md5ExpectedResponse(stored, this.user, state.salt);
            ok = expected !== undefined && constantTimeEqual(expected, answer);
          }
        }
        if (!ok) throw this.authFailed();
        return this.authenticated();
      }
      case 'auth-sasl-initial': {
        const initial = parseSaslInitialResponse(msg.data);
        if (initial.mechanism !== scramMechanism)
          throw new ProtocolError(`client selected an invalid SASL authentication mechanism`);
        if (initial.data === null) throw new ProtocolError('SASL initial response is missing');
        // A role without a usable secret still gets a full exchange with a dummy secret, so the failure looks the same.
        const secret =
          (stored === undefined ? undefined : scramSecretFor(stored)) ??
          scramSecretFor(randomBytes(16).toString('hex'))!;
        const exchange = new ScramServerExchange(secret);
        this.out.authenticationSaslContinue(exchange.clientFirst(initial.data));
        this.state = { kind: 'auth-sasl-final', exchange };
        return;
      }
      case 'auth-sasl-final': {
        const final = state.exchange.clientFinal(msg.data);
        if (final === undefined || stored === undefined) throw this.authFailed();
        this.out.authenticationSaslFinal(final);
        return this.authenticated();
      }
      default:
        throw new ProtocolError('unexpected password message');
    }
  }

  private async authenticated(): Promise<void> {
    if (this.role !== undefined && !this.role.canLogin) {
      throw new NextDbError(
        SqlState.invalidAuthorizationSpecification,
        `role "${this.user}" is not permitted to log in`,
        { severity: 'FATAL' },
      );
    }
    let session: Session;
    try {
      session = await this.ctx.provider.createSession({
        user: this.user,
        database: this.database,
        params: this.startupParams,
      });
    } catch (err) {
      throw asFatal(err);
    }
    if (this.state.kind === 'closed') {
      await session.close();
      return;
    }
    this.session = session;
    session.onTerminate = (message) => this.terminate(SqlState.adminShutdown, message);
    const key = this.ctx.registry.allocateKey(session.backendPid);
    const reg: RegisteredConnection = {
      processId: key.processId,
      secretKey: key.secretKey,
      remoteAddress: this.transport.remoteAddress,
      connectedAtMs: Date.now(),
      user: this.user,
      database: this.database,
      applicationName: this.startupParams.application_name ?? '',
      state: 'idle',
      currentQuery: undefined,
      queryStartedAtMs: undefined,
      cancel: () => session.cancel(),
      terminate: (reason) => this.terminate(SqlState.adminShutdown, reason),
    };
    this.registration = reg;
    this.ctx.registry.add(reg);
    this.state = { kind: 'ready' };
    clearTimeout(this.authTimer);
    this.out.authenticationOk();
    this.reportedVersion = session.settingsVersion;
    for (const name of reportedParameters) {
      const value = this.parameterValue(name);
      this.reported.set(name, value);
      this.out.parameterStatus(name, value);
    }
    this.out.backendKeyData(key.processId, key.secretKey);
    this.out.readyForQuery(session.txnStatus);
    this.flush();
  }

  private parameterValue(name: string): string {
    const v = this.session?.getSetting(name);
    if (v !== undefined) return v;
    switch (name) {
      case 'is_superuser':
        return this.role === undefined || this.role.superuser ? 'on' : 'off';
      case 'session_authorization':
        return this.user;
      case 'application_name':
        return this.startupParams.application_name ?? '';
      case 'client_encoding':
        return this.startupParams.client_encoding ?? 'UTF8';
      default:
        return parameterDefaults[name] ?? '';
    }
  }

  /** Sends ParameterStatus for reported settings that changed (after SET/RESET, and COMMIT/ROLLBACK for SET LOCAL). */
  private reportChangedParameters(): void {
    // Unchanged settings version: nothing to look at (every COMMIT and ROLLBACK comes here).
    const version = this.session?.settingsVersion;
    if (version !== undefined && version === this.reportedVersion) return;
    this.reportedVersion = version;
    for (const name of reportedParameters) {
      const value = this.parameterValue(name);
      if (this.reported.get(name) !== value) {
        this.reported.set(name, value);
        this.out.parameterStatus(name, value);
      }
    }
  }

  // ------------------------------------------------------------------ ready

  /**
   * The ready state. Returns a Promise only for steps that wait on the
   * session (Query, Parse, Execute, Sync, COPY); Bind, Describe and Close run
   * synchronously, which spares a promise and a microtask per message on the
   * hot extended-protocol path.
   */
  private handleReady(msg: FrontendMessage): Promise<void> | undefined {
    const session = this.session!;
    if (this.skipToSync && msg.kind !== 'sync' && msg.kind !== 'terminate') return undefined;
    switch (msg.kind) {
      case 'query':
        return this.simpleQuery(session, msg.sql);
      case 'parse':
        return this.parse(session, msg.name, msg.sql, msg.paramTypes);
      case 'bind':
        try {
          session.bind(msg.portal, msg.statement, msg.paramFormats, msg.params, msg.resultFormats);
          // All-text results (no format codes) need no entry unless one of an earlier Bind must be replaced.
          if (msg.resultFormats.length > 0 || this.portalFormats.size > 0)
            this.portalFormats.set(msg.portal, msg.resultFormats);
          this.out.bindComplete();
        } catch (err) {
          this.extendedError(err);
        }
        return undefined;
      case 'describe':
        try {
          if (msg.target === 'S') {
            const info = session.describeStatement(msg.name);
            this.out.parameterDescription(info.paramTypes);
            if (info.columns === undefined) this.out.noData();
            else this.out.rowDescription(info.columns);
          } else {
            const columns = session.describePortal(msg.name);
            if (columns === undefined) this.out.noData();
            else this.out.rowDescription(columns, this.portalFormats.get(msg.name) ?? textFormats);
          }
        } catch (err) {
          this.extendedError(err);
        }
        return undefined;
      case 'execute':
        return this.execute(session, msg.portal, msg.maxRows);
      case 'close':
        try {
          if (msg.target === 'S') session.closeStatement(msg.name);
          else {
            session.closePortal(msg.name);
            this.portalFormats.delete(msg.name);
          }
          this.out.closeComplete();
        } catch (err) {
          this.extendedError(err);
        }
        return undefined;
      case 'sync':
        return this.sync(session);
      case 'flush':
        this.flush();
        return undefined;
      case 'terminate':
        this.shutdown();
        return undefined;
      case 'copyData':
      case 'copyDone':
      case 'copyFail':
        // PostgreSQL ignores these outside COPY: they are the tail of a COPY that already failed.
        return undefined;
      case 'functionCall':
        this.writeError(new NextDbError(SqlState.featureNotSupported, 'fast-path function calls are not supported'));
        this.out.readyForQuery(session.txnStatus);
        this.flush();
        return undefined;
      case 'password':
        throw new ProtocolError('unexpected password message');
      case 'startup':
      case 'sslRequest':
      case 'gssEncRequest':
      case 'cancelRequest':
        throw new ProtocolError(`unexpected ${msg.kind} message`);
      default:
        assertNever(msg, 'frontend message');
    }
  }

  /** An error in an extended-protocol step: report it and skip the rest of the cycle until Sync. FATAL errors end the connection. */
  private extendedError(err: unknown): void {
    if (isFatal(err)) throw err;
    this.writeError(err);
    this.skipToSync = true;
  }

  private async parse(session: Session, name: string, sql: string, paramTypes: readonly number[]): Promise<void> {
    this.beginQuery(sql);
    try {
      await session.prepare(name, sql, paramTypes);
      this.out.parseComplete();
    } catch (err) {
      this.extendedError(err);
    }
  }

  /**
   * Execute. A statement the session answers at once (Session.executeNow: a prepared point read, a constant
   * SELECT) is written without a promise, so a Bind/Execute/Sync round trip runs in one synchronous pass.
   */
  private execute(session: Session, portal: string, maxRows: number): Promise<void> | undefined {
    const started = performance.now();
    this.markActive(started);
    try {
      const now = session.executeNow?.(portal, maxRows);
      if (now === undefined) return this.executeLater(session, portal, maxRows, started);
      this.executed(now, started);
    } catch (err) {
      this.executeFailed(err, started);
    }
    return undefined;
  }

  private async executeLater(session: Session, portal: string, maxRows: number, started: number): Promise<void> {
    try {
      this.executed(await session.execute(portal, maxRows), started);
    } catch (err) {
      this.executeFailed(err, started);
    }
  }

  private executed(result: PortalResult, started: number): void {
    if (result.copyIn !== undefined) this.startCopyIn(result.copyIn, false);
    else this.writeResult(result, false, result.suspended);
    this.observe(queryKind(result.commandTag), (performance.now() - started) / 1000);
    if (isSettingCommand(result.commandTag)) this.reportChangedParameters();
    if (this.out.length >= flushBytes) this.flush();
  }

  private executeFailed(err: unknown, started: number): void {
    this.observe('error', (performance.now() - started) / 1000);
    this.extendedError(err);
    if (this.out.length >= flushBytes) this.flush();
  }

  /** Sync: ReadyForQuery at once when the session closes the cycle without waiting (Session.sync returns undefined). */
  private sync(session: Session): Promise<void> | undefined {
    this.skipToSync = false;
    let pending: Promise<void> | undefined;
    try {
      pending = session.sync();
    } catch (err) {
      this.syncFailed(err);
    }
    if (pending === undefined) {
      this.synced(session);
      return undefined;
    }
    return pending.then(
      () => this.synced(session),
      (err: unknown) => {
        this.syncFailed(err);
        this.synced(session);
      },
    );
  }

  private syncFailed(err: unknown): void {
    if (isFatal(err)) throw err;
    this.writeError(err);
  }

  private synced(session: Session): void {
    if (session.txnStatus === 'I' && this.portalFormats.size > 0) this.portalFormats.clear();
    this.markIdle(session);
    this.out.readyForQuery(session.txnStatus);
    this.flush();
  }

  private async simpleQuery(session: Session, sql: string): Promise<void> {
    const started = performance.now();
    this.beginQuery(sql);
    this.markActive(started);
    let results: readonly StatementResult[] = [];
    let failure: unknown;
    try {
      results = await session.simpleQuery(sql);
    } catch (err) {
      if (isFatal(err)) throw err;
      failure = err;
      results = (err as PartialResultsCarrier | null)?.completedResults ?? [];
    }
    if (failure === undefined && results.length === 0) this.out.emptyQueryResponse();
    const copy = this.writeResults(results);
    if (failure !== undefined) {
      const columns = (failure as PartialResultsCarrier | null)?.failedColumns;
      if (columns !== undefined && copy === undefined) this.out.rowDescription(columns);
      this.writeError(failure);
    }
    const seconds = (performance.now() - started) / 1000;
    this.observe(failure !== undefined ? 'error' : queryKind(results[results.length - 1]?.commandTag ?? ''), seconds);
    if (copy !== undefined && failure === undefined) {
      this.startCopyIn(copy, true);
      return;
    }
    this.endSimpleQuery(session);
  }

  /** Writes a simple query's results; returns the COPY FROM STDIN that the last one starts, if any. */
  private writeResults(results: readonly StatementResult[]): CopyIn | undefined {
    let setting = false;
    let copy: CopyIn | undefined;
    for (const r of results) {
      if (r.copyIn !== undefined) {
        copy = r.copyIn;
        break;
      }
      this.writeResult(r, true, false);
      if (isSettingCommand(r.commandTag)) setting = true;
    }
    if (setting) this.reportChangedParameters();
    return copy;
  }

  private endSimpleQuery(session: Session): void {
    this.markIdle(session);
    this.out.readyForQuery(session.txnStatus);
    this.flush();
  }

  // ------------------------------------------------------------------- COPY

  private startCopyIn(copy: CopyIn, simple: boolean): void {
    this.out.copyInResponse(copy.format, copy.columnFormats);
    this.flush();
    this.state = { kind: 'copy-in', copy, simple };
  }

  private async handleCopyIn(
    state: { readonly copy: CopyIn; readonly simple: boolean },
    msg: FrontendMessage,
  ): Promise<void> {
    const session = this.session!;
    if (msg.kind === 'copyData') {
      try {
        await state.copy.write(msg.data);
        return;
      } catch (err) {
        if (isFatal(err)) throw err;
        // The COPY failed: report now; the client's remaining CopyData/CopyDone are ignored in the ready state.
        await state.copy.abort(errorText(err)).catch(() => undefined);
        return this.endCopyIn(state, session, err, []);
      }
    }
    if (msg.kind === 'flush' || msg.kind === 'sync') return; // PostgreSQL ignores both during COPY IN.
    if (msg.kind === 'terminate') {
      await state.copy.abort('connection terminated').catch(() => undefined);
      this.shutdown();
      return;
    }
    if (msg.kind === 'copyDone') {
      let results: readonly StatementResult[] = [];
      let failure: unknown;
      try {
        results = await state.copy.finish();
      } catch (err) {
        if (isFatal(err)) throw err;
        failure = err;
        results = (err as PartialResultsCarrier | null)?.completedResults ?? [];
      }
      return this.endCopyIn(state, session, failure, results);
    }
    const reason =
      msg.kind === 'copyFail'
        ? `COPY from stdin failed: ${msg.message}`
        : `unexpected ${msg.kind} message during COPY from stdin`;
    await state.copy.abort(reason).catch(() => undefined);
    const err =
      msg.kind === 'copyFail'
        ? new NextDbError(SqlState.queryCanceled, reason)
        : new NextDbError(SqlState.protocolViolation, reason);
    return this.endCopyIn(state, session, err, []);
  }

  private endCopyIn(
    state: { readonly simple: boolean },
    session: Session,
    failure: unknown,
    results: readonly StatementResult[],
  ): void {
    this.state = { kind: 'ready' };
    const copy = this.writeResults(results);
    if (failure !== undefined) this.writeError(failure);
    this.observe(failure === undefined ? 'copy' : 'error', 0);
    if (copy !== undefined && failure === undefined) {
      this.startCopyIn(copy, state.simple);
      return;
    }
    if (state.simple) this.endSimpleQuery(session);
    else if (failure !== undefined) this.skipToSync = true;
  }

  private writeResult(r: StatementResult, describe: boolean, suspended: boolean): void {
    const out = this.out;
    if (r.notices !== undefined) for (const n of r.notices) out.noticeResponse(n);
    if (r.copyOut !== undefined) {
      out.copyOutResponse(r.copyOut.format, r.copyOut.columnFormats);
      for (const chunk of r.copyOut.chunks) {
        out.copyData(chunk);
        if (out.length >= flushBytes) this.flush();
      }
      out.copyDone();
      out.commandComplete(r.commandTag);
      return;
    }
    if (describe && r.columns !== undefined) out.rowDescription(r.columns);
    const rows = r.rows;
    if (rows !== undefined) {
      for (let i = 0; i < rows.length; i++) {
        out.dataRow(rows[i]!);
        if (out.length >= flushBytes) this.flush();
      }
    }
    if (suspended) out.portalSuspended();
    else if (r.commandTag === '') out.emptyQueryResponse();
    else out.commandComplete(r.commandTag);
  }

  private writeError(err: unknown): void {
    this.out.errorResponse(this.errorFields(err));
  }

  private errorFields(err: unknown): ErrorNoticeFields {
    if (err instanceof NextDbError) return err;
    // Not a NextDbError: a bug somewhere below. Report it as an internal error, and log it with its stack.
    this.ctx.logger.error(
      { err: errorText(err), stack: err instanceof Error ? err.stack : undefined },
      'internal error while serving a query',
    );
    return { severity: 'ERROR', code: SqlState.internalError, message: `internal error: ${errorText(err)}` };
  }

  /** Metrics for one statement, and a log line when it was slower than limits.slowQueryMs. */
  private observe(kind: string, seconds: number): void {
    this.ctx.observeQuery(kind, seconds);
    const slowMs = this.ctx.limits.slowQueryMs;
    if (slowMs > 0 && seconds * 1000 >= slowMs) {
      const q = this.registration?.currentQuery ?? '';
      this.ctx.logger.warn(
        {
          durationMs: Math.round(seconds * 1000),
          kind,
          user: this.user,
          database: this.database,
          pid: this.registration?.processId,
          query: q.length > 1000 ? q.slice(0, 1000) + '…' : q,
        },
        'slow query',
      );
    }
  }

  private beginQuery(sql: string): void {
    const reg = this.registration;
    if (reg === undefined) return;
    reg.currentQuery = sql;
  }

  /** `startedAt`: the statement's performance.now() reading (one clock read serves metrics and the admin page). */
  private markActive(startedAt: number): void {
    const reg = this.registration;
    if (reg === undefined) return;
    reg.state = 'active';
    reg.queryStartedAtMs = performance.timeOrigin + startedAt;
  }

  private markIdle(session: Session): void {
    const reg = this.registration;
    if (reg === undefined) return;
    reg.state =
      session.txnStatus === 'I'
        ? 'idle'
        : session.txnStatus === 'T'
          ? 'idle in transaction'
          : 'idle in transaction (aborted)';
  }

  // ------------------------------------------------------------- lifecycle

  private flush(): void {
    if (this.out.length === 0 || this.state.kind === 'closed') return;
    this.transport.write(this.out.take());
  }

  /** Reports a connection-ending error (FATAL) and closes. */
  private fatal(err: unknown): void {
    if (this.state.kind === 'closed') return;
    const fields = this.errorFields(err);
    this.out.errorResponse(fields.severity === 'ERROR' ? { ...fields, severity: 'FATAL' } : fields);
    if (err instanceof ProtocolError) this.ctx.onProtocolError?.();
    if (err instanceof ProtocolError)
      this.ctx.logger.info(
        { remote: this.transport.remoteAddress, err: err.message },
        'closing connection after protocol error',
      );
    this.flush();
    this.shutdown();
  }

  private armIdleTimer(): void {
    const ms = this.ctx.limits.idleInTransactionTimeoutMs;
    const session = this.session;
    if (ms <= 0 || session === undefined || session.txnStatus === 'I' || this.parser.bufferedBytes > 0) return;
    this.idleTimer = setTimeout(() => {
      this.terminate('25P03', 'terminating connection due to idle-in-transaction timeout');
    }, ms);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private shutdown(): void {
    if (this.state.kind === 'closed') return;
    if (this.state.kind === 'copy-in') this.state.copy.abort('connection lost').catch(() => undefined);
    this.state = { kind: 'closed' };
    this.clearIdleTimer();
    clearTimeout(this.authTimer);
    if (this.registration !== undefined) this.ctx.registry.remove(this.registration);
    const session = this.session;
    this.session = undefined;
    if (session !== undefined) {
      session.cancel();
      session.close().catch((err: unknown) => this.ctx.logger.warn({ err: errorText(err) }, 'error closing session'));
    }
    this.transport.close();
    if (!this.closedNotified) {
      this.closedNotified = true;
      this.ctx.onClosed?.(this);
    }
  }
}

/**
 * The `options` startup parameter (libpq's PGOPTIONS): command-line style
 * settings, `-c name=value` or `--name=value`, separated by spaces; a
 * backslash escapes the next character (so values can contain spaces).
 * Anything else is ignored, as the session would ignore unknown settings.
 */
export function parseOptions(options: string): Record<string, string> {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const c = options[i]!;
    if (c === '\\' && i + 1 < options.length) {
      word += options[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  const out: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    const w = words[i]!;
    if (w === '-c') setting = words[++i];
    else if (w.startsWith('-c')) setting = w.slice(2);
    else if (w.startsWith('--')) setting = w.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting !== undefined && eq > 0) out[setting.slice(0, eq).replace(/-/g, '_')] = setting.slice(eq + 1);
  }
  return out;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isFatal(err: unknown): boolean {
  return err instanceof NextDbError && (err.severity === 'FATAL' || err.severity === 'PANIC');
}

function asFatal(err: unknown): NextDbError {
  if (err instanceof NextDbError) {
    if (err.severity === 'FATAL') return err;
    return new NextDbError(err.code, err.message, {
      severity: 'FATAL',
      cause: err,
      ...(err.detail === undefined ? {} : { detail: err.detail }),
      ...(err.hint === undefined ? {} : { hint: err.hint }),
    });
  }
  return new NextDbError(SqlState.internalError, `internal error: ${errorText(err)}`, {
    severity: 'FATAL',
    cause: err,
  });
}

function isSettingCommand(tag: string): boolean {
  return tag === 'SET' || tag === 'RESET' || tag === 'DISCARD ALL' || tag === 'ROLLBACK' || tag === 'COMMIT';
}

/** The metrics label of a command tag: select, insert, update, delete, copy, ddl, transaction, other. */
export function queryKind(tag: string): string {
  const sp = tag.indexOf(' ');
  const word = sp < 0 ? tag : tag.slice(0, sp);
  switch (word) {
    case 'SELECT':
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'COPY':
    case 'MERGE':
      return word.toLowerCase();
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
    case 'TRUNCATE':
      return 'ddl';
    case 'BEGIN':
    case 'START':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'PREPARE':
      return 'transaction';
    default:
      return 'other';
  }
}

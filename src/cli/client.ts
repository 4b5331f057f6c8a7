/**
 * `nextdb client [host:port]`: an interactive SQL shell for people without
 * psql, over the PostgreSQL wire protocol (so it works against NextDB and
 * against PostgreSQL alike).
 *
 *   input lines --> StatementSplitter --> SQL statement --> simple query --> aligned table
 *                                     \-> \meta command --> describe / settings
 *
 * The protocol is the `postgres` package's (one connection, `max: 1`, so
 * session state such as BEGIN or SET carries from statement to statement).
 * Every statement goes out as its own simple-protocol Query, values come
 * back as raw text (`.raw()`), exactly what the server sent, and are shown
 * the way psql shows them. The splitter sends statements one at a time even
 * for `-c "a; b"`: postgres.js folds the results of a multi-statement Query
 * together (the tags of consecutive commands merge), so one Query per
 * statement is the only way to show each result as psql does.
 *
 * Modes: interactive when stdin is a terminal and no -c/-f is given
 * (prompt, history in ~/.nextdb_history or $NEXTDB_HISTORY, Ctrl+C cancels
 * the running query or clears the line, Ctrl+D quits); otherwise the
 * script is read from -c/-f arguments or stdin and the first error stops
 * it, like `psql -v ON_ERROR_STOP=1`. A password comes from $PGPASSWORD, else
 * from a prompt on the terminal when the server asks for one.
 *
 * Exit codes (psql's): 0 success, 1 a -c command failed or bad usage,
 * 2 the connection failed, 3 a script (-f or stdin) stopped at an error.
 *
 * Limits: COPY ... FROM STDIN is refused (COPY ... TO STDOUT works); no
 * \copy, \set variables or output formats other than aligned and expanded.
 */

import { accessSync, readFileSync, writeFileSync, createReadStream } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { StatementSplitter, type SplitPiece } from './client-splitter.ts';
import {
  formatError,
  formatExpanded,
  formatTable,
  formatTiming,
  isNumericType,
  rowCountFooter,
} from './client-format.ts';
import { describe, type TextResult } from './client-describe.ts';

const VERSION = '0.1.0';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;
const HISTORY_LINES_MAX = 1000;
const CONNECT_TIMEOUT_SECONDS = 10;

/** Options as commander parses them for the `client` subcommand. */
export interface ClientOptions {
  readonly username?: string | undefined;
  readonly dbname?: string | undefined;
  readonly command?: readonly string[] | undefined;
  readonly file?: readonly string[] | undefined;
}

/** One -c or -f argument, in command-line order. */
export type Step =
  { readonly kind: 'command'; readonly text: string } | { readonly kind: 'file'; readonly path: string };

interface ConnParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

/** Where output goes: stdout for results, stderr for errors and notices. */
interface Io {
  out(text: string): void;
  err(text: string): void;
}

type Outcome = 'ok' | 'error' | 'quit';

/** The entry point of `nextdb client`. Sets process.exitCode; never calls process.exit. */
export async function runClient(
  hostport: string | undefined,
  opts: ClientOptions,
  argv: readonly string[],
): Promise<void> {
  let target: { host: string; port: number };
  try {
    target = parseHostPort(hostport ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`);
  } catch (e) {
    process.stderr.write(`nextdb client: ${(e as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const user = opts.username ?? process.env['PGUSER'] ?? 'postgres';
  const params: ConnParams = { ...target, user, database: opts.dbname ?? process.env['PGDATABASE'] ?? user };
  const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
  const session = new ClientSession(params, io);
  try {
    await session.connect(params.database);
  } catch (e) {
    io.err(`nextdb client: error: ${connectionFailure(params, e)}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const steps = orderSteps(opts, argv);
    if (steps.length > 0) {
      process.exitCode = await runSteps(session, steps);
    } else if (process.stdin.isTTY) {
      await interactive(session, io);
    } else {
      const r = await runScript(session, createInterface({ input: process.stdin, crlfDelay: Infinity }), '<stdin>');
      process.exitCode = r === 'error' ? 3 : 0;
    }
  } finally {
    await session.close();
  }
}

/** "host:port", "host", ":port", "port" or "[v6addr]:port". */
export function parseHostPort(s: string): { host: string; port: number } {
  let host = DEFAULT_HOST;
  let portText = String(DEFAULT_PORT);
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2] ?? portText;
  } else if (/^\d+$/.test(s)) {
    portText = s;
  } else {
    const i = s.lastIndexOf(':');
    if (i === -1) host = s;
    else {
      host = s.slice(0, i) || DEFAULT_HOST;
      portText = s.slice(i + 1);
    }
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new Error(`invalid port in "${s}"`);
  return { host, port };
}

/**
 * -c and -f run in the order they were given (psql's rule). Commander keeps
 * each option's values apart, so the order comes from the raw arguments.
 */
export function orderSteps(opts: ClientOptions, argv: readonly string[]): Step[] {
  const commands = [...(opts.command ?? [])];
  const files = [...(opts.file ?? [])];
  const steps: Step[] = [];
  const takesValue = new Set(['-c', '--command', '-f', '--file', '-U', '--username', '-d', '--dbname']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    // "-c" "VALUE" (skip the value, which may look like an option), "-cVALUE", "--command=VALUE".
    const kind = /^(-c|--command)(=|$)|^-c./.test(a)
      ? 'command'
      : /^(-f|--file)(=|$)|^-f./.test(a)
        ? 'file'
        : undefined;
    if (takesValue.has(a)) i++;
    if (kind === 'command' && commands.length > 0) steps.push({ kind, text: commands.shift()! });
    else if (kind === 'file' && files.length > 0) steps.push({ kind, path: files.shift()! });
  }
  // Anything the scan could not place (unusual spellings) still runs, in order.
  for (const text of commands) steps.push({ kind: 'command', text });
  for (const path of files) steps.push({ kind: 'file', path });
  return steps;
}

async function runSteps(session: ClientSession, steps: readonly Step[]): Promise<number> {
  for (const step of steps) {
    if (step.kind === 'command') {
      const splitter = new StatementSplitter();
      const pieces: SplitPiece[] = [];
      for (const line of step.text.split('\n')) pieces.push(...splitter.feed(line));
      const rest = splitter.finish();
      if (rest !== undefined) pieces.push({ kind: 'sql', text: rest });
      for (const p of pieces) {
        const r = await session.run(p, '');
        if (r === 'error') return 1;
        if (r === 'quit') return 0;
      }
    } else {
      const lines =
        step.path === '-'
          ? createInterface({ input: process.stdin, crlfDelay: Infinity })
          : openScript(step.path, '', session.io);
      if (lines === undefined) return 1;
      const r = await runScript(session, lines, step.path === '-' ? '<stdin>' : step.path);
      if (r === 'error') return 3;
      if (r === 'quit') return 0;
    }
  }
  return 0;
}

/** Runs a script up to its end, its first error or a \q. */
async function runScript(session: ClientSession, lines: AsyncIterable<string>, name: string): Promise<Outcome> {
  const splitter = new StatementSplitter();
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    for (const p of splitter.feed(line)) {
      const r = await session.run(p, `nextdb:${name}:${lineNo}: `, splitter);
      if (r !== 'ok') return r;
    }
  }
  const rest = splitter.finish();
  return rest === undefined ? 'ok' : session.run({ kind: 'sql', text: rest }, `nextdb:${name}:${lineNo}: `);
}

/** A script file's lines, or undefined (after saying why) when it cannot be opened. */
function openScript(path: string, where: string, io: Io): AsyncIterable<string> | undefined {
  try {
    accessSync(path); // Say plainly that the file is missing, as psql does.
  } catch (e) {
    io.err(
      `${where}nextdb: ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}\n`,
    );
    return undefined;
  }
  return createInterface({ input: createReadStream(path), crlfDelay: Infinity });
}

async function interactive(session: ClientSession, io: Io): Promise<void> {
  const historyFile = process.env['NEXTDB_HISTORY'] ?? join(homedir(), '.nextdb_history');
  let history: string[] = [];
  try {
    history = readFileSync(historyFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .reverse()
      .slice(0, HISTORY_LINES_MAX);
  } catch {
    // No history yet.
  }
  const rl: Interface = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history,
    historySize: HISTORY_LINES_MAX,
    removeHistoryDuplicates: true,
  });
  rl.on('history', (h: string[]) => {
    history = h;
  });
  const splitter = new StatementSplitter();
  const prompt = (): void => {
    rl.setPrompt(`${session.database}${splitter.promptMarker}${session.superuser ? '#' : '>'} `);
    rl.prompt();
  };
  rl.on('SIGINT', () => {
    if (session.cancelRunning()) return;
    // Idle: Ctrl+C drops the statement being typed, as in psql.
    splitter.reset();
    rl.write(null, { ctrl: true, name: 'u' });
    io.out('\n');
    prompt();
  });
  session.promptActive = true;
  io.out(`nextdb client ${VERSION} (server ${session.serverVersion})\nType "\\?" for help.\n\n`);
  prompt();
  let quit = false;
  for await (const line of rl) {
    for (const p of splitter.feed(line)) {
      if ((await session.run(p, '', splitter)) === 'quit') {
        quit = true;
        break;
      }
    }
    if (quit) break;
    prompt();
  }
  if (!quit) io.out('\n');
  rl.close();
  // The terminal stream would otherwise keep the process alive after the last prompt.
  process.stdin.destroy();
  try {
    writeFileSync(historyFile, [...history].reverse().join('\n') + '\n', { mode: 0o600 });
  } catch (e) {
    io.err(`could not save history to file "${historyFile}": ${(e as Error).message}\n`);
  }
}

function connectionFailure(p: ConnParams, e: unknown): string {
  const err = e as { code?: string; message?: string };
  const reason =
    err.code === 'ECONNREFUSED'
      ? 'Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?'
      : (err.message ?? String(e));
  return `connection to server at "${p.host}", port ${p.port} failed: ${reason}`;
}

/** The fields of postgres.js's PostgresError we use. */
interface ServerError {
  readonly severity: string;
  readonly message: string;
  readonly position?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly where?: string;
  readonly internal_position?: string;
  readonly internal_query?: string;
}

function isServerError(e: unknown): e is ServerError {
  return e instanceof postgres.PostgresError;
}

/** A statement's result as postgres.js gives it in raw mode. */
type RawResult = (Buffer | null)[][] & {
  readonly command: string | null;
  readonly count: number | null;
  readonly columns?: readonly { readonly name: string; readonly type: number }[] | null | undefined;
};

/** One connection and the settings of the shell (\timing). */
class ClientSession {
  private sql: postgres.Sql | undefined;
  private running: { cancel(): void } | undefined;
  private timing = false;
  private expanded = false;
  private cachedPassword: string | undefined;
  private lastDescribeQuery = '';
  /** Set while readline owns the terminal: no raw-mode password prompt then. */
  promptActive = false;
  database: string;
  private readonly params: ConnParams;
  readonly io: Io;

  constructor(params: ConnParams, io: Io) {
    this.params = params;
    this.io = io;
    this.database = params.database;
  }

  /** The password: $PGPASSWORD, else asked once on the terminal (and reused by \c). */
  private async password(): Promise<string> {
    const env = process.env['PGPASSWORD'];
    if (env !== undefined) return env;
    if (this.cachedPassword === undefined) {
      if (!process.stdin.isTTY || this.promptActive) return '';
      this.cachedPassword = await readHidden(`Password for user ${this.params.user}: `);
    }
    return this.cachedPassword;
  }

  get serverVersion(): string {
    return String(this.sql?.parameters.server_version ?? 'unknown');
  }

  get superuser(): boolean {
    return String(this.sql?.parameters['is_superuser' as keyof postgres.ConnectionParameters]) === 'on';
  }

  /** Opens a connection to `database`; on success it replaces the current one. */
  async connect(database: string): Promise<void> {
    const sql = postgres({
      host: this.params.host,
      port: this.params.port,
      user: this.params.user,
      database,
      // Asked only when the server wants a password; psql's rule: $PGPASSWORD, else a prompt on a terminal.
      pass: () => this.password(),
      max: 1,
      fetch_types: false,
      prepare: false,
      idle_timeout: 0,
      max_lifetime: 0,
      connect_timeout: CONNECT_TIMEOUT_SECONDS,
      connection: { application_name: 'nextdb client' },
      onnotice: (n) => this.io.err(`${String(n['severity'] ?? 'NOTICE')}:  ${String(n['message'] ?? '')}\n`),
    });
    try {
      // An empty query opens the session (and brings the server's ParameterStatus) without running anything.
      await sql.unsafe('').simple();
    } catch (e) {
      // A plain ERROR (not FATAL) means the session is up and the server merely
      // refused the empty query instead of answering EmptyQueryResponse.
      if (!(isServerError(e) && e.severity === 'ERROR')) {
        await sql.end({ timeout: 0 });
        throw e;
      }
    }
    const old = this.sql;
    this.sql = sql;
    this.database = database;
    if (old !== undefined) await old.end({ timeout: 1 });
  }

  async close(): Promise<void> {
    await this.sql?.end({ timeout: 1 });
    this.sql = undefined;
  }

  /** Cancels the statement in flight, if any; true when there was one. */
  cancelRunning(): boolean {
    if (this.running === undefined) return false;
    this.running.cancel();
    return true;
  }

  /** Runs one piece of input; errors are printed here, with `where` in front (script location). */
  async run(p: SplitPiece, where: string, splitter?: StatementSplitter): Promise<Outcome> {
    if (p.kind === 'sql') return this.execute(p.text, where);
    return this.meta(p.name, p.args, where, splitter);
  }

  /** Sends one statement and prints its result like psql. */
  private async execute(text: string, where: string): Promise<Outcome> {
    const sql = this.sql;
    if (sql === undefined) {
      this.io.err(`${where}You are currently not connected to a database.\n`);
      return 'error';
    }
    const q = sql.unsafe(text).simple().raw();
    this.running = q;
    const started = performance.now();
    try {
      const res = (await q) as unknown;
      if (res instanceof Readable) {
        await this.copyOut(res);
      } else if (res instanceof Writable) {
        res.destroy(new Error('COPY FROM STDIN is not supported by nextdb client'));
        this.io.err(
          `${where}ERROR:  COPY ... FROM STDIN is not supported by nextdb client yet\nHINT:  Use INSERT, or COPY from a file on the server.\n`,
        );
        return 'error';
      } else {
        this.printResult(res as RawResult);
      }
      if (this.timing) this.io.out(`${formatTiming(performance.now() - started)}\n`);
      return 'ok';
    } catch (e) {
      this.printError(e, text, where);
      return 'error';
    } finally {
      this.running = undefined;
    }
  }

  private async copyOut(stream: Readable): Promise<void> {
    for await (const chunk of stream) this.io.out(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
  }

  private printResult(res: RawResult): void {
    const command = res.command;
    const columns = res.columns;
    if (columns !== undefined && columns !== null) {
      const rows = res.map((r) => r.map((v) => (v === null ? null : v.toString('utf8'))));
      const headers = columns.map((c) => c.name);
      this.io.out(
        this.expanded
          ? formatExpanded({ headers, rows })
          : formatTable({
              headers,
              rows,
              rightAlign: columns.map((c) => isNumericType(c.type)),
              footers: [rowCountFooter(rows.length)],
            }),
      );
      // psql also shows the tag of INSERT/UPDATE/DELETE ... RETURNING.
      if (command !== null && /^(INSERT|UPDATE|DELETE|MERGE)$/.test(command))
        this.io.out(`${commandTag(command, res.count)}\n`);
      return;
    }
    if (command !== null) this.io.out(`${commandTag(command, res.count)}\n`);
  }

  private printError(e: unknown, query: string, where: string): void {
    if (isServerError(e)) {
      const position = e.position !== undefined && e.position !== '' ? Number(e.position) : undefined;
      this.io.err(
        formatError(
          { severity: e.severity, message: e.message, detail: e.detail, hint: e.hint, where: e.where, position, query },
          where,
        ),
      );
      return;
    }
    const err = e as { code?: string; message?: string };
    this.io.err(`${where}${err.message ?? String(e)}\n`);
  }

  /** Text-valued results for the describe commands. */
  private readonly runText = async (text: string): Promise<TextResult> => {
    const sql = this.sql;
    if (sql === undefined) throw new Error('not connected');
    this.lastDescribeQuery = text;
    const res = (await sql.unsafe(text).simple().raw()) as unknown as RawResult;
    return {
      columns: (res.columns ?? []).map((c) => ({ name: c.name, type: c.type })),
      rows: res.map((r) => r.map((v) => (v === null ? null : v.toString('utf8')))),
    };
  };

  private async meta(
    name: string,
    args: readonly string[],
    where: string,
    splitter?: StatementSplitter,
  ): Promise<Outcome> {
    switch (name) {
      case 'q':
      case 'quit':
        return 'quit';
      case '?':
        this.io.out(HELP);
        return 'ok';
      case 'timing': {
        const v = args[0]?.toLowerCase();
        this.timing = v === undefined ? !this.timing : v === 'on' || v === 'true' || v === '1';
        this.io.out(`Timing is ${this.timing ? 'on' : 'off'}.\n`);
        return 'ok';
      }
      case 'c':
      case 'connect': {
        const db = args[0] === undefined || args[0] === '-' ? this.database : args[0];
        try {
          await this.connect(db);
        } catch (e) {
          this.io.err(`${where}${connectionFailure({ ...this.params, database: db }, e)}\nPrevious connection kept\n`);
          return 'error';
        }
        this.io.out(`You are now connected to database "${db}" as user "${this.params.user}".\n`);
        return 'ok';
      }
      case 'x': {
        const v = args[0]?.toLowerCase();
        this.expanded = v === undefined ? !this.expanded : v === 'on' || v === 'true' || v === '1';
        this.io.out(`Expanded display is ${this.expanded ? 'on' : 'off'}.\n`);
        return 'ok';
      }
      case 'conninfo':
        this.io.out(
          `You are connected to database "${this.database}" as user "${this.params.user}" on host "${this.params.host}" at port "${this.params.port}".\n`,
        );
        return 'ok';
      case 'r':
      case 'reset':
        splitter?.reset();
        this.io.out('Query buffer reset (cleared).\n');
        return 'ok';
      case 'p':
      case 'print':
        this.io.out(
          splitter !== undefined && splitter.pending
            ? `${splitter.buffer.replace(/\n$/, '')}\n`
            : 'Query buffer is empty.\n',
        );
        return 'ok';
      case 'echo':
        this.io.out(`${args.join(' ')}\n`);
        return 'ok';
      case 'i':
      case 'include': {
        const path = args[0];
        if (path === undefined) {
          this.io.err(`${where}\\${name}: missing required argument\n`);
          return 'error';
        }
        const lines = openScript(path, where, this.io);
        return lines === undefined ? 'error' : runScript(this, lines, path);
      }
      default:
        break;
    }
    try {
      const r = await describe(name, args, this.runText);
      if (r === undefined) {
        this.io.err(`${where}invalid command \\${name}\nTry \\? for help.\n`);
        return 'error';
      }
      if (r.out !== '') this.io.out(r.out);
      if (r.err !== '') {
        this.io.err(where + r.err);
        return r.out === '' ? 'error' : 'ok';
      }
      return 'ok';
    } catch (e) {
      // As psql does, a failing catalog query is shown with its own text under the caret.
      this.printError(e, this.lastDescribeQuery, where);
      return 'error';
    }
  }
}

/** Reads a line from the terminal without echoing it (a password). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err === undefined) resolve(text);
      else reject(err);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('password prompt cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The command tag psql prints: "INSERT 0 3", "UPDATE 2", "CREATE TABLE". */
function commandTag(command: string, count: number | null): string {
  if (command === 'INSERT') return `INSERT 0 ${count ?? 0}`;
  return count === null ? command : `${command} ${count}`;
}

const HELP = `General
  \\q                     quit nextdb client
  \\?                     show this help
  \\timing [on|off]       toggle timing of statements
  \\x [on|off]            toggle expanded output (one "name | value" line per column)
  \\c [DBNAME]            connect to another database
  \\conninfo              show the current connection
  \\echo TEXT             print TEXT
  \\i FILE                run the statements in FILE

Query buffer
  \\g                     send the query buffer (like ;)
  \\p                     show the query buffer
  \\r                     clear the query buffer

Informational (the catalog queries psql 15 sends)
  \\d[+]                  list tables, views and sequences
  \\d NAME                describe table, view or foreign table
  \\dt[+] [PATTERN]       list tables
  \\di[+] [PATTERN]       list indexes
  \\dv[+] [PATTERN]       list views
  \\ds[+] [PATTERN]       list sequences
  \\dn                    list schemas
  \\du                    list roles
  \\l                     list databases

Statements end with ";" (outside quotes, comments and parentheses) and may
span lines. Ctrl+C cancels a running statement or clears the input; Ctrl+D quits.
`;

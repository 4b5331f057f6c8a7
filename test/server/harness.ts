// Test harness for the protocol server: an in-process NextDbServer on an
// ephemeral loopback port over a FakeProvider (or any provider), and a raw
// protocol client built from the wire codec's inverse halves, for tests that
// need byte-level control (row limits, skip-to-Sync, cancel, fuzzing).
import net from 'node:net';
import pino from 'pino';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { NextDbServer, type ServerOptions } from '../../src/server/pg-server.ts';
import { FrontendWriter } from '../../src/wire/frontend-writer.ts';
import { BackendParser, type BackendMessage } from '../../src/wire/backend-parser.ts';
import { RequestCode, type FrontendMessage } from '../../src/wire/frontend-messages.ts';
import { FakeProvider } from './fake-session.ts';
import type { SqlEngine } from '../../src/sql/index.ts';
import type { SessionProvider } from '../../src/server/server-types.ts';

/** A self-signed certificate and key for TLS tests (test/server/fixtures/README.md). */
export const tlsCertPath = new URL('./fixtures/tls-cert.pem', import.meta.url).pathname;
export const tlsKeyPath = new URL('./fixtures/tls-key.pem', import.meta.url).pathname;

export interface TestServer {
  readonly server: NextDbServer;
  readonly port: number;
  readonly provider: SessionProvider;
  stop(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const engine = new MemoryEngine();
  const provider = options.provider ?? new FakeProvider();
  const server = new NextDbServer({
    engine,
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    port: 0,
    provider,
    engineDescription: 'memory (test)',
    ...options,
  });
  const port = await server.start();
  return {
    server,
    port,
    provider,
    stop: async () => {
      await server.stop();
      await engine.close();
    },
  };
}

/** startTestServer over a real SQL engine on a fresh MemoryEngine; stop() also closes the SQL engine. */
export async function startSqlTestServer(
  options: Partial<ServerOptions> = {},
): Promise<TestServer & { readonly sql: SqlEngine }> {
  // Imported here so that the tests on a FakeProvider do not load the SQL engine.
  const { SqlEngine } = await import('../../src/sql/index.ts');
  const engine = new MemoryEngine();
  const sql = await SqlEngine.open({ engine });
  const ts = await startTestServer({
    provider: { createSession: (startup) => sql.createSession(startup) },
    engine,
    ...options,
  });
  return {
    ...ts,
    sql,
    stop: async () => {
      await ts.stop();
      await sql.close();
    },
  };
}

/** A byte-level protocol client. */
export class RawClient {
  readonly socket: net.Socket;
  private readonly parser = new BackendParser();
  private readonly queue: BackendMessage[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      for (let m = this.parser.next(); m !== undefined; m = this.parser.next()) this.queue.push(m);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Connects and completes a trust startup; returns the client and its BackendKeyData. */
  static async startup(
    port: number,
    params: Record<string, string> = { user: 'postgres', database: 'postgres' },
  ): Promise<{ client: RawClient; messages: BackendMessage[] }> {
    const client = await RawClient.connect(port);
    client.send({ kind: 'startup', protocolVersion: RequestCode.protocol30, params });
    const messages = await client.until('Z');
    return { client, messages };
  }

  send(...msgs: FrontendMessage[]): void {
    const w = new FrontendWriter();
    for (const m of msgs) w.add(m);
    this.socket.write(w.take());
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Messages up to and including the first of type `type`; rejects if the connection closes first or after timeoutMs. */
  async until(type: string, timeoutMs = 5000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.queue.findIndex((m) => m.type === type);
      if (at >= 0) return this.queue.splice(0, at + 1);
      if (this.closed)
        throw new Error(`connection closed before '${type}'; got ${this.queue.map((m) => m.type).join('')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for '${type}'; got ${this.queue.map((m) => m.type).join('')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Every message until the server closes the connection. */
  async untilClosed(timeoutMs = 5000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timeout waiting for close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.splice(0);
  }

  /** The unframed reply byte to SSLRequest/GSSENCRequest. */
  async singleByte(): Promise<string> {
    return new Promise((resolve) => {
      this.socket.removeAllListeners('data');
      this.socket.once('data', (chunk: Buffer) => {
        resolve(String.fromCharCode(chunk[0]!));
        const rest = chunk.subarray(1);
        this.socket.on('data', (c: Buffer) => {
          this.parser.push(c);
          for (let m = this.parser.next(); m !== undefined; m = this.parser.next()) this.queue.push(m);
          this.waiter?.();
        });
        if (rest.length > 0) this.socket.emit('data', rest);
      });
    });
  }

  end(): void {
    this.socket.destroy();
  }
}

export const types = (ms: readonly BackendMessage[]): string => ms.map((m) => m.type).join('');

// The Node.js internals that the server's plaintext connection path relies
// on (src/server/pg-server.ts servePg, src/server/socket-writer.ts), checked
// on the Node.js that runs the tests, so that a Node release that changes them
// fails here rather than in production (run on other versions with
// `npm run test:node -- 22`, `-- 24`):
// - an accepted socket's libuv handle exposes its file descriptor (`fd`),
//   `readStart`/`readStop` and the `reading` flag;
// - input arrives through the socket's own `push` method (which the direct
//   input path replaces), and a `false` from it makes Node stop reading
//   (`reading` false) until `readStart`;
// - `destroy()` closes the descriptor through the socket's own `_destroy`
//   method, not before its callback (the writer thread must never write to
//   a closed, possibly reused, descriptor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fstatSync } from 'node:fs';

interface Handle {
  fd?: unknown;
  reading?: unknown;
  readStart?: unknown;
  readStop?: unknown;
}

interface Pair {
  readonly server: net.Server;
  readonly serverSide: net.Socket;
  readonly client: net.Socket;
}

async function pair(onConnection?: (s: net.Socket) => void): Promise<Pair> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) =>
    server.once('connection', (s: net.Socket) => {
      onConnection?.(s);
      resolve(s);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { server, serverSide: await accepted, client };
}

async function close(p: Pair): Promise<void> {
  p.client.destroy();
  p.serverSide.destroy();
  await new Promise<void>((resolve) => p.server.close(() => resolve()));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const handleOf = (s: net.Socket): Handle => {
  const h = (s as unknown as { _handle?: Handle | null })._handle;
  assert.ok(h !== undefined && h !== null, 'net.Socket has a _handle');
  return h;
};

test('an accepted socket exposes fd, readStart, readStop and reading on its handle', async () => {
  const p = await pair();
  try {
    const h = handleOf(p.serverSide);
    assert.equal(typeof h.fd, 'number');
    assert.ok((h.fd as number) >= 0, 'a real descriptor');
    assert.doesNotThrow(() => fstatSync(h.fd as number), 'the descriptor is open');
    assert.equal(typeof h.readStart, 'function');
    assert.equal(typeof h.readStop, 'function');
    p.serverSide.on('data', () => {});
    await until(() => h.reading === true, 'the handle to read once a data listener is on');
  } finally {
    await close(p);
  }
});

test("input arrives through the socket's own push; false stops reading until readStart", async () => {
  const got: Buffer[] = [];
  let answer = true;
  // Replaced before any input can arrive, as servePg does.
  const p = await pair((s) => {
    const push = s.push;
    s.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null) return push.call(s, chunk, encoding);
      got.push(chunk as Buffer);
      return answer;
    };
    s.on('data', () => assert.fail('input bypassed the replaced push'));
  });
  try {
    const h = handleOf(p.serverSide) as { reading: boolean; readStart(): number };
    p.client.write('first');
    await until(() => Buffer.concat(got).toString() === 'first', 'the first bytes');
    assert.equal(h.reading, true, 'still reading after push returned true');
    answer = false;
    p.client.write('second');
    await until(() => Buffer.concat(got).toString() === 'firstsecond', 'the second bytes');
    await until(() => h.reading === false, 'Node to stop reading after push returned false');
    p.client.write('third');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(Buffer.concat(got).toString(), 'firstsecond', 'nothing is read while stopped');
    answer = true;
    h.reading = true;
    assert.equal(h.readStart(), 0);
    await until(() => Buffer.concat(got).toString() === 'firstsecondthird', 'the bytes sent while stopped');
  } finally {
    await close(p);
  }
});

test("destroy() closes the descriptor through the socket's own _destroy, only after its callback", async () => {
  const p = await pair();
  const s = p.serverSide as net.Socket & { _destroy(err: Error | null, cb: (err: Error | null) => void): void };
  const fd = handleOf(s).fd as number;
  const original = s._destroy;
  assert.equal(typeof original, 'function');
  // The held-back rest of destroy(), as servePg holds it until the writer thread is done with the descriptor.
  const held: { rest?: () => void } = {};
  s._destroy = (err, cb) => {
    held.rest = () => original.call(s, err, cb);
  };
  let closed = false;
  s.once('close', () => (closed = true));
  try {
    s.destroy();
    assert.ok(held.rest !== undefined, 'destroy() called the instance _destroy');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(closed, false, 'not closed before the callback');
    assert.doesNotThrow(() => fstatSync(fd), 'the descriptor stays open until the callback');
  } finally {
    const rest = held.rest;
    delete held.rest;
    rest?.();
  }
  await until(() => closed, "the socket's close after the callback");
  await close(p);
});

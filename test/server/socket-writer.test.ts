// SocketWriter (src/server/socket-writer.ts) over real loopback sockets: every
// byte arrives once and in order across ring wrap-arounds, entries split at
// the size limit, and a full socket buffer (EAGAIN: the writer's backlog);
// drop() discards a stalled connection's batches; slots and idle(); write()
// on the caller's thread keeps the order with what the writer holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SocketWriter } from '../../src/server/socket-writer.ts';

interface Pair {
  readonly server: net.Server;
  readonly serverSide: net.Socket;
  readonly client: net.Socket;
  readonly fd: number;
}

async function pair(): Promise<Pair> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverSide = await accepted;
  const fd = (serverSide as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd >= 0);
  return { server, serverSide, client, fd };
}

async function close(p: Pair): Promise<void> {
  p.client.destroy();
  p.serverSide.destroy();
  await new Promise<void>((resolve) => p.server.close(() => resolve()));
}

/** The k-th byte of the test stream. */
const streamByte = (k: number): number => (k * 31 + (k >>> 9)) & 255;

function chunk(from: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = streamByte(from + i);
  return b;
}

/** Counts what the client receives and notes the first byte that is not the test stream's. */
function receiveStream(client: net.Socket): { received: number; mismatch: number } {
  const rx = { received: 0, mismatch: -1 };
  client.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length; i++) {
      if (rx.mismatch < 0 && d[i] !== streamByte(rx.received + i)) rx.mismatch = rx.received + i;
    }
    rx.received += d.length;
  });
  return rx;
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('every byte arrives once and in order: ring wrap, split entries, a full socket buffer (backlog)', async () => {
  const writer = new SocketWriter({ ringBytes: 1 << 20, slots: 4 });
  const p = await pair();
  try {
    const slot = writer.acquire();
    assert.notEqual(slot, undefined);
    // The client reads nothing at first: the socket buffers fill and the writer must hold the rest.
    p.client.pause();
    const rx = receiveStream(p.client);
    let sent = 0;
    let seed = 12345;
    const nextSize = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      // Mostly small replies, some larger than an entry (256 KiB) and than a quarter of the ring.
      return seed % 10 === 0 ? 200_000 + (seed % 400_000) : 1 + (seed % 9000);
    };
    for (let i = 0; i < 400; i++) {
      const n = nextSize();
      writer.push(p.fd, slot!, chunk(sent, n));
      sent += n;
      writer.notify();
    }
    await until(() => writer.backlogBytes(slot!) > 0, 'a backlog (EAGAIN) while the client does not read');
    assert.equal(writer.idle(slot!), false);
    p.client.resume();
    await until(() => rx.received >= sent, `all ${sent} bytes`);
    await until(() => writer.idle(slot!), 'the writer to finish the slot');
    assert.equal(rx.received, sent);
    assert.equal(rx.mismatch, -1, `first wrong byte at ${rx.mismatch}`);
    assert.equal(writer.backlogBytes(slot!), 0);
    writer.release(slot!);
  } finally {
    await close(p);
    await writer.stop();
  }
});

test('write() writes at once when the writer holds nothing of the slot, and never overtakes a batch it holds', async () => {
  const writer = new SocketWriter({ ringBytes: 1 << 20, slots: 4 });
  const p = await pair();
  try {
    const slot = writer.acquire()!;
    const rx = receiveStream(p.client);
    // An idle slot: the bytes leave on this thread, without notify() and without an entry for the writer.
    writer.write(p.fd, slot, chunk(0, 1000));
    assert.equal(writer.idle(slot), true, 'nothing was pushed');
    await until(() => rx.received === 1000, 'the directly written bytes');
    let sent = 1000;
    // A client that does not read: write() meets EAGAIN and a busy slot, and must queue behind the writer.
    p.client.pause();
    let seed = 777;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = seed % 7 === 0 ? 100_000 + (seed % 200_000) : 1 + (seed % 5000);
      if (seed % 3 === 0) writer.push(p.fd, slot, chunk(sent, n));
      else writer.write(p.fd, slot, chunk(sent, n));
      sent += n;
      writer.notify();
    }
    await until(() => writer.backlogBytes(slot) > 0, 'a backlog while the client does not read');
    p.client.resume();
    await until(() => rx.received >= sent, `all ${sent} bytes`);
    await until(() => writer.idle(slot), 'the writer to finish the slot');
    assert.equal(rx.received, sent);
    assert.equal(rx.mismatch, -1, `first wrong byte at ${rx.mismatch}`);
    writer.release(slot);
  } finally {
    await close(p);
    await writer.stop();
  }
});

test('drop() discards a stalled connection’s batches; slots are handed out and reused', async () => {
  const writer = new SocketWriter({ ringBytes: 1 << 20, slots: 2 });
  const p = await pair();
  try {
    const a = writer.acquire();
    const b = writer.acquire();
    assert.notEqual(a, undefined);
    assert.notEqual(b, undefined);
    assert.equal(writer.acquire(), undefined, 'no third slot');
    p.client.pause();
    let sent = 0;
    while (writer.backlogBytes(a!) === 0 && sent < 64 << 20) {
      writer.push(p.fd, a!, chunk(sent, 100_000));
      sent += 100_000;
      writer.notify();
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(writer.backlogBytes(a!) > 0, 'the client is stalled');
    writer.drop(a!);
    await until(() => writer.idle(a!), 'the dropped slot to be idle');
    assert.equal(writer.backlogBytes(a!), 0);
    writer.release(a!);
    const again = writer.acquire();
    assert.equal(again, a, 'the released slot is reused');
    assert.equal(writer.idle(again!), true, 'a fresh slot is idle');
    writer.release(again!);
    writer.release(b!);
  } finally {
    await close(p);
    await writer.stop();
  }
  assert.equal(writer.usable, false, 'stopped');
});

// RaftTransport on loopback (ports 19020-19022): messages arrive intact and in
// order, many sends in one turn are batched, messages to an unreachable peer
// are dropped (not queued without bound), and a peer that comes back is
// redialled after the backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftTransport } from '../../src/server/raft-transport.ts';
import type { Message } from '../../src/raft/types.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addr = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });

function append(from: number, to: number, i: number): Message {
  return {
    kind: 'append',
    group: 7,
    from,
    to,
    term: 3,
    prevIndex: i,
    prevTerm: 3,
    commit: i,
    entries: [{ index: i + 1, term: 3, type: 0, data: Buffer.alloc(i % 50, i) }],
  };
}

test('raft transport: ordered delivery, batching, drop while unreachable, redial', async () => {
  const got: Message[] = [];
  const a = await RaftTransport.listen({
    nodeId: 1,
    host: '127.0.0.1',
    port: 19020,
    peers: new Map([[2, addr(19021)]]),
    onMessage: () => {},
    backoffMinMs: 50,
    backoffMaxMs: 100,
  });
  let b = await RaftTransport.listen({
    nodeId: 2,
    host: '127.0.0.1',
    port: 19021,
    peers: new Map([[1, addr(19020)]]),
    onMessage: (m) => got.push(m),
  });
  try {
    for (let i = 0; i < 500; i++) a.send(append(1, 2, i));
    for (let t = 0; t < 200 && got.length < 500; t++) await sleep(10);
    assert.equal(got.length, 500);
    assert.deepEqual(got[123], append(1, 2, 123));
    assert.deepEqual(
      got.map((m) => (m.kind === 'append' ? m.prevIndex : -1)),
      Array.from({ length: 500 }, (_, i) => i),
    );
    assert.equal(a.stats.connects, 1, 'one connection carries everything');

    // Peer goes away: sends are dropped once the connection is known dead, not queued.
    await b.close();
    for (let i = 0; i < 20; i++) {
      a.send(append(1, 2, i));
      await sleep(5);
    }
    const dropped = a.stats.droppedMessages;
    assert.ok(dropped > 0, 'messages to an unreachable peer are dropped');

    // Peer returns: after the backoff the next send redials and gets through.
    got.length = 0;
    b = await RaftTransport.listen({
      nodeId: 2,
      host: '127.0.0.1',
      port: 19021,
      peers: new Map([[1, addr(19020)]]),
      onMessage: (m) => got.push(m),
    });
    for (let t = 0; t < 100 && got.length === 0; t++) {
      a.send(append(1, 2, 999));
      await sleep(20);
    }
    assert.ok(got.length > 0, 'redialled after the peer came back');
    assert.ok(a.stats.connects >= 2);
    // Unknown peers are dropped, never dialled.
    const before = a.stats.droppedMessages;
    a.send(append(1, 9, 1));
    assert.equal(a.stats.droppedMessages, before + 1);
  } finally {
    await a.close();
    await b.close();
  }
});

test('raft transport: a bounded queue drops beyond maxQueueBytes while connecting', async () => {
  // Nobody listens on 19022: the first send starts a dial; the queue holds at most maxQueueBytes.
  const a = await RaftTransport.listen({
    nodeId: 1,
    host: '127.0.0.1',
    port: 19020,
    peers: new Map([[2, addr(19022)]]),
    onMessage: () => {},
    maxQueueBytes: 4096,
  });
  try {
    for (let i = 0; i < 1000; i++) a.send(append(1, 2, 40));
    assert.ok(a.stats.droppedMessages > 900, `dropped ${a.stats.droppedMessages}`);
    assert.ok(a.stats.sentMessages < 100);
  } finally {
    await a.close();
  }
});

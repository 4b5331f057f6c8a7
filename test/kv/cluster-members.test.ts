// The replicated member registry (src/kv/cluster-members.ts) over a plain
// memory engine: records round-trip, ids are handed out above every recorded
// or configured id and never move back, malformed records are skipped, the
// registry's keys stay inside the replicated keyspace and outside MVCC's
// spaces, and host:port parsing accepts IPv6 in brackets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberBatch, nextMemberId, parseHostPort, readMembers } from '../../src/kv/cluster-members.ts';
import { isReplicatedKey } from '../../src/kv/replica-keys.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';

test('member records round-trip; ids grow past recorded and configured ids and never move back', () => {
  const e = new MemoryEngine();
  assert.equal(nextMemberId(e, []), 1);
  assert.equal(nextMemberId(e, [1, 2, 3]), 4, 'a static group: ids above the configured voters');
  e.write(memberBatch({ id: 1, raftAddress: '127.0.0.1:7001', sqlAddress: '127.0.0.1:5433' }, nextMemberId(e, [1])));
  e.write(memberBatch({ id: 5, raftAddress: '10.0.0.5:7001', sqlAddress: '10.0.0.5:5433' }, nextMemberId(e, [1])));
  assert.equal(nextMemberId(e, [1]), 6);
  // Re-registering an old id (new addresses) keeps the counter.
  e.write(memberBatch({ id: 1, raftAddress: '127.0.0.1:7101', sqlAddress: '127.0.0.1:5533' }, nextMemberId(e, [1, 5])));
  assert.equal(nextMemberId(e, [1, 5]), 6);
  const m = readMembers(e);
  assert.deepEqual([...m.keys()], [1, 5]);
  assert.deepEqual(m.get(1), { id: 1, raftAddress: '127.0.0.1:7101', sqlAddress: '127.0.0.1:5533' });
  for (const [k] of e.scan()) {
    assert.ok(isReplicatedKey(k), 'registry keys are replicated');
    assert.ok(k[0]! > 0x03, 'registry keys lie outside the MVCC spaces');
  }
});

test('a malformed record is skipped, not fatal', () => {
  const e = new MemoryEngine();
  e.write(memberBatch({ id: 2, raftAddress: 'a:1', sqlAddress: 'a:2' }, 3));
  const [k] = [...e.scan()][0]!;
  e.put(Buffer.concat([k.subarray(0, k.length - 4), Buffer.from([0, 0, 0, 9])]), Buffer.from('{not json'));
  assert.deepEqual([...readMembers(e).keys()], [2]);
  assert.throws(() => memberBatch({ id: 0, raftAddress: 'a:1', sqlAddress: 'a:2' }, 1), /positive integer/);
});

test('host:port parsing', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080', 'x'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('[::1]:5433', 'x'), { host: '::1', port: 5433 });
  assert.deepEqual(parseHostPort('db-1.example:9', 'x'), { host: 'db-1.example', port: 9 });
  for (const bad of ['localhost', ':80', 'h:0', 'h:65536', 'h:x', '::1:80'])
    assert.throws(() => parseHostPort(bad, '--join'), /--join: expected host:port/, bad);
});

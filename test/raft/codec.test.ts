// Codec round trips for every message kind (property-based) and strict
// rejection of truncated or trailing bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeConfChange, decodeMessage, encodeConfChange, encodeMessage } from '../../src/raft/codec.ts';
import { CorruptionError } from '../../src/util/errors.ts';
import type { Entry, Message } from '../../src/raft/types.ts';

// Plain-prototype records, so decoded objects compare deep-equal to generated ones.
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true });
const u = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const small = fc.integer({ min: 0, max: 1000 });
const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
const entry: fc.Arbitrary<Entry> = rec({
  index: u,
  term: u,
  type: fc.constantFrom(0 as const, 1 as const),
  data: bytes,
});
const conf = rec({ voters: fc.array(small, { maxLength: 5 }), learners: fc.array(small, { maxLength: 3 }) });
const header = rec({ group: u, from: small, to: small, term: u });

const message: fc.Arbitrary<Message> = fc.oneof(
  rec({ h: header, preVote: fc.boolean(), lastIndex: u, lastTerm: u, force: fc.boolean() }).map(({ h, ...r }) => ({
    ...h,
    kind: 'vote' as const,
    ...r,
  })),
  rec({ h: header, preVote: fc.boolean(), reject: fc.boolean() }).map(({ h, ...r }) => ({
    ...h,
    kind: 'voteResp' as const,
    ...r,
  })),
  rec({ h: header, prevIndex: u, prevTerm: u, commit: u, entries: fc.array(entry, { maxLength: 4 }) }).map(
    ({ h, ...r }) => ({ ...h, kind: 'append' as const, ...r }),
  ),
  rec({ h: header, index: u, reject: fc.boolean(), hintIndex: u, hintTerm: u }).map(({ h, ...r }) => ({
    ...h,
    kind: 'appendResp' as const,
    ...r,
  })),
  rec({ h: header, commit: u, seq: u }).map(({ h, ...r }) => ({ ...h, kind: 'heartbeat' as const, ...r })),
  rec({ h: header, seq: u }).map(({ h, ...r }) => ({ ...h, kind: 'heartbeatResp' as const, ...r })),
  rec({ h: header, meta: rec({ index: u, term: u, conf }), offset: u, chunk: bytes, done: fc.boolean() }).map(
    ({ h, ...r }) => ({ ...h, kind: 'snapshot' as const, ...r }),
  ),
  rec({ h: header, snapIndex: u, snapTerm: u, offset: u }).map(({ h, ...r }) => ({
    ...h,
    kind: 'snapshotResp' as const,
    ...r,
  })),
  header.map((h) => ({ ...h, kind: 'timeoutNow' as const })),
);

test('raft codec: every message round-trips', () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(decodeMessage(encodeMessage(m)), m);
    }),
    { numRuns: 2000, seed: 1 },
  );
});

test('raft codec: truncated, extended or unknown input is corruption, not garbage', () => {
  fc.assert(
    fc.property(message, fc.nat(), (m, cut) => {
      const buf = encodeMessage(m);
      const short = buf.subarray(0, cut % buf.length);
      assert.throws(() => decodeMessage(short), CorruptionError);
      assert.throws(() => decodeMessage(Buffer.concat([buf, Buffer.from([0])])), CorruptionError);
    }),
    { numRuns: 500, seed: 2 },
  );
  assert.throws(() => decodeMessage(Buffer.from([99, 0, 0, 0, 0])), /unknown message tag 99/);
});

test('raft codec: conf changes round-trip', () => {
  for (const cc of [
    { type: 'addLearner', node: 4 },
    { type: 'addVoter', node: 400000 },
    { type: 'removeNode', node: 1 },
    { type: 'set', conf: { voters: [1, 2, 3], learners: [9] } },
  ] as const) {
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
});

/**
 * The key/value data set the storage-level benchmarks share: N random
 * 16-byte keys and 100-byte values drawn from one seeded PRNG, so every run
 * (and every engine in a run) sees the same bytes. The PRNG is returned for
 * the benchmark's further draws (read order, scan starts), which keeps the
 * whole sequence reproducible from the seed.
 */

import { Prng } from '../src/util/prng.ts';

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;

export interface KvData {
  readonly prng: Prng;
  key(i: number): Buffer;
  value(i: number): Buffer;
}

export function makeKvData(n: number, seed = 20261126): KvData {
  const prng = new Prng(seed);
  const keys = prng.fill(Buffer.allocUnsafe(n * KEY_BYTES)) as Buffer;
  // 1000 distinct values, reused round-robin: enough variety for compression to be honest.
  const values = prng.fill(Buffer.allocUnsafe(VALUE_BYTES * 1024)) as Buffer;
  return {
    prng,
    key: (i) => keys.subarray(i * KEY_BYTES, i * KEY_BYTES + KEY_BYTES),
    value: (i) => values.subarray((i % 1000) * VALUE_BYTES, (i % 1000) * VALUE_BYTES + VALUE_BYTES),
  };
}

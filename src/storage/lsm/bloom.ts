/**
 * Bloom filter over the user keys of one SSTable, so a point read skips
 * tables that cannot hold its key (one hash, k bit probes, no block read).
 *
 * Format: m/8 bytes of bits | u8 k. m = max(64, keys * bitsPerKey) rounded up
 * to a byte; k = round(bitsPerKey * ln 2), clamped to [1, 30]. With the default
 * 10 bits per key the false-positive rate is about 1%.
 *
 * Hash: FNV-1a over the key bytes with a murmur3 finalizer, then double
 * hashing (h, h + d, h + 2d, ...) with d a rotation of h. The hash is
 * computed identically from a Buffer (builder) and from a latin1 string
 * (reader), since a latin1 char code is the byte.
 */

export function bloomHashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix(h);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function buildBloom(hashes: readonly number[], bitsPerKey: number): Buffer {
  const k = Math.min(30, Math.max(1, Math.round(bitsPerKey * 0.69)));
  const bytes = Math.max(8, Math.ceil((hashes.length * bitsPerKey) / 8));
  const bits = bytes * 8;
  const out = Buffer.alloc(bytes + 1);
  for (const hash of hashes) {
    let h = hash;
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    for (let j = 0; j < k; j++) {
      const bit = h % bits;
      out[bit >>> 3]! |= 1 << (bit & 7);
      h = (h + delta) >>> 0;
    }
  }
  out[bytes] = k;
  return out;
}

/** False means the key is certainly absent. A malformed filter answers true (it only costs a read). */
export function bloomMayContain(filter: Buffer, hash: number): boolean {
  const bytes = filter.length - 1;
  if (bytes < 1) return true;
  const k = filter[bytes]!;
  if (k < 1 || k > 30) return true;
  const bits = bytes * 8;
  let h = hash;
  const delta = ((h >>> 17) | (h << 15)) >>> 0;
  for (let j = 0; j < k; j++) {
    const bit = h % bits;
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    h = (h + delta) >>> 0;
  }
  return true;
}

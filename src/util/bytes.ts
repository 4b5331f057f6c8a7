/**
 * Byte helpers shared by the storage and encoding layers.
 *
 * Keys travel through the engine as Buffers. The memtable stores them as
 * latin1 strings (one char per byte), whose `<` comparison equals
 * byte-wise comparison and is several times faster than Buffer.compare.
 */

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * Buffer's own latin1 decoder (what `buf.toString('latin1')` ends in). Called
 * directly it works on any Uint8Array without wrapping it in a Buffer first,
 * which is most of the cost for short keys (every memtable lookup pays it).
 * Not in Node's typings; the fallback keeps a runtime without it working.
 */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }
).latin1Slice;

/** Bytes [start, end) of `b` (default: all), one char per byte; string comparison of the result equals byte comparison. */
export function toLatin1(b: Uint8Array, start = 0, end = b.byteLength): string {
  if (latin1Slice !== undefined) return latin1Slice.call(b, start, end);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', start, end);
}

export function fromLatin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** The smallest key greater than every key that starts with `prefix`, or undefined if none (all 0xff). */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

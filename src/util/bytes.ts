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

/** One char per byte; string comparison of the result equals byte comparison. */
export function toLatin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
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

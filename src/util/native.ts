/**
 * nextdb's optional native helpers (native/nextdb.c, built into
 * build/nextdb.node by scripts/build-native.mjs at install): memory-mapped
 * reads of immutable files and a CRC-32 several times faster than
 * zlib.crc32. Everything works without them, with the same results: callers
 * check `native` and fall back to node:fs reads and zlib.crc32.
 *
 * NEXTDB_NATIVE=0 in the environment leaves them unloaded.
 */

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeHelpers {
  /** The first `length` bytes of the open file `fd`, mapped read-only. Throws on failure. */
  map(fd: number, length: number): ArrayBuffer;
  /** Detaches an ArrayBuffer from map() (its views get length 0), then unmaps it. */
  unmap(mapped: ArrayBuffer): void;
  /** zlib.crc32(bytes.subarray(start, end), crc), without the subarray. */
  crc32(bytes: Uint8Array, start: number, end: number, crc?: number): number;
}

/** Why the helpers are or are not loaded (for logs and `nextdb server` startup). */
export let nativeStatus = '';

function load(): NativeHelpers | undefined {
  if (process.env['NEXTDB_NATIVE'] === '0') {
    nativeStatus = 'native helpers off (NEXTDB_NATIVE=0)';
    return undefined;
  }
  // src/util/native.ts runs from the source tree (tsx) or from dist/src/util: the build dir is at the package root.
  for (const rel of ['../../build/nextdb.node', '../../../build/nextdb.node']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (!fs.existsSync(file)) continue;
    try {
      const helpers = createRequire(import.meta.url)(file) as NativeHelpers;
      nativeStatus = `native helpers loaded from ${file}`;
      return helpers;
    } catch (err) {
      nativeStatus = `native helpers not loaded (${(err as Error).message}); run npm run build:native`;
      return undefined;
    }
  }
  nativeStatus = 'native helpers not built (npm run build:native); using pread and zlib.crc32';
  return undefined;
}

export const native: NativeHelpers | undefined = load();

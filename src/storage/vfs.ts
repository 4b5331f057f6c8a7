/**
 * Vfs: every byte the LSM engine reads or writes goes through this interface,
 * so that tests can swap the real file system (NodeVfs) for an in-memory one
 * that simulates crashes (SimVfs).
 *
 * Model (what the engine may assume, and all it may assume):
 *
 *   - Files are append-only once created: `create` makes an empty file (or
 *     truncates an existing one), `append` adds bytes at the end. There is no
 *     random-access write. This is all an LSM needs, and it lets the crash
 *     model say "the durable content of a file is a prefix of its content".
 *   - Reads are synchronous (`read`, `readAll`): the engine's read path serves
 *     `get` without a Promise, from the block cache first and the OS page cache
 *     second.
 *   - Appended bytes are visible to reads at once and durable only after a
 *     later `sync()` of that file resolves. A crash may keep any prefix of the
 *     unsynced bytes (a "torn" tail), but never reorders them.
 *   - Directory changes (`create`, `rename`, `remove`) are atomic, and durable
 *     only after `syncDir` of the directory resolves. `rename` over an existing
 *     name replaces it atomically (the CURRENT-file switch relies on that).
 *   - `lockDir` takes an exclusive lock on a data directory (a LOCK file) so a
 *     second opener, in this process or another, fails with a clear error.
 *
 * Errors: I/O failures surface as NextDbError (SQLSTATE 58030) or the
 * platform error; a missing file on `open`/`readAll` throws.
 */

export interface VfsFile {
  /** The path this file was opened with (used in error messages). */
  readonly path: string;
  /** Current size in bytes, including bytes not yet synced. */
  size(): number;
  /** Reads up to `length` bytes at `position` into `into` at `offset`; returns the count (short at end of file). */
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  /**
   * Optional: the file's first `size()` bytes as memory, for a file nothing
   * appends to any more (a table), so that reading it costs no system call
   * (NodeVfs: a read-only mmap, when the native helpers are built). Valid
   * until `close()`, which unmaps it: from then on the returned Buffer has
   * length 0, so callers copy out what they keep. undefined when the file
   * cannot be mapped (callers use `read`). Each call returns the same memory.
   */
  map?(): Buffer | undefined;
  /** Appends bytes at the end of the file; visible at once, durable after `sync()`. */
  append(data: Uint8Array): void;
  /**
   * Appends bytes at the end of the file without blocking the caller: the write runs in the background
   * (NodeVfs: pwritev on the libuv thread pool, in call order). `size()` counts the bytes at once; reading
   * them is undefined until a later `sync()` resolves, which waits for the write and makes it durable (a
   * crash before then keeps a prefix of the unsynced bytes, as for `append`). A failed write makes every
   * later `sync()` reject. `data` must not change until that sync resolves.
   */
  appendAsync(data: Uint8Array): void;
  /** Resolves once every byte appended before the call is durable. */
  sync(): Promise<void>;
  /** Releases the handle; idempotent. */
  close(): void;
}

export interface VfsLock {
  /** Releases the lock; idempotent. */
  release(): void;
}

export interface Vfs {
  /** Opens an existing file for reading (and appending). Throws if it does not exist. */
  open(path: string): VfsFile;
  /** Creates an empty file (truncating any existing one) for appending and reading. */
  create(path: string): VfsFile;
  /** The whole content of a file, read synchronously. */
  readAll(path: string): Buffer;
  exists(path: string): boolean;
  /** Names (not paths) of the entries of a directory, sorted. */
  list(dir: string): string[];
  /** Creates a directory and its parents if missing. */
  mkdir(dir: string): void;
  /** Atomically renames `from` to `to`, replacing `to` if it exists. */
  rename(from: string, to: string): void;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): void;
  /**
   * Optional: removes a file off the calling thread (a missing file is not an
   * error). For files nothing needs any more, whose removal may also be lost
   * in a crash (the next open deletes them): unlinking a table of megabytes
   * costs the kernel milliseconds of freeing blocks.
   */
  removeInBackground?(path: string): Promise<void>;
  /**
   * Optional: gives the complete, synced file `from` a second name `to` (a
   * hard link: no bytes copied) or, where the file system cannot link it
   * (another device), copies it to `to` and syncs the copy. `to` must not
   * exist. Resolves true for a link, false for a copy. The new name is
   * durable after `syncDir` of its directory.
   */
  link?(from: string, to: string): Promise<boolean>;
  /** Makes the directory's entries (creates, renames, removes) durable. */
  syncDir(dir: string): Promise<void>;
  /**
   * Locks a data directory for this process. Throws NextDbError (55P03)
   * "data directory <dir> is locked by process <pid>" if another opener holds it.
   */
  lockDir(dir: string): VfsLock;
}

/** Joins a directory and a file name with '/', which both Vfs implementations accept. */
export function vfsJoin(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/**
 * NodeVfs: the Vfs over the real file system (node:fs).
 *
 * Reads and appends are synchronous system calls (pread/pwrite into the OS
 * page cache, microseconds); `sync` and `syncDir` are asynchronous, as
 * fdatasync/fsync on the libuv thread pool, so a group commit never blocks the
 * event loop while the disk works. `appendAsync` queues its bytes and writes
 * them with pwritev on the thread pool too (one write at a time, batching
 * what queued meanwhile): a pwrite can block for as long as a concurrent
 * fdatasync of the same file holds its pages.
 *
 * Locking: Node has no flock(2), so the lock is a LOCK file created with
 * O_EXCL holding the owner's pid, plus an in-process registry (a second open
 * in the same process fails too). A LOCK file whose pid is no longer alive
 * (the owner was killed) is taken over. Limit: if the dead owner's pid has
 * been reused by an unrelated live process, the directory looks locked until
 * the LOCK file is removed by hand; the error message names the pid.
 */

import buffer from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import { NextDbError, SqlState } from '../util/errors.ts';
import { native } from '../util/native.ts';
import type { Vfs, VfsFile, VfsLock } from './vfs.ts';

const lockedDirs = new Set<string>();
/**
 * Larger files are read, never mapped: Node-API's external buffers stop at
 * buffer.constants.MAX_LENGTH (4 GiB on Node 20), and a refused one has
 * already run the mapping's finalizer when native map() frees it again (a
 * double free: the process aborted opening such a table); crc32 also takes
 * its offsets as u32.
 */
const MAX_MAPPED_BYTES = Math.min(buffer.constants.MAX_LENGTH, 2 ** 32 - 1);

class NodeFile implements VfsFile {
  private fd: number;
  private length: number;
  /** appendAsync buffers not yet handed to a write, and the file offset of the first. */
  private queue: Uint8Array[] = [];
  private queuedAt = 0;
  /** Settles when every batch started so far is written; sync() waits for it. */
  private written: Promise<void> | undefined;
  private batchPending = false;
  private closed = false;
  private writeError: NextDbError | undefined;
  /** The mapping map() made (undefined: none yet; null: not mappable). */
  private mapped: Buffer | null | undefined;

  constructor(
    readonly path: string,
    fd: number,
    private readonly mayMap: boolean,
  ) {
    this.fd = fd;
    this.length = fs.fstatSync(fd).size;
  }

  size(): number {
    return this.length;
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, into, offset, length, position);
  }

  map(): Buffer | undefined {
    if (this.mapped === undefined) {
      this.mapped = null;
      if (this.mayMap && native !== undefined && this.length > 0 && this.length <= MAX_MAPPED_BYTES && !this.closed) {
        try {
          this.mapped = Buffer.from(native.map(this.fd, this.length));
        } catch {
          // No address space, or a runtime without external memory: read() still works.
        }
      }
    }
    return this.mapped ?? undefined;
  }

  append(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, this.length + done);
    this.length += data.length;
  }

  appendAsync(data: Uint8Array): void {
    if (this.queue.length === 0) this.queuedAt = this.length;
    this.queue.push(data);
    this.length += data.length;
    if (this.batchPending) return;
    // One write at a time, in call order: the next batch takes everything queued until it starts.
    this.batchPending = true;
    this.written = (this.written ?? Promise.resolve()).then(() => this.writeBatch());
  }

  /** Writes the queued buffers with pwritev (never rejects: a failure is kept in writeError for sync()). */
  private async writeBatch(): Promise<void> {
    this.batchPending = false;
    let bufs = this.queue;
    let at = this.queuedAt;
    this.queue = [];
    if (this.writeError !== undefined) return;
    try {
      for (;;) {
        const n = await writev(this.fd, bufs, at);
        bufs = skipBytes(bufs, n);
        if (bufs.length === 0) break;
        at += n;
      }
    } catch (err) {
      this.writeError = ioError('write', this.path, err);
    }
  }

  sync(): Promise<void> {
    const fd = this.fd;
    const datasync = (): Promise<void> => {
      if (this.writeError !== undefined) return Promise.reject(this.writeError);
      return new Promise((resolve, reject) => {
        fs.fdatasync(fd, (err) => (err ? reject(ioError('fdatasync', this.path, err)) : resolve()));
      });
    };
    // Waits for the background writes of the bytes appended before this call, not for later ones.
    return this.written === undefined ? datasync() : this.written.then(datasync);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.mapped) native?.unmap(this.mapped.buffer as ArrayBuffer);
    const close = (): void => {
      fs.closeSync(this.fd);
      this.fd = -1;
    };
    // Background writes still use the descriptor: close it after them, never under them.
    if (this.written === undefined) close();
    else void this.written.then(close);
  }
}

function writev(fd: number, bufs: Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, bufs, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** The buffers left after the first `n` bytes (a short write). */
function skipBytes(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  if (i === bufs.length) return [];
  const rest = bufs.slice(i);
  rest[0] = rest[0]!.subarray(n);
  return rest;
}

function ioError(op: string, file: string, cause: unknown): NextDbError {
  return new NextDbError(SqlState.ioError, `${op} failed on ${file}: ${(cause as Error).message}`, { cause });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface NodeVfsOptions {
  /**
   * Files may be memory-mapped for reading (VfsFile.map) when the native
   * helpers are built. Default true; false reads every byte with pread.
   */
  readonly mmap?: boolean;
}

export class NodeVfs implements Vfs {
  private readonly mayMap: boolean;

  constructor(options: NodeVfsOptions = {}) {
    this.mayMap = options.mmap ?? true;
  }

  open(p: string): VfsFile {
    return new NodeFile(p, fs.openSync(p, 'r+'), this.mayMap);
  }

  create(p: string): VfsFile {
    return new NodeFile(p, fs.openSync(p, 'w+'), this.mayMap);
  }

  readAll(p: string): Buffer {
    return fs.readFileSync(p);
  }

  exists(p: string): boolean {
    return fs.existsSync(p);
  }

  list(dir: string): string[] {
    return fs.readdirSync(dir).sort();
  }

  mkdir(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  remove(p: string): void {
    fs.rmSync(p, { force: true });
  }

  removeInBackground(p: string): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.unlink(p, (err) => (err === null || err.code === 'ENOENT' ? resolve() : reject(ioError('unlink', p, err))));
    });
  }

  async link(from: string, to: string): Promise<boolean> {
    try {
      await fs.promises.link(from, to);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another file system (EXDEV), or one without hard links: a durable copy instead.
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK')
        throw ioError('link', to, err);
    }
    try {
      await fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL);
      const handle = await fs.promises.open(to, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      return false;
    } catch (err) {
      throw ioError('copy', to, err);
    }
  }

  syncDir(dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.open(dir, 'r', (err, fd) => {
        if (err) return reject(ioError('open', dir, err));
        fs.fsync(fd, (err2) => {
          fs.close(fd, () => (err2 ? reject(ioError('fsync', dir, err2)) : resolve()));
        });
      });
    });
  }

  lockDir(dir: string): VfsLock {
    const abs = path.resolve(dir);
    const lockPath = path.join(abs, 'LOCK');
    if (lockedDirs.has(abs)) throw lockedError(dir, process.pid);
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = fs.openSync(lockPath, 'wx');
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
        let owner = NaN;
        try {
          owner = Number.parseInt(fs.readFileSync(lockPath, 'latin1').trim(), 10);
        } catch {
          // The owner is between creating and writing the file, or just released it: retry.
        }
        if (Number.isFinite(owner) && owner !== process.pid && pidAlive(owner)) throw lockedError(dir, owner);
        // A stale lock (dead owner, or our own pid left by an earlier crashed open): take it over.
        fs.rmSync(lockPath, { force: true });
      }
    }
    lockedDirs.add(abs);
    let held = true;
    return {
      release(): void {
        if (!held) return;
        held = false;
        lockedDirs.delete(abs);
        fs.rmSync(lockPath, { force: true });
      },
    };
  }
}

export function lockedError(dir: string, pid: number): NextDbError {
  return new NextDbError(SqlState.lockNotAvailable, `data directory ${dir} is locked by process ${pid}`, {
    hint: 'Another NextDB process (or engine in this process) has this directory open; stop it first.',
  });
}

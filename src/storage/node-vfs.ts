/**
 * NodeVfs: the Vfs over the real file system (node:fs).
 *
 * Reads and appends are synchronous system calls (pread/pwrite into the OS
 * page cache, microseconds); only `sync` and `syncDir` are asynchronous, as
 * fdatasync/fsync on the libuv thread pool, so a group commit never blocks the
 * event loop while the disk works.
 *
 * Locking: Node has no flock(2), so the lock is a LOCK file created with
 * O_EXCL holding the owner's pid, plus an in-process registry (a second open
 * in the same process fails too). A LOCK file whose pid is no longer alive
 * (the owner was killed) is taken over. Limit: if the dead owner's pid has
 * been reused by an unrelated live process, the directory looks locked until
 * the LOCK file is removed by hand; the error message names the pid.
 */

import fs from 'node:fs';
import path from 'node:path';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { Vfs, VfsFile, VfsLock } from './vfs.ts';

const lockedDirs = new Set<string>();

class NodeFile implements VfsFile {
  private fd: number;
  private length: number;

  constructor(
    readonly path: string,
    fd: number,
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

  append(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, this.length + done);
    this.length += data.length;
  }

  sync(): Promise<void> {
    const fd = this.fd;
    return new Promise((resolve, reject) => {
      fs.fdatasync(fd, (err) => (err ? reject(ioError('fdatasync', this.path, err)) : resolve()));
    });
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
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

export class NodeVfs implements Vfs {
  open(p: string): VfsFile {
    return new NodeFile(p, fs.openSync(p, 'r+'));
  }

  create(p: string): VfsFile {
    return new NodeFile(p, fs.openSync(p, 'w+'));
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

/**
 * SimVfs: an in-memory Vfs that simulates crashes, deterministically from a
 * seed, for crash and fault-injection tests.
 *
 * Model (matches the contract in vfs.ts):
 *
 *   - A file is an inode: its bytes, and `durableSize`, the length of the
 *     prefix a crash is guaranteed to keep. `sync()` sets durableSize = size.
 *     Files are append-only, so the durable content is always a prefix.
 *   - The namespace (name -> inode) has a live copy and a durable copy;
 *     `syncDir(dir)` copies the live entries under `dir` into the durable one.
 *     So a created, renamed or removed file may "come back" after a crash
 *     unless the directory was synced: exactly what recovery must survive.
 *   - `crash()` reverts the namespace to its durable copy and every inode to
 *     its durable prefix. With `tornWrites`, a random (seeded) prefix of each
 *     inode's unsynced bytes survives instead, as a real disk may persist part
 *     of what the OS had buffered. Handles opened before the crash become dead:
 *     every call on them throws, so an abandoned engine cannot write into the
 *     "rebooted" disk. Locks are dropped (the process died).
 *   - `fault`: a hook called before every operation; returning an Error makes
 *     that operation throw it (or reject, for async ones): EIO injection.
 */

import { NextDbError, SqlState } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import type { Vfs, VfsFile, VfsLock } from './vfs.ts';

export type SimOp =
  'open' | 'create' | 'read' | 'append' | 'sync' | 'rename' | 'remove' | 'syncDir' | 'list' | 'readAll' | 'link';

export interface SimVfsOptions {
  readonly seed?: number;
  /** On crash, keep a random prefix of unsynced bytes instead of none. */
  readonly tornWrites?: boolean;
  /**
   * Files offer VfsFile.map (default true), as NodeVfs does with the native
   * helpers: the mapping is a copy of the file's bytes at the call, which
   * close() detaches (length 0 after), like an unmapped mapping.
   */
  readonly map?: boolean;
}

class Inode {
  bytes: Buffer = Buffer.alloc(256);
  size = 0;
  durableSize = 0;

  append(data: Uint8Array): void {
    if (this.size + data.length > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(this.bytes.length * 2, this.size + data.length));
      this.bytes.copy(grown, 0, 0, this.size);
      this.bytes = grown;
    }
    this.bytes.set(data, this.size);
    this.size += data.length;
  }
}

function normalize(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

export class SimVfs implements Vfs {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  private locks = new Set<string>();
  private syncDirCalls = 0;
  /** Per directory, the latest syncDir call whose snapshot is durable. */
  private readonly dirSyncApplied = new Map<string, number>();
  private epoch = 0;
  private readonly prng: Prng;
  private readonly tornWrites: boolean;
  /** @internal SimVfsOptions.map. */
  readonly mapFiles: boolean;
  /**
   * Latency injection: return a promise to hold a file's `sync()` until it settles (a slow fsync), so
   * tests can make syncs finish out of order. The sync still covers the bytes appended before its call.
   */
  syncGate: ((path: string) => Promise<void> | undefined) | undefined = undefined;
  /** Fault injection: return an Error to make the operation fail. */
  fault: ((op: SimOp, path: string) => Error | undefined) | undefined = undefined;
  /** Counters, for tests that check what the engine did. */
  readonly counts: Record<SimOp, number> = {
    open: 0,
    create: 0,
    read: 0,
    append: 0,
    sync: 0,
    rename: 0,
    remove: 0,
    syncDir: 0,
    list: 0,
    readAll: 0,
    link: 0,
  };

  constructor(options: SimVfsOptions = {}) {
    this.prng = new Prng(options.seed ?? 1);
    this.tornWrites = options.tornWrites ?? false;
    this.mapFiles = options.map ?? true;
  }

  /** Simulates a power loss: unsynced data and directory changes are lost (or torn). */
  crash(): void {
    this.epoch++;
    this.locks.clear();
    const survivors = new Map<string, Inode>();
    const seen = new Set<Inode>();
    for (const [name, inode] of this.durableNames) {
      survivors.set(name, inode);
      if (seen.has(inode)) continue;
      seen.add(inode);
      let keep = inode.durableSize;
      const unsynced = inode.size - inode.durableSize;
      if (this.tornWrites && unsynced > 0) keep += this.prng.int(unsynced + 1);
      inode.size = keep;
      inode.durableSize = keep;
    }
    this.names = survivors;
    this.durableNames = new Map(survivors);
  }

  /** Raw bytes of a live file (tests flip bytes through this). */
  rawBytes(path: string): Buffer {
    const inode = this.inode(normalize(path));
    return inode.bytes.subarray(0, inode.size);
  }

  /** Test hook: cuts a live file to `size` bytes (durable too), as a torn append would. */
  truncate(path: string, size: number): void {
    const inode = this.inode(normalize(path));
    inode.size = Math.min(inode.size, size);
    inode.durableSize = Math.min(inode.durableSize, inode.size);
  }

  open(path: string): VfsFile {
    const p = normalize(path);
    this.check('open', p);
    return new SimFile(this, p, this.inode(p), this.epoch);
  }

  create(path: string): VfsFile {
    const p = normalize(path);
    this.check('create', p);
    if (!this.dirs.has(dirOf(p))) throw enoent(dirOf(p));
    const inode = new Inode();
    this.names.set(p, inode);
    return new SimFile(this, p, inode, this.epoch);
  }

  readAll(path: string): Buffer {
    const p = normalize(path);
    this.check('readAll', p);
    const inode = this.inode(p);
    return Buffer.from(inode.bytes.subarray(0, inode.size));
  }

  exists(path: string): boolean {
    const p = normalize(path);
    return this.names.has(p) || this.dirs.has(p);
  }

  list(dir: string): string[] {
    const d = normalize(dir);
    this.check('list', d);
    const prefix = d === '/' ? '/' : `${d}/`;
    const out: string[] = [];
    for (const name of this.names.keys()) {
      if (name.startsWith(prefix) && !name.slice(prefix.length).includes('/')) out.push(name.slice(prefix.length));
    }
    return out.sort();
  }

  mkdir(dir: string): void {
    // Directories themselves are modelled as always durable: the engine creates its directory once, up front.
    let p = normalize(dir);
    while (p !== '/') {
      this.dirs.add(p);
      p = dirOf(p);
    }
  }

  rename(from: string, to: string): void {
    const f = normalize(from);
    const t = normalize(to);
    this.check('rename', f);
    const inode = this.inode(f);
    this.names.delete(f);
    this.names.set(t, inode);
  }

  /** A second name for the same inode (a hard link), durable after syncDir like any directory change. */
  link(from: string, to: string): Promise<boolean> {
    try {
      const f = normalize(from);
      const t = normalize(to);
      this.check('link', t);
      if (this.names.has(t)) throw new Error(`EEXIST: file already exists, link '${f}' -> '${t}'`);
      if (!this.dirs.has(dirOf(t))) throw enoent(t);
      this.names.set(t, this.inode(f));
      return Promise.resolve(true);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  remove(path: string): void {
    const p = normalize(path);
    this.check('remove', p);
    this.names.delete(p);
  }

  syncDir(dir: string): Promise<void> {
    const d = normalize(dir);
    const epoch = this.epoch;
    try {
      this.check('syncDir', d);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const prefix = d === '/' ? '/' : `${d}/`;
    // Snapshot the namespace now (what the fsync covers), apply on completion.
    const live = [...this.names].filter(([n]) => n.startsWith(prefix) && !n.slice(prefix.length).includes('/'));
    const call = ++this.syncDirCalls;
    const gate = this.syncGate?.(d) ?? Promise.resolve();
    return new Promise((resolve, reject) => {
      void gate.then(() => setImmediate(apply));
      const apply = (): void => {
        if (epoch !== this.epoch) return reject(deadHandle(d));
        // A directory sync that finishes after a later one must not undo it: the later one made durable every
        // change made before it was called, which includes everything this one covers.
        if (call < (this.dirSyncApplied.get(d) ?? 0)) return resolve();
        this.dirSyncApplied.set(d, call);
        for (const n of [...this.durableNames.keys()]) {
          if (n.startsWith(prefix) && !n.slice(prefix.length).includes('/')) this.durableNames.delete(n);
        }
        for (const [n, inode] of live) this.durableNames.set(n, inode);
        resolve();
      };
    });
  }

  lockDir(dir: string): VfsLock {
    const d = normalize(dir);
    if (this.locks.has(d))
      throw new NextDbError(SqlState.lockNotAvailable, `data directory ${dir} is locked by process ${process.pid}`);
    this.locks.add(d);
    const epoch = this.epoch;
    return {
      release: (): void => {
        if (epoch === this.epoch) this.locks.delete(d);
      },
    };
  }

  /** @internal used by SimFile. */
  check(op: SimOp, path: string, epoch?: number): void {
    if (epoch !== undefined && epoch !== this.epoch) throw deadHandle(path);
    this.counts[op]++;
    const err = this.fault?.(op, path);
    if (err !== undefined) throw err;
  }

  /** @internal */
  get currentEpoch(): number {
    return this.epoch;
  }

  private inode(p: string): Inode {
    const inode = this.names.get(p);
    if (inode === undefined) throw enoent(p);
    return inode;
  }
}

class SimFile implements VfsFile {
  private closed = false;
  private mapped: Buffer | undefined;
  private writeError: Error | undefined;
  constructor(
    private readonly vfs: SimVfs,
    readonly path: string,
    private readonly inode: Inode,
    private readonly epoch: number,
  ) {}

  size(): number {
    this.vfs.check('read', this.path, this.epoch);
    return this.inode.size;
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    this.vfs.check('read', this.path, this.epoch);
    const n = Math.max(0, Math.min(length, this.inode.size - position));
    if (n > 0) into.set(this.inode.bytes.subarray(position, position + n), offset);
    return n;
  }

  map(): Buffer | undefined {
    if (this.mapped === undefined) {
      if (!this.vfs.mapFiles || this.closed) return undefined;
      this.vfs.check('read', this.path, this.epoch);
      if (this.inode.size === 0) return undefined;
      this.mapped = Buffer.from(new Uint8Array(this.inode.bytes.subarray(0, this.inode.size)).buffer);
    }
    return this.mapped;
  }

  append(data: Uint8Array): void {
    this.vfs.check('append', this.path, this.epoch);
    if (this.closed) throw new Error(`append to closed file ${this.path}`);
    this.inode.append(data);
  }

  /** Appends at once (visible, lost or torn on a crash until synced); a failure rejects the later syncs. */
  appendAsync(data: Uint8Array): void {
    try {
      this.append(data);
    } catch (err) {
      this.writeError ??= err as Error;
    }
  }

  sync(): Promise<void> {
    try {
      this.vfs.check('sync', this.path, this.epoch);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.writeError !== undefined) return Promise.reject(this.writeError);
    const covered = this.inode.size;
    const gate = this.vfs.syncGate?.(this.path) ?? Promise.resolve();
    // Completes on a later turn of the event loop, like a real fsync, so that
    // writers can pile up behind it (group commit) and crashes can land mid-sync.
    return new Promise((resolve, reject) => {
      void gate.then(() =>
        setImmediate(() => {
          if (this.epoch !== this.vfs.currentEpoch) return reject(deadHandle(this.path));
          if (covered > this.inode.durableSize) this.inode.durableSize = Math.min(covered, this.inode.size);
          resolve();
        }),
      );
    });
  }

  close(): void {
    this.closed = true;
    // Detach the mapping's memory (transfer it away), so any view still held sees length 0, as after munmap.
    if (this.mapped !== undefined)
      structuredClone(this.mapped.buffer, { transfer: [this.mapped.buffer as ArrayBuffer] });
    this.mapped = undefined;
  }
}

function enoent(p: string): Error {
  const err = new Error(`ENOENT: no such file or directory, ${p}`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  return err;
}

function deadHandle(p: string): NextDbError {
  return new NextDbError(SqlState.ioError, `simulated crash: handle on ${p} is gone`);
}

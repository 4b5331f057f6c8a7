/**
 * SocketWriter: the `write` system calls of PostgreSQL connections, made on
 * a worker thread.
 *
 * Why: on loopback each reply write wakes the client, and the woken client
 * preempts whichever thread made the write. With the writes on the event
 * loop thread, that thread (which also parses, plans and runs every
 * statement) lost about 0.65 involuntary context switches per pgbench -S
 * transaction; a third of its wall time was spent runnable inside `write`.
 * On a separate thread the preemptions land there, and the event loop also
 * sheds the write path (Writable.write, a WriteWrap, the after-write tick).
 *
 * How: the event loop appends each reply batch (fd, slot, bytes) to a
 * single-producer single-consumer ring in a SharedArrayBuffer and wakes the
 * writer once per event-loop turn (Atomics.notify, only when it sleeps).
 * The writer (no event loop of its own: it blocks in Atomics.wait) writes
 * each batch with write(2) on the socket's file descriptor. libuv never
 * writes to such a socket (Node's socket.write is not called for it), so
 * the two threads never interleave bytes on one connection, and batches of
 * one connection leave in order. Reads stay on the event loop.
 *
 * Direct writes: when the event loop has few replies in a turn (it is
 * keeping up with its clients, so the writer's wake-up and its extra
 * thread hop cost more latency than the write itself), it writes them
 * with `write()` below on its own thread, provided the writer has finished
 * every batch of that connection (so nothing can be overtaken); what the
 * socket does not take goes to the ring as usual. The server decides per
 * turn (pg-server.ts).
 *
 * A socket whose send buffer is full (EAGAIN, a client not reading its
 * results): the writer copies the rest of that batch, and every later batch
 * of the same connection, to a backlog of its own and retries it every
 * 2 ms; the event loop stops reading from that client while its backlog is
 * over `backlogHighWaterBytes` (as it does for socket.write's buffer). A
 * write error (EPIPE, ECONNRESET) drops the batch: the read side sees the
 * connection end.
 *
 * File descriptors: the writer must never write to a descriptor after Node
 * closed it (the number could already belong to a new connection). Each
 * connection holds a slot; the writer counts every batch it finished
 * (written or dropped) per slot, and the socket's close is held back until
 * the writer has finished every batch pushed for it (see
 * `guardDestroy`). A slot is reused only after that.
 */

import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

// Control words (Int32Array indexes).
const HEAD = 0; // producer position in the ring (bytes)
const TAIL = 1; // consumer position
const SEQ = 2; // bumped by notify()
const WRITER_WAITING = 3;
const STOP = 4;
const TAIL_SEQ = 5; // bumped by the writer when it frees ring space while the producer waits
const PRODUCER_WAITING = 6;
const CONTROL_WORDS = 16;

/** Entry header: fd, slot, length (int32 each); the payload follows, padded to 4 bytes. */
const ENTRY_HEADER = 12;
/** fd value of a wrap marker: the next entry starts at offset 0. */
const WRAP = -1;

const defaultRingBytes = 4 << 20;
const defaultSlots = 4096;
/** Larger batches are pushed in pieces of at most this many bytes. */
const maxEntryBytes = 256 << 10;
/** A slow client's backlog above this pauses reading from it. */
export const backlogHighWaterBytes = 1 << 20;

/**
 * The writer thread's program (plain JavaScript, evaluated in the worker:
 * nothing to resolve or transpile there). Layout as above; `done[slot]`
 * counts finished entries, `backlog[slot]` the bytes waiting in its backlog,
 * `drop[slot]` asks it to discard that slot's entries.
 */
const writerProgram = `
'use strict';
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { sab, ringBytes, slots } = workerData;
const ctl = new Int32Array(sab, 0, ${CONTROL_WORDS});
const done = new Int32Array(sab, ${CONTROL_WORDS * 4}, slots);
const backlogBytes = new Int32Array(sab, ${CONTROL_WORDS * 4} + slots * 4, slots);
const drop = new Int32Array(sab, ${CONTROL_WORDS * 4} + slots * 8, slots);
const ringStart = ${CONTROL_WORDS * 4} + slots * 12;
const ring = Buffer.from(sab, ringStart, ringBytes);
const ring32 = new Int32Array(sab, ringStart, ringBytes >> 2);
// slot -> { fd, items: Buffer[] } for sockets that returned EAGAIN
const backlogs = new Map();

function finish(slot) {
  Atomics.add(done, slot, 1);
}

/** Writes buf[off, off+len) to fd; returns bytes written, or -1 on a hard error. */
function writeSome(fd, buf, off, len) {
  let written = 0;
  while (written < len) {
    try {
      written += writeSync(fd, buf, off + written, len - written);
    } catch (err) {
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') return written;
      if (err.code === 'EINTR') continue;
      return -1;
    }
  }
  return written;
}

function deferRest(slot, fd, buf, off, len) {
  let b = backlogs.get(slot);
  if (b === undefined) backlogs.set(slot, (b = { fd, items: [] }));
  b.items.push(Buffer.from(buf.subarray(off, off + len)));
  Atomics.add(backlogBytes, slot, len);
}

function drainRing() {
  let tail = Atomics.load(ctl, ${TAIL});
  const head = Atomics.load(ctl, ${HEAD});
  while (tail !== head) {
    const fd = ring32[tail >> 2];
    if (fd === ${WRAP}) {
      tail = 0;
      Atomics.store(ctl, ${TAIL}, 0);
      continue;
    }
    const slot = ring32[(tail >> 2) + 1];
    const len = ring32[(tail >> 2) + 2];
    const off = tail + ${ENTRY_HEADER};
    if (Atomics.load(drop, slot) !== 0) finish(slot);
    else if (backlogs.has(slot)) deferRest(slot, fd, ring, off, len);
    else {
      const n = writeSome(fd, ring, off, len);
      if (n < 0 || n === len) finish(slot);
      else deferRest(slot, fd, ring, off + n, len - n);
    }
    tail = off + ((len + 3) & ~3);
    if (tail >= ringBytes) tail = 0;
    Atomics.store(ctl, ${TAIL}, tail);
    if (Atomics.load(ctl, ${PRODUCER_WAITING}) !== 0) {
      Atomics.add(ctl, ${TAIL_SEQ}, 1);
      Atomics.notify(ctl, ${TAIL_SEQ});
    }
  }
}

function retryBacklogs() {
  for (const [slot, b] of backlogs) {
    const dropping = Atomics.load(drop, slot) !== 0;
    while (b.items.length > 0) {
      const item = b.items[0];
      const n = dropping ? -1 : writeSome(b.fd, item, 0, item.length);
      if (n >= 0 && n < item.length) {
        b.items[0] = item.subarray(n);
        Atomics.sub(backlogBytes, slot, n);
        break;
      }
      b.items.shift();
      Atomics.sub(backlogBytes, slot, item.length);
      finish(slot);
    }
    if (b.items.length === 0) backlogs.delete(slot);
  }
}

for (;;) {
  const seq = Atomics.load(ctl, ${SEQ});
  if (Atomics.load(ctl, ${STOP}) !== 0) break;
  drainRing();
  if (backlogs.size > 0) retryBacklogs();
  if (Atomics.load(ctl, ${HEAD}) !== Atomics.load(ctl, ${TAIL})) continue;
  Atomics.store(ctl, ${WRITER_WAITING}, 1);
  if (Atomics.load(ctl, ${HEAD}) === Atomics.load(ctl, ${TAIL}) && Atomics.load(ctl, ${STOP}) === 0)
    Atomics.wait(ctl, ${SEQ}, seq, backlogs.size > 0 ? 2 : Infinity);
  Atomics.store(ctl, ${WRITER_WAITING}, 0);
}
`;

export interface SocketWriterOptions {
  readonly ringBytes?: number;
  readonly slots?: number;
  /** Called once if the writer thread fails or exits unexpectedly. */
  readonly onFailure?: (err: Error) => void;
}

export class SocketWriter {
  private readonly ringBytes: number;
  private readonly slots: number;
  private readonly ctl: Int32Array;
  private readonly done: Int32Array;
  private readonly backlog: Int32Array;
  private readonly dropFlags: Int32Array;
  private readonly ring: Uint8Array;
  private readonly ring32: Int32Array;
  /** Entries pushed per slot (compared with the writer's done count, both wrapping at 2^32). */
  private readonly pushed: Int32Array;
  private readonly freeSlots: number[] = [];
  private readonly worker: Worker;
  private head = 0;
  private dirty = false;
  private failed = false;
  private stopped = false;

  constructor(options: SocketWriterOptions = {}) {
    this.ringBytes = options.ringBytes ?? defaultRingBytes;
    this.slots = options.slots ?? defaultSlots;
    if (this.ringBytes % 4 !== 0 || this.ringBytes < 4 * maxEntryBytes)
      throw new RangeError(`ring of ${this.ringBytes} bytes is too small`);
    const slots = this.slots;
    const ringStart = CONTROL_WORDS * 4 + slots * 12;
    const sab = new SharedArrayBuffer(ringStart + this.ringBytes);
    this.ctl = new Int32Array(sab, 0, CONTROL_WORDS);
    this.done = new Int32Array(sab, CONTROL_WORDS * 4, slots);
    this.backlog = new Int32Array(sab, CONTROL_WORDS * 4 + slots * 4, slots);
    this.dropFlags = new Int32Array(sab, CONTROL_WORDS * 4 + slots * 8, slots);
    this.ring = new Uint8Array(sab, ringStart, this.ringBytes);
    this.ring32 = new Int32Array(sab, ringStart, this.ringBytes >> 2);
    this.pushed = new Int32Array(slots);
    for (let i = slots - 1; i >= 0; i--) this.freeSlots.push(i);
    this.worker = new Worker(writerProgram, {
      eval: true,
      workerData: { sab, ringBytes: this.ringBytes, slots },
      // The program needs no loader; do not inherit one (tsx) or an --eval/--input-type.
      execArgv: [],
    });
    this.worker.unref();
    const fail = (err: Error): void => {
      if (this.failed || this.stopped) return;
      this.failed = true;
      options.onFailure?.(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`socket writer thread exited with code ${code}`)));
  }

  /** False once the writer thread has failed: connections must not use it any more. */
  get usable(): boolean {
    return !this.failed && !this.stopped;
  }

  /** A slot for a new connection, or undefined when none is free (the connection writes directly). */
  acquire(): number | undefined {
    if (!this.usable) return undefined;
    const slot = this.freeSlots.pop();
    if (slot === undefined) return undefined;
    this.pushed[slot] = 0;
    Atomics.store(this.done, slot, 0);
    Atomics.store(this.dropFlags, slot, 0);
    return slot;
  }

  /** Returns a slot whose batches are all finished (idle(slot)). */
  release(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** Whether the writer has finished (written or dropped) every batch pushed for the slot. */
  idle(slot: number): boolean {
    return this.failed || this.stopped || Atomics.load(this.done, slot) === this.pushed[slot];
  }

  /** Bytes of the slot's batches waiting because its socket buffer is full. */
  backlogBytes(slot: number): number {
    return Atomics.load(this.backlog, slot);
  }

  /** Discard the slot's unwritten batches (its socket is being destroyed). */
  drop(slot: number): void {
    Atomics.store(this.dropFlags, slot, 1);
    this.notify();
  }

  /**
   * Queues bytes for fd. They leave at the next notify() (the server calls it
   * once at the end of each event-loop turn's I/O phase). Blocks briefly
   * only when the ring is full.
   */
  push(fd: number, slot: number, data: Uint8Array): void {
    for (let off = 0; off < data.length; off += maxEntryBytes) {
      const end = Math.min(data.length, off + maxEntryBytes);
      this.pushEntry(fd, slot, data.subarray(off, end));
    }
  }

  /**
   * Writes bytes for fd now, on the calling thread, when the writer has
   * finished every batch of the slot (else push(): they must not overtake
   * one). What the socket does not take (EAGAIN, a partial write, EINTR)
   * is pushed for the writer, which keeps retrying; a write error (EPIPE,
   * ECONNRESET) drops the bytes, as the writer does: the read side sees the
   * connection end. Like push(), the bytes still pushed leave at notify().
   */
  write(fd: number, slot: number, data: Uint8Array): void {
    if (!this.usable || Atomics.load(this.done, slot) !== this.pushed[slot]) return this.push(fd, slot, data);
    let n = 0;
    try {
      n = writeSync(fd, data);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') return;
    }
    if (n < data.length) this.push(fd, slot, n === 0 ? data : data.subarray(n));
  }

  private pushEntry(fd: number, slot: number, data: Uint8Array): void {
    const len = data.length;
    const need = ENTRY_HEADER + ((len + 3) & ~3);
    let head = this.head;
    // Room to the end of the ring for the entry and at least a wrap marker after it.
    const wrap = head + need > this.ringBytes;
    this.waitForRoom(wrap ? this.ringBytes - head + need : need);
    if (wrap) {
      this.ring32[head >> 2] = WRAP;
      head = 0;
    }
    const h = head >> 2;
    this.ring32[h] = fd;
    this.ring32[h + 1] = slot;
    this.ring32[h + 2] = len;
    this.ring.set(data, head + ENTRY_HEADER);
    head += need;
    if (head >= this.ringBytes) head = 0;
    this.head = head;
    this.pushed[slot] = (this.pushed[slot]! + 1) | 0;
    Atomics.store(this.ctl, HEAD, head);
    this.dirty = true;
  }

  /** Waits until `bytes` can be appended without reaching the tail (the ring keeps one word free). */
  private waitForRoom(bytes: number): void {
    for (;;) {
      const tail = Atomics.load(this.ctl, TAIL);
      const used = this.head >= tail ? this.head - tail : this.ringBytes - tail + this.head;
      if (this.ringBytes - used > bytes + 4 || !this.usable) return;
      this.notify();
      const seq = Atomics.load(this.ctl, TAIL_SEQ);
      Atomics.store(this.ctl, PRODUCER_WAITING, 1);
      if (Atomics.load(this.ctl, TAIL) === tail) Atomics.wait(this.ctl, TAIL_SEQ, seq, 10);
      Atomics.store(this.ctl, PRODUCER_WAITING, 0);
    }
  }

  /** Wakes the writer if anything was pushed since the last call. */
  notify(): void {
    if (!this.dirty) return;
    this.dirty = false;
    Atomics.add(this.ctl, SEQ, 1);
    if (Atomics.load(this.ctl, WRITER_WAITING) !== 0) Atomics.notify(this.ctl, SEQ, 1);
  }

  /** Ends the writer thread (after the server's sockets are gone). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ, 1);
    await this.worker.terminate();
  }
}

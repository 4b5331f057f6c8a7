/**
 * RaftLogStore: the durable hard state, snapshot and log of every Raft group
 * on a node, in one segmented append-only file set on a Vfs (NodeVfs in
 * production, SimVfs in crash tests).
 *
 *   <dir>/raft-<seq>.log   segments, replayed in sequence order
 *
 * Every segment is a sequence of checksummed records (the framing of
 * src/storage/lsm/record-log.ts: length, CRC32 of payload, CRC32 of header).
 * Two record kinds, each for one group:
 *
 *   READY    [snapshot] entries [hardState] — one Ready's persistent part.
 *            A snapshot replaces the group's whole log; entries truncate the
 *            log at entries[0].index and append. Writing all three as ONE
 *            record makes them atomic: the hard state (whose commit may point
 *            into the entries) can never survive without its entries.
 *   COMPACT  snapshot — a local state-machine snapshot: entries up to its
 *            index are dropped.
 *
 * Durability: `save`/`compact` append in the background (Vfs.appendAsync:
 * the write runs on the thread pool, not on the event loop); `sync()`
 * resolves once everything appended before it is written and durable, and
 * concurrent callers share one fdatasync (group commit) — the driver awaits
 * it before sending the Ready's messages.
 *
 * Space: when the active segment exceeds `segmentBytes`, the next sync
 * starts a new segment with a READY checkpoint (snapshot + entries + hard
 * state) of every group, makes it durable, and only then deletes the older
 * segments. Recovery replays all segments; a torn record at the very end of
 * the last segment (a crash mid-append) ends the replay, and opening always
 * starts a fresh segment, so the torn bytes are never appended after. A bad
 * checksum anywhere else is a CorruptionError naming the file.
 *
 * Memory: the store keeps each group's live state (snapshot + entries since)
 * in memory, as the Raft node does; compaction bounds both.
 */

import { assert } from '../util/assert.ts';
import { CorruptionError } from '../util/errors.ts';
import type { Vfs, VfsFile } from '../storage/vfs.ts';
import { vfsJoin } from '../storage/vfs.ts';
import { frameRecord, readRecords } from '../storage/lsm/record-log.ts';
import {
  ByteReader,
  ByteWriter,
  readEntry,
  readHardState,
  readSnapshotMeta,
  writeEntry,
  writeHardState,
  writeSnapshotMeta,
} from './codec.ts';
import type { Entry, GroupId, HardState, RaftInitialState, Ready, Snapshot } from './types.ts';
import { NONE } from './types.ts';
import { emptySnapshot } from './raft-node.ts';

const REC_READY = 1;
const REC_COMPACT = 2;
const FLAG_SNAPSHOT = 1;
const FLAG_HARD_STATE = 2;
const SEGMENT_RE = /^raft-(\d{16})\.log$/;

export interface RaftLogStoreOptions {
  /** Rotate (checkpoint and drop old segments) beyond this many bytes. */
  readonly segmentBytes?: number;
}

interface GroupState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

function segmentName(seq: number): string {
  return `raft-${String(seq).padStart(16, '0')}.log`;
}

export class RaftLogStore {
  private readonly groupStates = new Map<GroupId, GroupState>();
  private active!: VfsFile;
  private activeSeq = 0;
  private oldSegments: string[] = [];
  private syncing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private rotating = false;
  private readonly w = new ByteWriter(4096);
  private closed = false;

  private constructor(
    private readonly vfs: Vfs,
    private readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  static async open(vfs: Vfs, dir: string, options: RaftLogStoreOptions = {}): Promise<RaftLogStore> {
    const store = new RaftLogStore(vfs, dir, options.segmentBytes ?? 64 << 20);
    vfs.mkdir(dir);
    const segments = vfs
      .list(dir)
      .filter((n) => SEGMENT_RE.test(n))
      .sort();
    segments.forEach((name, i) => store.replay(name, i === segments.length - 1));
    const lastSeq = segments.length === 0 ? 0 : Number(SEGMENT_RE.exec(segments[segments.length - 1]!)![1]);
    store.oldSegments = segments;
    await store.startSegment(lastSeq + 1);
    return store;
  }

  /** Groups with durable state. */
  groups(): GroupId[] {
    return [...this.groupStates.keys()].sort((a, b) => a - b);
  }

  /** The state a RaftNode of `group` restarts from, or undefined for a group never saved. */
  initialState(group: GroupId): RaftInitialState | undefined {
    const g = this.groupStates.get(group);
    if (g === undefined) return undefined;
    return { hardState: g.hardState, snapshot: g.snapshot, entries: [...g.entries] };
  }

  /** Appends the persistent part of a Ready (durable after the next sync()). */
  save(group: GroupId, rd: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>): void {
    if (rd.hardState === undefined && rd.entries.length === 0 && rd.snapshot === undefined) return;
    this.append(this.encodeReady(group, rd.snapshot, rd.entries, rd.hardState));
    this.applyReady(group, rd.snapshot, rd.entries, rd.hardState);
  }

  /** Records a local snapshot and drops the entries it covers. */
  compact(group: GroupId, snapshot: Snapshot): void {
    const w = this.w;
    w.reset();
    w.u8(REC_COMPACT);
    w.uint(group);
    writeSnapshotMeta(w, snapshot.meta);
    w.bytes(snapshot.data);
    this.append(frameRecord(w.view()));
    this.applyCompact(group, snapshot);
  }

  /** Resolves once everything appended before the call is durable; one fdatasync serves many callers. */
  sync(): Promise<void> {
    if (this.syncing === undefined) {
      const file = this.active;
      this.syncing = file.sync().then(
        () => {
          this.syncing = undefined;
          return this.maybeRotate();
        },
        (err: unknown) => {
          this.syncing = undefined;
          throw err;
        },
      );
      return this.syncing;
    }
    // A sync is running; bytes appended since it started need the next one.
    this.queued ??= this.syncing.then(
      () => {
        this.queued = undefined;
        return this.sync();
      },
      () => {
        this.queued = undefined;
        return this.sync();
      },
    );
    return this.queued;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    this.active.close();
  }

  // ───────────── internals ─────────────

  private append(record: Buffer): void {
    assert(!this.closed, 'raft log store: append after close');
    // In the background (the Vfs's pwrite on the thread pool), off the event loop; sync() waits for it.
    this.active.appendAsync(record);
  }

  private encodeReady(
    group: GroupId,
    snapshot: Snapshot | undefined,
    entries: readonly Entry[],
    hs: HardState | undefined,
  ): Buffer {
    const w = this.w;
    w.reset();
    w.u8(REC_READY);
    w.uint(group);
    w.u8((snapshot !== undefined ? FLAG_SNAPSHOT : 0) | (hs !== undefined ? FLAG_HARD_STATE : 0));
    if (snapshot !== undefined) {
      writeSnapshotMeta(w, snapshot.meta);
      w.bytes(snapshot.data);
    }
    w.uint(entries.length);
    for (const e of entries) writeEntry(w, e);
    if (hs !== undefined) writeHardState(w, hs);
    return frameRecord(w.view());
  }

  private group(group: GroupId): GroupState {
    let g = this.groupStates.get(group);
    if (g === undefined) {
      g = {
        hardState: { term: 0, vote: NONE, commit: 0 },
        snapshot: emptySnapshot(),
        entries: [],
      };
      this.groupStates.set(group, g);
    }
    return g;
  }

  private applyReady(
    group: GroupId,
    snapshot: Snapshot | undefined,
    entries: readonly Entry[],
    hs: HardState | undefined,
  ): void {
    const g = this.group(group);
    if (snapshot !== undefined) {
      g.snapshot = snapshot;
      g.entries = [];
    }
    const first = entries[0];
    if (first !== undefined) {
      const keep = first.index - g.snapshot.meta.index - 1;
      assert(
        keep >= 0 && keep <= g.entries.length,
        `raft log store: group ${group} entries from ${first.index} leave a gap`,
      );
      g.entries.length = keep;
      for (const e of entries) g.entries.push(e);
    }
    if (hs !== undefined) g.hardState = hs;
  }

  private applyCompact(group: GroupId, snapshot: Snapshot): void {
    const g = this.group(group);
    const drop = snapshot.meta.index - g.snapshot.meta.index;
    if (drop <= 0) return;
    g.entries = g.entries.slice(Math.min(drop, g.entries.length));
    g.snapshot = snapshot;
  }

  private replay(name: string, isLast: boolean): void {
    const path = vfsJoin(this.dir, name);
    const { records, torn } = readRecords(this.vfs.readAll(path), path);
    if (torn && !isLast) throw new CorruptionError(path, 'torn record in a segment that is not the last');
    for (const rec of records) {
      const r = new ByteReader(rec, path);
      const kind = r.u8();
      const group = r.uint();
      if (kind === REC_READY) {
        const flags = r.u8();
        let snapshot: Snapshot | undefined;
        if ((flags & FLAG_SNAPSHOT) !== 0) {
          const meta = readSnapshotMeta(r);
          snapshot = { meta, data: Buffer.from(r.bytes()) };
        }
        const entries: Entry[] = [];
        for (let n = r.uint(); n > 0; n--) {
          const e = readEntry(r);
          entries.push({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data) });
        }
        const hs = (flags & FLAG_HARD_STATE) !== 0 ? readHardState(r) : undefined;
        r.done();
        this.applyReady(group, snapshot, entries, hs);
      } else if (kind === REC_COMPACT) {
        const meta = readSnapshotMeta(r);
        const data = Buffer.from(r.bytes());
        r.done();
        this.applyCompact(group, { meta, data });
      } else {
        throw new CorruptionError(path, `unknown raft log record kind ${kind}`);
      }
    }
  }

  /**
   * Opens segment `seq`, writes a checkpoint of every group into it and makes
   * it the active segment at once (so later appends follow the checkpoint),
   * then, once the checkpoint is durable, deletes the older segments.
   */
  private async startSegment(seq: number): Promise<void> {
    const file = this.vfs.create(vfsJoin(this.dir, segmentName(seq)));
    for (const [group, g] of this.groupStates) file.append(this.encodeReady(group, g.snapshot, g.entries, g.hardState));
    const previous = this.active as VfsFile | undefined;
    const garbage = this.oldSegments;
    this.oldSegments = [];
    this.active = file;
    this.activeSeq = seq;
    await file.sync();
    await this.vfs.syncDir(this.dir);
    if (previous !== undefined) {
      await previous.sync(); // lets any fdatasync still running on it finish before the close
      previous.close();
    }
    for (const name of garbage) this.vfs.remove(vfsJoin(this.dir, name));
    if (garbage.length > 0) await this.vfs.syncDir(this.dir);
  }

  private async maybeRotate(): Promise<void> {
    if (this.rotating || this.closed || this.active.size() < this.segmentBytes) return;
    this.rotating = true;
    try {
      this.oldSegments = [segmentName(this.activeSeq)];
      await this.startSegment(this.activeSeq + 1);
    } finally {
      this.rotating = false;
    }
  }
}

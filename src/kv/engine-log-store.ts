/**
 * EngineLogStore: the durable Raft state of one group on one node — hard
 * state, log entries and the latest snapshot — kept in the node's local
 * Engine under the replica-local prefix (replica-keys.ts).
 *
 * Why not src/raft/log-store.ts (a separate segmented file log): keeping
 * the log in the same engine as the state machine lets one engine batch
 * carry "applied index = i" with the writes of entry i, and one WAL order
 * log appends before the applies that depend on them — so a restart never
 * needs the two stores to agree. The price is that log entries pass through
 * the LSM (written, then deleted at compaction).
 *
 * Contract with the driver (types.ts Ready): `saveReady(rd)` writes the
 * snapshot (replacing the whole log), truncates the log at the first new
 * entry and appends the new entries, and writes the hard state, all in one
 * atomic engine batch; the driver then awaits `engine.sync()` before it
 * sends any message of that Ready. Compaction (`saveCompaction`) replaces
 * the log prefix by a snapshot in one batch too, so a crash leaves either
 * the old log or the new snapshot, never a hole.
 *
 * Restart: `load()` returns the RaftInitialState plus the applied index the
 * state machine recorded. If the node crashed after persisting a received
 * snapshot but before installing it into the state machine, the applied
 * index is below the snapshot index and the caller installs the snapshot
 * first (ClusterNode.open does).
 *
 * Limits: the snapshot data is stored whole (in chunks of
 * SNAPSHOT_CHUNK_BYTES) beside the state it was taken from, so a node keeps
 * up to twice its state on disk; entries are also cached in the RaftNode's
 * memory until compaction.
 */

import {
  ByteReader,
  ByteWriter,
  readEntry,
  readHardState,
  readSnapshotMeta,
  writeEntry,
  writeHardState,
  writeSnapshotMeta,
} from '../raft/codec.ts';
import { emptySnapshot } from '../raft/raft-node.ts';
import type { Entry, GroupId, HardState, RaftInitialState, Ready, Snapshot } from '../raft/types.ts';
import type { Engine } from '../storage/engine.ts';
import { WriteBatch } from '../storage/write-batch.ts';
import { assert } from '../util/assert.ts';
import {
  appliedIndexKey,
  entryIndexOf,
  entryKey,
  entryKeyRange,
  hardStateKey,
  readU64,
  snapshotChunkKey,
  snapshotChunkRange,
  snapshotMetaKey,
} from './replica-keys.ts';

/** Snapshot data is stored in values of at most this many bytes. */
export const SNAPSHOT_CHUNK_BYTES = 256 << 10;

export interface LoadedRaftState {
  readonly initial: RaftInitialState;
  /** What the state machine has applied (may be below the snapshot index: install it first). */
  readonly applied: number;
  /** False for a node that has never persisted anything for this group. */
  readonly exists: boolean;
}

export class EngineLogStore {
  /** Last entry index present in the engine (0 when none). */
  private lastIndex = 0;
  private firstIndex = 1;

  constructor(
    readonly engine: Engine,
    readonly group: GroupId,
  ) {}

  load(): LoadedRaftState {
    const src = `raft group ${this.group} state`;
    const hsRaw = this.engine.get(hardStateKey(this.group));
    const hardState: HardState =
      hsRaw === undefined ? { term: 0, vote: 0, commit: 0 } : readHardState(new ByteReader(hsRaw, src));
    const metaRaw = this.engine.get(snapshotMetaKey(this.group));
    let snapshot = emptySnapshot();
    if (metaRaw !== undefined) {
      const meta = readSnapshotMeta(new ByteReader(metaRaw, `${src} (snapshot meta)`));
      const parts: Buffer[] = [];
      for (const [, v] of this.engine.scan(snapshotChunkRange(this.group))) parts.push(v);
      snapshot = { meta, data: Buffer.concat(parts) };
    }
    const entries: Entry[] = [];
    for (const [k, v] of this.engine.scan({
      ...entryKeyRange(this.group),
      gt: entryKey(this.group, snapshot.meta.index),
    })) {
      const e = readEntry(new ByteReader(v, `${src} (entry ${entryIndexOf(k)})`));
      assert(e.index === entryIndexOf(k), `raft log store: entry key ${entryIndexOf(k)} holds entry ${e.index}`);
      entries.push(e);
    }
    this.firstIndex = snapshot.meta.index + 1;
    this.lastIndex = entries.length === 0 ? snapshot.meta.index : entries[entries.length - 1]!.index;
    const appliedRaw = this.engine.get(appliedIndexKey(this.group));
    const applied = appliedRaw === undefined ? 0 : readU64(appliedRaw);
    const exists = hsRaw !== undefined || metaRaw !== undefined || entries.length > 0;
    return { initial: { hardState, snapshot, entries }, applied, exists };
  }

  /** Step 1 of a Ready. Returns true if anything was written (the caller then syncs). */
  saveReady(rd: Ready): boolean {
    if (rd.snapshot === undefined && rd.entries.length === 0 && rd.hardState === undefined) return false;
    const batch = new WriteBatch();
    if (rd.snapshot !== undefined) this.addSnapshot(batch, rd.snapshot, true);
    const first = rd.entries[0];
    if (first !== undefined) {
      // Truncate any conflicting suffix, then append.
      for (let i = first.index; i <= this.lastIndex; i++) batch.delete(entryKey(this.group, i));
      const w = new ByteWriter(256);
      for (const e of rd.entries) {
        w.reset();
        writeEntry(w, e);
        batch.put(entryKey(this.group, e.index), w.view());
      }
      this.lastIndex = rd.entries[rd.entries.length - 1]!.index;
    }
    if (rd.hardState !== undefined) {
      const w = new ByteWriter(32);
      writeHardState(w, rd.hardState);
      batch.put(hardStateKey(this.group), w.view());
    }
    this.engine.write(batch);
    return true;
  }

  /** A local snapshot taken at `snap.meta.index`: stores it and drops the log up to it. */
  saveCompaction(snap: Snapshot): void {
    const batch = new WriteBatch();
    this.addSnapshot(batch, snap, false);
    this.engine.write(batch);
  }

  private addSnapshot(batch: WriteBatch, snap: Snapshot, replacesLog: boolean): void {
    for (const [k] of this.engine.scan(snapshotChunkRange(this.group))) batch.delete(k);
    const w = new ByteWriter(64);
    writeSnapshotMeta(w, snap.meta);
    batch.put(snapshotMetaKey(this.group), w.view());
    for (let off = 0, chunk = 0; off < snap.data.length; off += SNAPSHOT_CHUNK_BYTES, chunk++) {
      batch.put(snapshotChunkKey(this.group, chunk), snap.data.subarray(off, off + SNAPSHOT_CHUNK_BYTES));
    }
    const upTo = replacesLog ? Math.max(this.lastIndex, snap.meta.index) : snap.meta.index;
    for (let i = this.firstIndex; i <= upTo; i++) batch.delete(entryKey(this.group, i));
    this.firstIndex = snap.meta.index + 1;
    if (replacesLog || this.lastIndex < snap.meta.index) this.lastIndex = snap.meta.index;
  }
}

/**
 * Versions: which SSTables make up the tree, level by level.
 *
 *   L0  tables flushed from memtables; may overlap; newest first
 *   L1+ sorted by key, non-overlapping; all versions of one user key are in
 *       one table of a level (tables are only cut between user keys)
 *
 * Invariant: for one user key, newer versions live in newer places
 * (memtable, then L0 newest to oldest, then L1, L2, ...). Point reads stop at
 * the first place with a visible version; compaction preserves the invariant
 * by always compacting all of L0 together and a level's table with every
 * overlapping table of the next level.
 *
 * A Version is immutable once built; edits produce a new one. Versions are
 * reference-counted (the current version, snapshots, iterators, a running
 * compaction each hold one), and tables are reference-counted by versions:
 * a table file is deleted only when no version uses it any more.
 *
 * VersionEdit is what the manifest logs (encoding in manifest.ts).
 */

import { assert } from '../../util/assert.ts';
import type { SstableReader } from './sstable-reader.ts';

export const LEVELS = 7;

export class FileMeta {
  /** Versions that include this table. */
  refs = 0;
  reader: SstableReader | undefined = undefined;
  constructor(
    readonly number: number,
    readonly size: number,
    readonly entries: number,
    /** Smallest and largest user keys, latin1. */
    readonly smallest: string,
    readonly largest: string,
  ) {}

  table(): SstableReader {
    assert(this.reader !== undefined, `table ${this.number} is not open`);
    return this.reader;
  }
}

export interface AddedFile {
  readonly level: number;
  readonly file: FileMeta;
}

export interface VersionEdit {
  /** WAL segments numbered below this are fully in SSTables. */
  logNumber?: number;
  nextFileNumber?: number;
  lastSeq?: number;
  deleted: { level: number; number: number }[];
  added: AddedFile[];
}

export function emptyEdit(): VersionEdit {
  return { deleted: [], added: [] };
}

export class Version {
  refs = 0;
  constructor(readonly levels: readonly (readonly FileMeta[])[]) {
    assert(levels.length === LEVELS, 'wrong level count');
  }

  static empty(): Version {
    return new Version(Array.from({ length: LEVELS }, () => []));
  }

  /** A new version with the edit applied; checks the level invariants. */
  apply(edit: VersionEdit): Version {
    const levels = this.levels.map((l) => [...l]);
    for (const d of edit.deleted) {
      const level = levels[d.level];
      assert(level !== undefined, `bad level ${d.level}`);
      const i = level.findIndex((f) => f.number === d.number);
      assert(i >= 0, `deleting table ${d.number} not in level ${d.level}`);
      level.splice(i, 1);
    }
    for (const a of edit.added) {
      const level = levels[a.level];
      assert(level !== undefined, `bad level ${a.level}`);
      level.push(a.file);
    }
    levels[0]!.sort((a, b) => b.number - a.number);
    for (let l = 1; l < LEVELS; l++) {
      const level = levels[l]!;
      level.sort((a, b) => (a.smallest < b.smallest ? -1 : a.smallest > b.smallest ? 1 : 0));
      for (let i = 1; i < level.length; i++) {
        assert(
          level[i - 1]!.largest < level[i]!.smallest,
          `overlapping tables ${level[i - 1]!.number} and ${level[i]!.number} in level ${l}`,
        );
      }
    }
    return new Version(levels);
  }

  /** Every table of every level. */
  *files(): IterableIterator<FileMeta> {
    for (const level of this.levels) yield* level;
  }

  levelBytes(level: number): number {
    let sum = 0;
    for (const f of this.levels[level]!) sum += f.size;
    return sum;
  }

  /** Tables of `level` whose key range meets [lo, hi]. */
  overlapping(level: number, lo: string, hi: string): FileMeta[] {
    return this.levels[level]!.filter((f) => !(f.largest < lo || f.smallest > hi));
  }

  /** True when no level deeper than `level` has a table whose range contains `key`. */
  isBaseLevelForKey(level: number, key: string): boolean {
    for (let l = level + 1; l < LEVELS; l++) {
      for (const f of this.levels[l]!) if (f.smallest <= key && key <= f.largest) return false;
    }
    return true;
  }

  /**
   * Index in a sorted, non-overlapping level of the only table that may hold
   * `key` (bytes: a point read has no latin1 form of its key), or -1.
   */
  static findFile(files: readonly FileMeta[], key: Uint8Array): number {
    let lo = 0;
    let hi = files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareLatin1(files[mid]!.largest, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < files.length && compareLatin1(files[lo]!.smallest, key) <= 0 ? lo : -1;
  }
}

/** Sign of s - key, where s is a latin1 key (one char per byte): bytewise order without converting either. */
export function compareLatin1(s: string, key: Uint8Array): number {
  const n = Math.min(s.length, key.length);
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - key[i]!;
    if (d !== 0) return d;
  }
  return s.length - key.length;
}

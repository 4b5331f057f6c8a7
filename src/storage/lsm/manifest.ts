/**
 * The manifest: a log of VersionEdits from which the set of live tables is
 * rebuilt on open, switched atomically through the CURRENT file.
 *
 *   <dir>/MANIFEST-000009   records framed by record-log.ts, one edit each
 *   <dir>/CURRENT           "MANIFEST-000009\n"
 *
 * Each open, and a running engine whenever its manifest passes a size limit,
 * writes a fresh manifest whose first record is a snapshot of the
 * whole state (every live table plus the counters), syncs it, writes
 * CURRENT.tmp, syncs it, renames it over CURRENT and syncs the directory: the
 * rename is the atomic switch. Older manifests are deleted afterwards. Later
 * edits (flushes, compactions) are appended and synced before the engine
 * acts on them (uses new tables, deletes old ones or old WAL segments).
 *
 * Edit payload: a sequence of tagged fields, all integers varints:
 *   1 logNumber | 2 nextFileNumber | 3 lastSeq
 *   4 deleted table: level, file number
 *   5 added table:   level, file number, size, entries,
 *                    smallest key (varint length + bytes), largest key (same)
 *
 * A torn last record (crash during an append) is ignored: the engine never
 * acted on an edit before its sync finished. Any checksum mismatch, unknown
 * tag or malformed field is a CorruptionError naming the manifest.
 */

import { CorruptionError } from '../../util/errors.ts';
import type { Vfs, VfsFile } from '../vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { ByteWriter, getVarint, type Cursor } from './coding.ts';
import { frameRecord, readRecords } from './record-log.ts';
import { emptyEdit, FileMeta, LEVELS, type VersionEdit } from './version.ts';

export function manifestFileName(n: number): string {
  return `MANIFEST-${String(n).padStart(6, '0')}`;
}

const Tag = { logNumber: 1, nextFileNumber: 2, lastSeq: 3, deleted: 4, added: 5 } as const;

export function encodeEdit(e: VersionEdit): Buffer {
  const w = new ByteWriter(256);
  if (e.logNumber !== undefined) {
    w.u8(Tag.logNumber);
    w.varint(e.logNumber);
  }
  if (e.nextFileNumber !== undefined) {
    w.u8(Tag.nextFileNumber);
    w.varint(e.nextFileNumber);
  }
  if (e.lastSeq !== undefined) {
    w.u8(Tag.lastSeq);
    w.varint(e.lastSeq);
  }
  for (const d of e.deleted) {
    w.u8(Tag.deleted);
    w.varint(d.level);
    w.varint(d.number);
  }
  for (const a of e.added) {
    w.u8(Tag.added);
    w.varint(a.level);
    w.varint(a.file.number);
    w.varint(a.file.size);
    w.varint(a.file.entries);
    w.varint(a.file.smallest.length);
    w.latin1(a.file.smallest);
    w.varint(a.file.largest.length);
    w.latin1(a.file.largest);
  }
  return Buffer.from(w.view());
}

export function decodeEdit(b: Buffer, file: string): VersionEdit {
  const e = emptyEdit();
  const c: Cursor = { pos: 0 };
  const num = (): number => {
    const v = getVarint(b, c, b.length);
    if (v < 0) throw new CorruptionError(file, 'truncated varint in manifest edit');
    return v;
  };
  const level = (): number => {
    const l = num();
    if (l >= LEVELS) throw new CorruptionError(file, `level ${l} out of range in manifest edit`);
    return l;
  };
  const str = (): string => {
    const len = num();
    if (c.pos + len > b.length) throw new CorruptionError(file, 'key runs past manifest edit');
    const s = b.toString('latin1', c.pos, c.pos + len);
    c.pos += len;
    return s;
  };
  while (c.pos < b.length) {
    const tag = b[c.pos++];
    switch (tag) {
      case Tag.logNumber:
        e.logNumber = num();
        break;
      case Tag.nextFileNumber:
        e.nextFileNumber = num();
        break;
      case Tag.lastSeq:
        e.lastSeq = num();
        break;
      case Tag.deleted:
        e.deleted.push({ level: level(), number: num() });
        break;
      case Tag.added: {
        const l = level();
        const number = num();
        const size = num();
        const entries = num();
        const smallest = str();
        const largest = str();
        if (smallest > largest) throw new CorruptionError(file, `table ${number} has smallest key > largest key`);
        e.added.push({ level: l, file: new FileMeta(number, size, entries, smallest, largest) });
        break;
      }
      default:
        throw new CorruptionError(file, `unknown manifest tag ${String(tag)}`, c.pos - 1);
    }
  }
  return e;
}

/** Reads CURRENT and the manifest it names. Undefined when the directory has no CURRENT (a new database). */
export function readManifest(vfs: Vfs, dir: string): { name: string; edits: VersionEdit[] } | undefined {
  const currentPath = vfsJoin(dir, 'CURRENT');
  if (!vfs.exists(currentPath)) return undefined;
  const current = vfs.readAll(currentPath).toString('latin1');
  const m = /^(MANIFEST-\d{6,})\n$/.exec(current);
  if (m === null) throw new CorruptionError(currentPath, 'CURRENT does not name a manifest');
  const name = m[1]!;
  const path = vfsJoin(dir, name);
  if (!vfs.exists(path)) throw new CorruptionError(currentPath, `CURRENT names ${name}, which does not exist`);
  const { records } = readRecords(vfs.readAll(path), path);
  if (records.length === 0) throw new CorruptionError(path, 'manifest has no complete record');
  return { name, edits: records.map((r) => decodeEdit(r, path)) };
}

export class ManifestWriter {
  /** Bytes in the manifest file (the engine starts a new manifest past a limit). */
  bytes: number;

  private constructor(
    private readonly file: VfsFile,
    readonly name: string,
  ) {
    this.bytes = file.size();
  }

  /** Writes a new manifest holding `snapshot` and switches CURRENT to it. */
  static async create(vfs: Vfs, dir: string, number: number, snapshot: VersionEdit): Promise<ManifestWriter> {
    const name = manifestFileName(number);
    const file = vfs.create(vfsJoin(dir, name));
    file.append(frameRecord(encodeEdit(snapshot)));
    await file.sync();
    const tmp = vfsJoin(dir, 'CURRENT.tmp');
    const cur = vfs.create(tmp);
    cur.append(Buffer.from(`${name}\n`, 'latin1'));
    await cur.sync();
    cur.close();
    vfs.rename(tmp, vfsJoin(dir, 'CURRENT'));
    await vfs.syncDir(dir);
    return new ManifestWriter(file, name);
  }

  /** Appends an edit and waits until it is durable. */
  async append(edit: VersionEdit): Promise<void> {
    const record = frameRecord(encodeEdit(edit));
    this.file.append(record);
    this.bytes += record.length;
    await this.file.sync();
  }

  close(): void {
    this.file.close();
  }
}

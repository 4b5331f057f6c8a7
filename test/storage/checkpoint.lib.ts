// Keys, values and a whole-database dump shared by the checkpoint tests.
import type { Engine } from '../../src/storage/engine.ts';

export const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(6, '0')}`);
export const val = (i: number, gen = 0): Buffer => Buffer.from(`value-${i}-${gen}-${'x'.repeat(i % 50)}`);

/** Every key and value of `e`, as text. */
export function contents(e: Engine): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of e.scan()) m.set(k.toString(), v.toString());
  return m;
}

/**
 * The leveled compaction picker: a pure function from the shape of the tree
 * to the next compaction to run (or none). No I/O, no clock; unit-tested.
 *
 * Scores (LevelDB's rule):
 *   L0       number of tables / l0Trigger (L0 tables overlap, so their count
 *            is what costs reads)
 *   L1..L5   bytes in the level / target bytes, target = l1MaxBytes *
 *            levelMultiplier^(level - 1)
 *   L6       never compacted (the bottom)
 * The level with the highest score >= 1 is compacted into the next level.
 *
 * Inputs: for L0 every L0 table (taking all keeps "newer versions live
 * shallower" trivially true); for Ln one table, chosen round-robin after the
 * level's compaction pointer (the largest key of the previous pick), so the
 * whole key range is compacted in turn. Then every table of the next level
 * whose range meets the inputs' range.
 *
 * A pick with no next-level overlap and a single input is a trivial move:
 * the table is relinked into the next level by a manifest edit, unrewritten.
 */

export interface PickerTable {
  readonly number: number;
  readonly size: number;
  readonly smallest: string;
  readonly largest: string;
}

export interface PickerOptions {
  readonly l0Trigger: number;
  readonly l1MaxBytes: number;
  readonly levelMultiplier: number;
}

export interface Pick<T extends PickerTable> {
  readonly level: number;
  readonly outputLevel: number;
  readonly inputs: readonly T[];
  readonly nextInputs: readonly T[];
  readonly score: number;
  readonly trivialMove: boolean;
}

export function levelTargetBytes(level: number, o: PickerOptions): number {
  return o.l1MaxBytes * o.levelMultiplier ** (level - 1);
}

export function levelScores<T extends PickerTable>(levels: readonly (readonly T[])[], o: PickerOptions): number[] {
  const scores: number[] = [];
  for (let l = 0; l < levels.length - 1; l++) {
    const files = levels[l]!;
    if (l === 0) scores.push(files.length / o.l0Trigger);
    else scores.push(files.reduce((s, f) => s + f.size, 0) / levelTargetBytes(l, o));
  }
  return scores;
}

export function pickCompaction<T extends PickerTable>(
  levels: readonly (readonly T[])[],
  o: PickerOptions,
  pointers: readonly (string | undefined)[],
): Pick<T> | undefined {
  const scores = levelScores(levels, o);
  let level = -1;
  let best = 1;
  for (let l = 0; l < scores.length; l++) {
    if (scores[l]! >= best) {
      best = scores[l]!;
      level = l;
    }
  }
  if (level < 0) return undefined;
  const files = levels[level]!;
  let inputs: T[];
  if (level === 0) {
    inputs = [...files];
  } else {
    const ptr = pointers[level];
    const after = ptr === undefined ? undefined : files.find((f) => f.smallest > ptr);
    inputs = [after ?? files[0]!];
  }
  let lo = inputs[0]!.smallest;
  let hi = inputs[0]!.largest;
  for (const f of inputs) {
    if (f.smallest < lo) lo = f.smallest;
    if (f.largest > hi) hi = f.largest;
  }
  const nextInputs = levels[level + 1]!.filter((f) => !(f.largest < lo || f.smallest > hi));
  return {
    level,
    outputLevel: level + 1,
    inputs,
    nextInputs,
    score: best,
    trivialMove: inputs.length === 1 && nextInputs.length === 0,
  };
}

/**
 * Command-line handling shared by every simulation sweep (test/sim/*.sim.ts):
 * `--seeds N` runs N seeds starting at `--from` (default 1), `--seed S` runs
 * one (the replay of a printed failure), and any other `--name value` pair or
 * bare `--flag` is available through `arg` / `hasFlag`.
 */

export function arg(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function hasFlag(name: string, argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes(name);
}

/** True when `--seed S` asked for a single replay. */
export function isReplay(argv: readonly string[] = process.argv.slice(2)): boolean {
  return arg('--seed', argv) !== undefined;
}

export function seedsFromArgs(defaultCount: number, argv: readonly string[] = process.argv.slice(2)): number[] {
  const one = arg('--seed', argv);
  if (one !== undefined) return [Number(one)];
  const first = Number(arg('--from', argv) ?? 1);
  return Array.from({ length: Number(arg('--seeds', argv) ?? defaultCount) }, (_, i) => first + i);
}

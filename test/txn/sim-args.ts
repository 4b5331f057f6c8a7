/**
 * Command-line handling shared by the transaction simulations
 * (test/sim/bank*.sim.ts): `--seeds N` runs seeds 1..N, `--seed S` runs one,
 * and any other `--name value` pair is available through `arg`.
 */

export function arg(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function seedsFromArgs(defaultCount: number, argv: readonly string[] = process.argv.slice(2)): number[] {
  const one = arg('--seed', argv);
  if (one !== undefined) return [Number(one)];
  return Array.from({ length: Number(arg('--seeds', argv) ?? defaultCount) }, (_, i) => i + 1);
}

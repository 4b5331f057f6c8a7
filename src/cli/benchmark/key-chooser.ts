/**
 * Key choice for benchmark workloads, seeded so runs are reproducible:
 * uniform, or Zipfian (YCSB's "scrambled" Zipfian: popular keys are spread
 * over the key space by hashing rather than clustered at the start).
 */

import { Prng } from '../../util/prng.ts';

export type Distribution = 'uniform' | 'zipfian';

export interface KeyChooser {
  /** A key number in [0, n). */
  next(): number;
}

export function makeKeyChooser(distribution: Distribution, n: number, rng: Prng, theta = 0.99): KeyChooser {
  if (distribution === 'uniform') return { next: () => rng.int(n) };
  return new ScrambledZipfian(n, rng, theta);
}

/** Gray et al.'s method (as in YCSB), O(1) per draw after an O(n) zeta. */
class ScrambledZipfian implements KeyChooser {
  private readonly alpha: number;
  private readonly zetan: number;
  private readonly eta: number;

  constructor(
    private readonly n: number,
    private readonly rng: Prng,
    private readonly theta: number,
  ) {
    const zeta2 = zeta(2, theta);
    this.zetan = zeta(n, theta);
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta2 / this.zetan);
  }

  next(): number {
    const u = this.rng.next();
    const uz = u * this.zetan;
    let rank: number;
    if (uz < 1) rank = 0;
    else if (uz < 1 + 0.5 ** this.theta) rank = 1;
    else rank = Math.floor(this.n * (this.eta * u - this.eta + 1) ** this.alpha);
    return fnv1a(Math.min(rank, this.n - 1)) % this.n;
  }
}

function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / i ** theta;
  return sum;
}

function fnv1a(x: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (x >>> (i * 8)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

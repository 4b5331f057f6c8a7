/**
 * A latency histogram in the HDR style: log-linear buckets over microseconds
 * with bounded relative error, a fixed memory footprint whatever the number
 * of samples, O(1) record, and exact min/max/count.
 *
 * Buckets: values below 2^SUB_BITS µs are exact; above, each power-of-two
 * range is split into 2^(SUB_BITS-1) linear sub-buckets, so a reported
 * percentile is within 1/2^(SUB_BITS-1) (≈0.8% with SUB_BITS=8) of the true
 * sample. Values above ~1 hour clamp to the top bucket.
 */

const SUB_BITS = 8;
const SUB_COUNT = 1 << SUB_BITS; // exact region [0, 256)
const HALF = SUB_COUNT >> 1;
const MAX_EXP = 32; // 2^32 µs ≈ 71 minutes
const BUCKETS = SUB_COUNT + (MAX_EXP - SUB_BITS) * HALF;

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  /** Records one latency in microseconds. */
  record(us: number): void {
    const v = us < 0 ? 0 : us;
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sumUs += v;
    if (v < this.minUs) this.minUs = v;
    if (v > this.maxUs) this.maxUs = v;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** The value at quantile q in [0, 1], in microseconds (0 when empty). */
  quantileUs(q: number): number {
    if (this.count === 0) return 0;
    if (q >= 1) return this.maxUs;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxUs, Math.max(this.minUs, bucketUpper(i)));
    }
    return this.maxUs;
  }

  meanUs(): number {
    return this.count === 0 ? 0 : this.sumUs / this.count;
  }
}

function bucketOf(v: number): number {
  const x = Math.floor(v);
  if (x < SUB_COUNT) return x;
  const exp = Math.min(MAX_EXP - 1, 31 - Math.clz32(Math.min(x, 2 ** 32 - 1))); // floor(log2 x) >= SUB_BITS
  const sub = Math.floor(x / 2 ** (exp - SUB_BITS + 1)) - HALF; // in [0, HALF)
  return SUB_COUNT + (exp - SUB_BITS) * HALF + Math.min(HALF - 1, Math.max(0, sub));
}

/** The largest value that falls in bucket i. */
function bucketUpper(i: number): number {
  if (i < SUB_COUNT) return i;
  const j = i - SUB_COUNT;
  const exp = SUB_BITS + Math.floor(j / HALF);
  const sub = (j % HALF) + HALF;
  const width = 2 ** (exp - SUB_BITS + 1);
  return (sub + 1) * width - 1;
}

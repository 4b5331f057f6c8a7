/**
 * The simulator's clock: a binary min-heap of events ordered by (time, seq),
 * where seq is the insertion order, so events at the same simulated time run
 * in the order they were scheduled — the property that makes a run replay
 * exactly from its seed. Generic over the event payload so that any
 * deterministic simulation (test/sim/*) can share it.
 */
export class EventQueue<E> {
  private readonly heap: { t: number; s: number; e: E }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(t: number, e: E): void {
    const h = this.heap;
    h.push({ t, s: this.seq++, e });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** Removes and returns the earliest event. */
  pop(): { t: number; e: E } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: { t: number; s: number }, b: { t: number; s: number }): boolean {
  return a.t < b.t || (a.t === b.t && a.s < b.s);
}

/**
 * A linearizability checker for key-value register histories, in the style
 * of Wing & Gong / Lowe's WGL search (as Porcupine does it), written for the
 * Raft simulator.
 *
 * A history is a set of operations, each with an invocation time and a
 * response time (Infinity when the client never learned the outcome, e.g. a
 * write whose leader crashed). The history is linearizable when every
 * operation can be given a single point inside its interval such that, in
 * point order, each read returns the value of the latest write to its key
 * (or null when none). Keys are independent registers, so the check runs per
 * key (P-compositionality) and the search stays small.
 *
 * The search walks a list of call/return events: at a call it tries to
 * linearize that operation now (if the model allows it) and lifts it out of
 * the list; at a return of a not-yet-linearized operation it backtracks.
 * Visited (linearized-set, state) pairs are cached, which is what keeps WGL
 * practical. Ties in time are treated permissively: an operation returning
 * at the same millisecond another is invoked may be ordered either way.
 *
 * Limits: a search that exceeds `maxSteps` reports `unknown` rather than
 * running for ever (never seen on simulator histories so far).
 */

export interface KvOp {
  readonly kind: 'put' | 'get';
  readonly key: string;
  /** put: the value written; get: the value read (null = absent). */
  readonly value: string | null;
  readonly call: number;
  /** Infinity when the outcome is unknown (only meaningful for puts). */
  readonly ret: number;
  readonly client?: number;
}

export type LinResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly reason: string }
  | { readonly ok: 'unknown'; readonly key: string };

interface Ev {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  prev: Ev | null;
  next: Ev | null;
  match: Ev | null;
}

export function checkLinearizable(history: readonly KvOp[], maxSteps = 2_000_000): LinResult {
  const byKey = new Map<string, KvOp[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, ops] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const r = checkRegister(ops, maxSteps);
    if (r === 'unknown') return { ok: 'unknown', key };
    if (r !== 'ok') return { ok: false, key, reason: r };
  }
  return { ok: true };
}

function checkRegister(ops: readonly KvOp[], maxSteps: number): 'ok' | 'unknown' | string {
  // Fast rejection with a readable reason: a read of a value nobody wrote.
  const written = new Set(ops.filter((o) => o.kind === 'put').map((o) => o.value));
  for (const o of ops) {
    if (o.kind === 'get' && o.value !== null && !written.has(o.value))
      return `read of ${o.value}, which no write produced`;
  }
  // Reads with unknown outcome carry no information. A put with unknown
  // outcome can always be linearized after everything else, where it affects
  // nothing; it only matters if some read saw its value.
  const read = new Set(ops.filter((o) => o.kind === 'get').map((o) => o.value));
  const live = ops.filter((o) => (o.kind === 'put' ? o.ret !== Infinity || read.has(o.value) : o.ret !== Infinity));
  const events: Ev[] = [];
  live.forEach((o, i) => {
    const call: Ev = { op: i, isCall: true, time: o.call, prev: null, next: null, match: null };
    const ret: Ev = { op: i, isCall: false, time: o.ret, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: the permissive reading of a tie.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Ev = { op: -1, isCall: false, time: -Infinity, prev: null, next: null, match: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Ev): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Ev): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  const words = Math.ceil(live.length / 32) || 1;
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const stack: { e: Ev; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  let deepest = 0;
  while (head.next !== null) {
    if (++steps > maxSteps) return 'unknown';
    if (entry === null) return 'search ran off the end of the history'; // cannot happen: returns stop it
    if (entry.isCall) {
      const o = live[entry.op]!;
      let next: string | null | undefined;
      if (o.kind === 'put') next = o.value;
      else if (o.value === state) next = state;
      if (next !== undefined) {
        linearized[entry.op >>> 5]! |= 1 << (entry.op & 31);
        const key = `${linearized.join(',')}|${next ?? '\u0000'}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ e: entry, state });
          state = next;
          lift(entry);
          deepest = Math.max(deepest, stack.length);
          entry = head.next;
          continue;
        }
        linearized[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // The operation returning here was not linearized before its return: undo the last choice.
      const top = stack.pop();
      if (top === undefined) {
        const o = live[entry.op]!;
        return `no valid order: ${o.kind} ${o.key}=${o.value} [${o.call}, ${o.ret}] cannot be placed (deepest prefix ${deepest} of ${live.length})`;
      }
      state = top.state;
      linearized[top.e.op >>> 5]! &= ~(1 << (top.e.op & 31));
      unlift(top.e);
      entry = top.e.next;
    }
  }
  return 'ok';
}

/**
 * Runs an anomaly scenario (anomaly-scenarios.ts) against any backend that
 * can execute its statements in named sessions: NextDB's transaction layer
 * or a real PostgreSQL server. The runner owns the interleaving: it starts
 * each step, lets the backend settle, and if the step has not finished it
 * records it as blocked and moves on; a blocked step's outcome is printed
 * when it finishes (after the step that released it).
 *
 * The transcript (one line per step and per release) is what the golden
 * files hold; the Observed summary feeds the scenario's anomaly predicate.
 */

import type { Level, Observed, Scenario } from './anomaly-scenarios.ts';

export type Pred = { readonly op: 'eq' | 'mod'; readonly n: number };
export type Stmt =
  | { readonly kind: 'begin' | 'commit' | 'rollback' }
  | { readonly kind: 'selectId'; readonly id: number }
  | { readonly kind: 'selectAll' }
  | { readonly kind: 'selectWhere'; readonly pred: Pred }
  | {
      readonly kind: 'update';
      readonly id: number | undefined;
      readonly pred: Pred | undefined;
      readonly set?: number;
      readonly add?: number;
    }
  | { readonly kind: 'delete'; readonly id: number | undefined; readonly pred: Pred | undefined }
  | { readonly kind: 'insert'; readonly id: number; readonly value: number };

/** One session of a backend; `run` resolves to the step's output or rejects with an error carrying `code`. */
export interface Session {
  run(stmt: Stmt): Promise<string>;
}

export interface Backend {
  session(name: string, level: Level): Promise<Session>;
  /** Gives in-flight statements the chance to finish (a blocked one will not). */
  settle(): Promise<void>;
  /** Committed rows after the scenario, `id=value,...`. */
  finalRows(): Promise<string>;
  close(): Promise<void>;
}

export function matches(p: Pred, v: number): boolean {
  return p.op === 'eq' ? v === p.n : v % p.n === 0;
}

export function formatRows(rows: readonly (readonly [number, number])[]): string {
  return rows.length === 0 ? '-' : rows.map(([id, v]) => `${id}=${v}`).join(',');
}

function parsePred(words: string[]): Pred {
  // "value = N" | "value mod N"
  if (words[0] === 'value' && words[1] === '=' && words[2] !== undefined) return { op: 'eq', n: Number(words[2]) };
  if (words[0] === 'value' && words[1] === 'mod' && words[2] !== undefined) return { op: 'mod', n: Number(words[2]) };
  throw new Error(`bad predicate: ${words.join(' ')}`);
}

export function parseStep(step: string): { txn: string; stmt: Stmt; label: string | undefined; text: string } {
  const m = /^(T\d+):\s*(.*?)\s*(?:#(\w+))?$/.exec(step);
  if (m === null) throw new Error(`bad step: ${step}`);
  const txn = m[1]!;
  const text = m[2]!;
  const w = text.split(/\s+/);
  let stmt: Stmt;
  switch (w[0]) {
    case 'begin':
    case 'commit':
    case 'rollback':
      stmt = { kind: w[0] };
      break;
    case 'select':
      if (w[1] === '*') stmt = { kind: 'selectAll' };
      else if (w[1] === 'where') stmt = { kind: 'selectWhere', pred: parsePred(w.slice(2)) };
      else stmt = { kind: 'selectId', id: Number(w[1]) };
      break;
    case 'update': {
      const where = w[1] === 'where';
      const rest = where ? w.slice(5) : w.slice(2);
      const pred = where ? parsePred(w.slice(2, 5)) : undefined;
      const id = where ? undefined : Number(w[1]);
      if (rest[0] === 'set') stmt = { kind: 'update', id, pred, set: Number(rest[1]) };
      else if (rest[0] === 'add') stmt = { kind: 'update', id, pred, add: Number(rest[1]) };
      else throw new Error(`bad update: ${step}`);
      break;
    }
    case 'delete':
      stmt =
        w[1] === 'where'
          ? { kind: 'delete', id: undefined, pred: parsePred(w.slice(2)) }
          : { kind: 'delete', id: Number(w[1]), pred: undefined };
      break;
    case 'insert':
      stmt = { kind: 'insert', id: Number(w[1]), value: Number(w[2]) };
      break;
    default:
      throw new Error(`bad statement: ${step}`);
  }
  return { txn, stmt, label: m[3], text };
}

function errorOutput(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return `ERROR ${code}`;
  throw e;
}

export interface RunResult {
  readonly transcript: string[];
  readonly observed: Observed;
}

export async function runScenario(backend: Backend, s: Scenario, level: Level): Promise<RunResult> {
  const sessions = new Map<string, Session>();
  const out: Record<string, string> = {};
  const committed = new Set<string>();
  const transcript: string[] = [];
  const pending = new Map<
    string,
    { text: string; label: string | undefined; promise: Promise<string>; done: string | undefined }
  >();

  const record = (txn: string, text: string, label: string | undefined, result: string, late: boolean): void => {
    if (label !== undefined) out[label] = result;
    if (text === 'commit' && result === 'COMMIT') committed.add(txn);
    transcript.push(`${txn}: ${text} -> ${result}${late ? ' (after waiting)' : ''}`);
  };
  const flush = (): void => {
    for (const [txn, p] of [...pending]) {
      if (p.done === undefined) continue;
      pending.delete(txn);
      record(txn, p.text, p.label, p.done, true);
    }
  };

  for (const step of s.steps) {
    const { txn, stmt, label, text } = parseStep(step);
    const before = pending.get(txn);
    if (before !== undefined) {
      // A session cannot issue a statement while its previous one waits.
      await before.promise;
      flush();
    }
    let session = sessions.get(txn);
    if (session === undefined) {
      session = await backend.session(txn, level);
      sessions.set(txn, session);
    }
    const entry = { text, label, promise: Promise.resolve(''), done: undefined as string | undefined };
    entry.promise = session.run(stmt).then(
      (r) => (entry.done = r),
      (e: unknown) => (entry.done = errorOutput(e)),
    );
    await backend.settle();
    if (entry.done !== undefined) {
      record(txn, text, label, entry.done, false);
    } else {
      transcript.push(`${txn}: ${text} -> (blocked)`);
      pending.set(txn, entry);
    }
    await backend.settle();
    flush();
  }
  for (const p of pending.values()) await p.promise;
  flush();
  const final = await backend.finalRows();
  transcript.push(`final: ${final}`);
  return { transcript, observed: { out, committed, final } };
}

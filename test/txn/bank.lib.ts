/**
 * The bank test: ACCOUNTS accounts, concurrent transfer transactions and
 * concurrent full-table readers, interleaved by a seeded scheduler, over the
 * MemoryEngine. Shared by bank.test.ts (a few hundred seeds) and
 * test/sim/bank.sim.ts (thousands).
 *
 * Determinism: every client is an async function that parks at `step()`
 * between operations. The scheduler wakes one parked client (chosen by the
 * seeded PRNG), then lets the event loop drain: the MemoryEngine is
 * synchronous, so by the next macrotask every client is parked again,
 * blocked on a lock, or done. The same seed therefore gives the same
 * interleaving. If no client is parked but some are unfinished, they all
 * wait on each other: a deadlock the detector missed, reported as a failure.
 *
 * Transfers obey an overdraft rule over account pairs (2k, 2k+1): a
 * withdrawal may not take the pair's sum below zero. It reads the partner
 * account without writing it, so it holds only under SERIALIZABLE (write
 * skew breaks it at REPEATABLE READ, as in PostgreSQL).
 *
 * Checks: every full-table read at SERIALIZABLE or REPEATABLE READ (and
 * every single-statement scan at any level) sums to the constant total;
 * at SERIALIZABLE no read and no final state breaks the pair rule;
 * multi-statement reads at those levels too; final balances equal the
 * initial ones plus the deltas of exactly the committed transfers; GC runs
 * now and then during the run without changing what anyone reads.
 */

import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';
import {
  isStatementRetry,
  openTxnManager,
  type IsolationLevel,
  type MvccTxn,
  type MvccTxnManager,
  type Txn,
} from '../../src/txn/index.ts';

export type BankMode = IsolationLevel | 'mixed';
const LEVELS: readonly IsolationLevel[] = ['serializable', 'repeatable read', 'read committed'];

export interface BankStats {
  commits: number;
  retries: number;
  reads: number;
  deadlocks: number;
  gcRuns: number;
  /** Statements run again after a SERIALIZABLE write refresh. */
  refreshes: number;
}

const key = (i: number): Buffer => Buffer.from(`acct/${String(i).padStart(3, '0')}`);
const START = Buffer.from('acct/');
const END = Buffer.from('acct0');

class Scheduler {
  private parked: (() => void)[] = [];
  private running = 0;
  constructor(private readonly prng: Prng) {}

  /** Called by clients between operations. */
  step(): Promise<void> {
    return new Promise((resolve) => this.parked.push(resolve));
  }

  spawn(fn: () => Promise<void>, onError: (e: unknown) => void): void {
    this.running++;
    void this.step()
      .then(fn)
      .catch(onError)
      .finally(() => this.running--);
  }

  async run(maxSteps: number): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await drain();
      if (this.parked.length === 0) {
        if (this.running === 0) return;
        throw new Error(`${this.running} clients blocked with none runnable: undetected deadlock or lost wakeup`);
      }
      const j = this.prng.int(this.parked.length);
      const wake = this.parked[j]!;
      this.parked.splice(j, 1);
      wake();
    }
    throw new Error('scheduler step budget exhausted');
  }
}

/**
 * A MemoryEngine whose sync() completes only when the scheduler says so,
 * so transactions sit in their commit window (record written, not yet
 * durable and resolved) while others run.
 */
class SteppedSyncEngine extends MemoryEngine {
  constructor(private readonly syncHook: () => Promise<void>) {
    super();
  }
  override sync(): Promise<void> {
    return this.syncHook();
  }
}

async function drain(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

function balance(v: Buffer | undefined, i: number): number {
  if (v === undefined) throw new Error(`account ${i} missing`);
  return Number(v.toString());
}

export async function runBankSeed(
  seed: number,
  mode: BankMode,
  size: { accounts?: number; clients?: number; txnsPerClient?: number } = {},
): Promise<BankStats> {
  const prng = new Prng(seed);
  const accounts = size.accounts ?? prng.range(2, 8);
  const clients = size.clients ?? prng.range(2, 5);
  const txnsPerClient = size.txnsPerClient ?? prng.range(3, 10);
  const sched = new Scheduler(prng.fork());
  let stepped = false;
  const engine = new SteppedSyncEngine(() => (stepped ? sched.step() : Promise.resolve()));
  const mgr: MvccTxnManager = await openTxnManager(engine, { clock: new ManualClock(1_000) });
  const initial: number[] = [];
  const setup = mgr.begin();
  for (let i = 0; i < accounts; i++) {
    initial.push(prng.range(0, 40));
    await setup.put(key(i), Buffer.from(String(initial[i])));
  }
  await setup.commit();
  const total = initial.reduce((a, b) => a + b, 0);
  const expected = [...initial];
  const stats: BankStats = { commits: 0, retries: 0, reads: 0, deadlocks: 0, gcRuns: 0, refreshes: 0 };
  stepped = true;
  let failure: unknown;
  const fail = (msg: string): never => {
    throw new Error(`seed ${seed} (${mode}): ${msg}`);
  };
  const levelFor = (p: Prng): IsolationLevel => (mode === 'mixed' ? p.pick(LEVELS) : mode);

  const checkPairs = (balances: readonly number[], who: string): void => {
    for (let i = 0; i + 1 < balances.length; i += 2) {
      if (balances[i]! + balances[i + 1]! < 0)
        fail(`${who} saw accounts ${i} and ${i + 1} sum to ${balances[i]! + balances[i + 1]!} (write skew)`);
    }
  };

  const retryable = async (t: Txn, e: unknown): Promise<void> => {
    if (!(e instanceof NextDbError) || (e.code !== '40001' && e.code !== '40P01')) throw e;
    // Without savepoints the transaction is already rolled back; with them it is a failed block.
    if (t.state !== 'aborted' && !(t as MvccTxn).failed) fail(`transaction still ${t.state} after ${e.code}`);
    if (!/retry/.test(e.message)) fail(`error message does not say to retry: ${e.message}`);
    if (e.code === '40P01') stats.deadlocks++;
    stats.retries++;
    await t.rollback();
    if (t.state !== 'aborted') fail(`rollback left the transaction ${t.state}`);
  };

  // Transfer clients.
  for (let c = 0; c < clients; c++) {
    const p = prng.fork();
    // One statement, run again (as the SQL session does) when a SERIALIZABLE
    // write refreshed the snapshot; now and then not, to test the 40001 path.
    const stmt = async <T>(t: Txn, fn: () => Promise<T>): Promise<T> => {
      t.beginStatement();
      for (;;) {
        try {
          return await fn();
        } catch (e) {
          if (isStatementRetry(e) && p.chance(0.9) && t.retryStatement?.() === true) {
            stats.refreshes++;
            await sched.step();
            continue;
          }
          throw e;
        }
      }
    };
    sched.spawn(
      async () => {
        for (let n = 0; n < txnsPerClient;) {
          const level = levelFor(p);
          const t = mgr.begin({ isolation: level });
          const from = p.int(accounts);
          const to = (from + 1 + p.int(accounts - 1)) % accounts;
          const amount = p.range(1, 30);
          // Under READ COMMITTED a plain read then write would lose updates
          // (PostgreSQL too): transfers there lock-then-read (EvalPlanQual).
          const lockRead = level === 'read committed' || p.chance(0.3);
          try {
            const a = balance(await stmt(t, () => (lockRead ? t.getForUpdate(key(from)) : t.get(key(from)))), from);
            await sched.step();
            const b = balance(await stmt(t, () => (lockRead ? t.getForUpdate(key(to)) : t.get(key(to)))), to);
            await sched.step();
            if (p.chance(0.2)) {
              // A savepoint whose writes are rolled back must leave no trace.
              t.savepoint('sp');
              await t.put(key(from), Buffer.from('999999'));
              await sched.step();
              await t.rollbackToSavepoint('sp');
            }
            // Overdraft rule over the account pair (from, from^1): the pair may
            // not go negative. The partner is read, not written, so only
            // SERIALIZABLE keeps the rule under concurrency (write skew).
            const partner = from ^ 1;
            if (partner < accounts && partner !== to) {
              t.beginStatement();
              const pb = balance(await t.get(key(partner)), partner);
              await sched.step();
              if (a - amount + pb < 0) {
                await t.commit(); // nothing written: a no-op
                n++;
                continue;
              }
            }
            await stmt(t, () => t.put(key(from), Buffer.from(String(a - amount))));
            await sched.step();
            await stmt(t, () => t.put(key(to), Buffer.from(String(b + amount))));
            await sched.step();
            if (p.chance(0.1)) {
              await t.rollback();
              continue;
            }
            await t.commit();
            expected[from]! -= amount;
            expected[to]! += amount;
            stats.commits++;
            n++;
          } catch (e) {
            await retryable(t, e);
          }
          await sched.step();
        }
      },
      (e) => (failure ??= e),
    );
  }

  // Reader clients: full scans (one statement) and account-by-account reads.
  for (let c = 0; c < 2; c++) {
    const p = prng.fork();
    sched.spawn(
      async () => {
        for (let n = 0; n < txnsPerClient; n++) {
          const level = levelFor(p);
          const t = mgr.begin({ isolation: level, readOnly: p.chance(0.5) });
          try {
            t.beginStatement();
            const rows = await t.scan({ start: START, end: END });
            if (rows.length !== accounts) fail(`scan saw ${rows.length} accounts`);
            const sum = rows.reduce((s, kv) => s + Number(kv.value.toString()), 0);
            if (sum !== total) fail(`${level} scan saw total ${sum}, expected ${total}`);
            await sched.step();
            let sum2 = 0;
            for (let i = 0; i < accounts; i++) {
              t.beginStatement();
              sum2 += balance(await t.get(key(i)), i);
              await sched.step();
            }
            if (level !== 'read committed' && sum2 !== total)
              fail(`${level} account-by-account read saw total ${sum2}, expected ${total}`);
            if (mode === 'serializable')
              checkPairs(
                rows.map((kv) => Number(kv.value.toString())),
                'a reader',
              );
            await t.commit();
            stats.reads++;
          } catch (e) {
            await retryable(t, e);
          }
          await sched.step();
        }
      },
      (e) => (failure ??= e),
    );
  }

  // GC now and then.
  const gp = prng.fork();
  sched.spawn(
    async () => {
      for (let n = 0; n < txnsPerClient; n++) {
        if (gp.chance(0.3)) {
          await mgr.gc();
          stats.gcRuns++;
        }
        await sched.step();
      }
    },
    (e) => (failure ??= e),
  );

  try {
    await sched.run(1_000_000);
    stepped = false;
  } catch (e) {
    failure ??= e;
  }
  if (failure !== undefined) {
    const msg = failure instanceof Error ? failure.message : String(failure);
    throw new Error(msg.startsWith('seed ') ? msg : `seed ${seed} (${mode}): ${msg}`, { cause: failure });
  }
  const t = mgr.begin({ readOnly: true });
  for (let i = 0; i < accounts; i++) {
    const got = balance(await t.get(key(i)), i);
    if (got !== expected[i]) fail(`final balance of account ${i} is ${got}, committed transfers say ${expected[i]}`);
  }
  if (mode === 'serializable') checkPairs(expected, 'the final state');
  await t.commit();
  if (mgr.liveCount !== 0) fail(`${mgr.liveCount} transactions still live at the end`);
  await mgr.gc();
  await mgr.close();
  return stats;
}

/**
 * Crash atomicity of transactions on the LSM engine over the crash-simulating
 * SimVfs (unsynced bytes lost or torn). Shared by crash.test.ts (a few dozen
 * seeds) and test/sim/bank-crash.sim.ts (long sweeps); one seed decides the
 * whole run.
 *
 * Workload: bank transfers between ACCOUNTS accounts, run by several
 * concurrent clients at random isolation levels. Each committed transfer
 * writes both accounts as `<balance>:<transfer tag>` and a marker key for
 * its tag. At a random moment the disk "loses power" (SimVfs.crash) and
 * the engine and manager are abandoned mid-flight; a new manager (with a
 * new ManualClock that starts over at the same time, so the persisted HLC
 * ceiling is what keeps timestamps moving forward) recovers. Checks:
 *   - every acknowledged commit is visible (its marker is there);
 *   - no transaction is partly visible: for a visible transfer, each of its
 *     accounts shows its tag or the tag of a later visible transfer; an
 *     invisible transfer's tag appears nowhere;
 *   - each account shows the latest visible transfer to touch it (commit
 *     timestamp order, across boots);
 *   - the total balance is unchanged.
 */

import { openLsmEngine, type LsmEngine } from '../../src/storage/lsm/index.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';
import { openTxnManager, type IsolationLevel, type MvccTxn, type MvccTxnManager } from '../../src/txn/index.ts';

const ACCOUNTS = 8;
const INITIAL = 100;
const LEVELS: readonly IsolationLevel[] = ['serializable', 'repeatable read', 'read committed'];
const acct = (i: number): Buffer => Buffer.from(`acct/${String(i).padStart(2, '0')}`);
const marker = (tag: string): Buffer => Buffer.from(`mark/${tag}`);

interface Transfer {
  readonly tag: string;
  readonly accounts: readonly number[];
  txn: MvccTxn | undefined;
  acked: boolean;
  /** Commit timestamp, known once the transfer reached the commit point. */
  commitTs: number;
  visible: boolean | undefined;
}

function parse(v: Buffer | undefined): { balance: number; tag: string } {
  if (v === undefined) throw new Error('account missing');
  const [b, tag] = v.toString().split(':');
  return { balance: Number(b), tag: tag ?? '' };
}

async function transfer(mgr: MvccTxnManager, prng: Prng, t: Transfer, level: IsolationLevel): Promise<void> {
  const txn = mgr.begin({ isolation: level }) as MvccTxn;
  t.txn = txn;
  try {
    txn.beginStatement();
    const [from, to] = t.accounts as [number, number];
    const a = parse(await txn.getForUpdate(acct(from)));
    if (prng.chance(0.5)) await new Promise((r) => setImmediate(r));
    const b = parse(await txn.getForUpdate(acct(to)));
    const amount = prng.range(1, 20);
    await txn.put(acct(from), Buffer.from(`${a.balance - amount}:${t.tag}`));
    await txn.put(acct(to), Buffer.from(`${b.balance + amount}:${t.tag}`));
    await txn.put(marker(t.tag), Buffer.from('1'));
    if (prng.chance(0.5)) await new Promise((r) => setImmediate(r));
    await txn.commit();
    t.acked = true;
  } catch (e) {
    await txn.rollback().catch(() => undefined);
    if (!(e instanceof NextDbError)) throw e;
  }
}

export async function runTxnCrashSeed(
  seed: number,
  rounds = 3,
): Promise<{ transfers: number; acked: number; recoveredRecords: number }> {
  const prng = new Prng(seed);
  const vfs = new SimVfs({ seed, tornWrites: true });
  const lsmOptions = {
    dir: '/db',
    vfs,
    memtableBytes: 2048,
    tableBytes: 4096,
    blockBytes: 256,
    l1MaxBytes: 16 * 1024,
    blockCacheBytes: 64 * 1024,
  };
  const open = async (): Promise<{ engine: LsmEngine; mgr: MvccTxnManager }> => {
    const engine = await openLsmEngine(lsmOptions);
    // Odd seeds: a transfer (3 keys) is over resolveSliceKeys, so it commits through a record resolved
    // in two slices; even seeds: the record-less one-batch commit of small transactions.
    const resolveSliceKeys = seed % 2 === 1 ? 2 : undefined;
    return {
      engine,
      mgr: await openTxnManager(engine, {
        clock: new ManualClock(1_000),
        ...(resolveSliceKeys ? { resolveSliceKeys } : {}),
      }),
    };
  };
  let { engine, mgr } = await open();
  const setup = mgr.begin();
  for (let i = 0; i < ACCOUNTS; i++) await setup.put(acct(i), Buffer.from(`${INITIAL}:init`));
  await setup.commit();

  const all: Transfer[] = [];
  let acked = 0;
  let recoveredRecords = 0;
  for (let round = 0; round < rounds; round++) {
    const clients = prng.range(2, 5);
    const turns = prng.range(5, 120);
    const started: Transfer[] = [];
    let stop = false;
    let errors: unknown;
    const loops: Promise<void>[] = [];
    for (let c = 0; c < clients; c++) {
      const cp = prng.fork();
      loops.push(
        (async () => {
          for (let i = 0; !stop; i++) {
            const from = cp.int(ACCOUNTS);
            const to = (from + 1 + cp.int(ACCOUNTS - 1)) % ACCOUNTS;
            const t: Transfer = {
              tag: `r${round}c${c}n${i}`,
              accounts: [from, to],
              txn: undefined,
              acked: false,
              commitTs: 0,
              visible: undefined,
            };
            started.push(t);
            await transfer(mgr, cp, t, cp.pick(LEVELS));
          }
        })().catch((e: unknown) => {
          // After the crash, abandoned transactions fail with engine errors: expected.
          if (!stop) errors = e;
        }),
      );
    }
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    // Power loss: whatever was not synced is gone (or torn).
    for (const t of started) t.commitTs = t.txn?.committedAt ?? 0;
    stop = true;
    vfs.crash();
    engine.abandon();
    if (errors !== undefined) throw errors;
    // The old clients are not awaited: some wait on a sync the dead disk never
    // answers, exactly like a process that lost power. They hold no timers.
    void loops;
    ({ engine, mgr } = await open());
    recoveredRecords += mgr.recoveredRecords;

    // What survived.
    const r = mgr.begin({ readOnly: true });
    const accounts: { balance: number; tag: string }[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(parse(await r.get(acct(i))));
    for (const t of started) {
      t.visible = (await r.get(marker(t.tag))) !== undefined;
      if (t.acked && !t.visible) throw new Error(`seed ${seed} round ${round}: acknowledged transfer ${t.tag} lost`);
      if (t.visible && t.commitTs === 0)
        throw new Error(`seed ${seed} round ${round}: ${t.tag} visible but never reached its commit point`);
      if (t.acked) acked++;
    }
    await r.commit();
    all.push(...started);
    const total = accounts.reduce((s, a) => s + a.balance, 0);
    if (total !== ACCOUNTS * INITIAL)
      throw new Error(`seed ${seed} round ${round}: total ${total} != ${ACCOUNTS * INITIAL}`);
    for (let i = 0; i < ACCOUNTS; i++) {
      let latest: Transfer | undefined;
      for (const t of all)
        if (t.visible === true && t.accounts.includes(i) && (latest === undefined || t.commitTs > latest.commitTs))
          latest = t;
      const want = latest?.tag ?? 'init';
      const got = accounts[i]!.tag;
      if (got !== want)
        throw new Error(
          `seed ${seed} round ${round}: account ${i} shows ${got}, latest visible transfer is ${want} (partial or reordered commit)`,
        );
    }
  }
  await mgr.close();
  await engine.close();
  return { transfers: all.length, acked, recoveredRecords };
}

/**
 * The anomaly scenarios' statements executed over NextDB's transaction
 * layer the way the SQL layer executes them: every statement calls
 * `beginStatement()`; UPDATE/DELETE find candidates with the statement
 * snapshot, then `getForUpdate` each one (waiting for concurrent writers;
 * READ COMMITTED gets the latest committed version back) and re-check the
 * predicate on what it returns, as PostgreSQL's EvalPlanQual does; INSERT
 * checks the key is free first; a statement whose SERIALIZABLE write
 * refreshed the snapshot runs again. Rows are `id` (4-byte big-endian key) to
 * `value` (decimal text).
 */

import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';
import { isStatementRetry, openTxnManager, type MvccTxnManager, type Txn } from '../../src/txn/index.ts';
import { formatRows, matches, type Backend, type Session, type Stmt } from './anomaly-runner.ts';
import type { Level } from './anomaly-scenarios.ts';

const key = (id: number): Buffer => {
  const k = Buffer.alloc(4);
  k.writeUInt32BE(id);
  return k;
};
const START = Buffer.alloc(0);
const END = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]);

async function rows(t: Txn): Promise<[number, number][]> {
  return (await t.scan({ start: START, end: END })).map((kv) => [kv.key.readUInt32BE(0), Number(kv.value.toString())]);
}

class NextDbSession implements Session {
  private txn: Txn | undefined;
  constructor(
    private readonly mgr: MvccTxnManager,
    private readonly level: Level,
  ) {}

  async run(stmt: Stmt): Promise<string> {
    if (stmt.kind === 'begin') {
      this.txn = this.mgr.begin({ isolation: this.level });
      return 'ok';
    }
    const t = this.txn;
    if (t === undefined) throw new Error('statement outside a transaction');
    if (stmt.kind === 'commit') {
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
      if (t.state === 'aborted') {
        await t.rollback();
        return 'ROLLBACK';
      }
      await t.commit();
      return 'COMMIT';
    }
    if (stmt.kind === 'rollback') {
      await t.rollback();
      return 'ok';
    }
    if (t.state === 'aborted') throw new NextDbError(SqlState.inFailedSqlTransaction, 'aborted');
    t.beginStatement();
    for (;;) {
      try {
        return await this.statement(t, stmt);
      } catch (e) {
        // A SERIALIZABLE write refresh: the statement runs again at the new snapshot (as the SQL session does).
        if (isStatementRetry(e) && t.retryStatement?.() === true) continue;
        throw e;
      }
    }
  }

  private async statement(t: Txn, stmt: Stmt): Promise<string> {
    switch (stmt.kind) {
      case 'selectId': {
        const v = await t.get(key(stmt.id));
        return v === undefined ? '-' : `${stmt.id}=${v.toString()}`;
      }
      case 'selectAll':
        return formatRows(await rows(t));
      case 'selectWhere':
        return formatRows((await rows(t)).filter(([, v]) => matches(stmt.pred, v)));
      case 'insert': {
        if ((await t.get(key(stmt.id))) !== undefined) throw new NextDbError(SqlState.uniqueViolation, 'duplicate key');
        await t.put(key(stmt.id), Buffer.from(String(stmt.value)));
        return '1 rows';
      }
      case 'update':
      case 'delete': {
        const candidates =
          stmt.id !== undefined
            ? (await t.get(key(stmt.id))) === undefined
              ? []
              : [stmt.id]
            : (await rows(t)).filter(([, v]) => stmt.pred !== undefined && matches(stmt.pred, v)).map(([id]) => id);
        let n = 0;
        for (const id of candidates) {
          const latest = await t.getForUpdate(key(id));
          if (latest === undefined) continue;
          const v = Number(latest.toString());
          if (stmt.pred !== undefined && !matches(stmt.pred, v)) continue; // EvalPlanQual re-check
          if (stmt.kind === 'delete') await t.delete(key(id));
          else await t.put(key(id), Buffer.from(String(stmt.set ?? v + (stmt.add ?? 0))));
          n++;
        }
        return `${n} rows`;
      }
      default:
        throw new Error(`not a statement: ${stmt.kind}`);
    }
  }
}

export async function nextDbBackend(initial: readonly (readonly [number, number])[]): Promise<Backend> {
  const mgr = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
  const setup = mgr.begin();
  for (const [id, v] of initial) await setup.put(key(id), Buffer.from(String(v)));
  await setup.commit();
  return {
    session: (_name, level) => Promise.resolve(new NextDbSession(mgr, level)),
    settle: async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
    finalRows: async () => {
      const t = mgr.begin({ readOnly: true });
      const r = formatRows(await rows(t));
      await t.commit();
      return r;
    },
    close: () => mgr.close(),
  };
}

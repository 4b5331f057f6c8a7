// nextdb_backup() on a replicated cluster: run on the leader (after a
// linearizability barrier), it writes that replica's replicated keyspace as
// a single-server data directory, which a plain SqlEngine then serves with
// every row committed before the call. Followers refuse (NotLeaderError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterTxnManager } from '../../src/kv/cluster-txn-manager.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { Harness } from './cluster-harness.ts';

test('cluster backup: the leader writes a single-server copy holding every committed row; followers refuse', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nextdb-cluster-backup-'));
  try {
    const h = new Harness([1, 2, 3]);
    await h.startAll();
    const leader = await h.leader();
    const sql = await h.drive(
      SqlEngine.open({
        engine: leader.engine,
        txnManager: new ClusterTxnManager(leader),
        clock: h.clock,
        seed: 1,
        checkpoint: (d) => leader.backup(d),
      }),
      2000,
    );
    const session = sql.createSession({ user: 'postgres', database: 'postgres' });
    const q = async (text: string): Promise<string[][]> => {
      const r = await h.drive(session.simpleQuery(text), 5000);
      return (r[r.length - 1]?.rows ?? []).map((row) => row.map((v) => (v === null ? 'NULL' : v.toString())));
    };
    await q('CREATE TABLE acct (id int PRIMARY KEY, owner text, balance int NOT NULL)');
    await q("INSERT INTO acct SELECT g, 'owner ' || g, 100 FROM generate_series(1, 300) g");
    await q(
      'BEGIN; UPDATE acct SET balance = balance - 30 WHERE id = 1; UPDATE acct SET balance = balance + 30 WHERE id = 2; COMMIT',
    );
    const backup = path.join(dir, 'backup');
    const [[info]] = (await q(`SELECT nextdb_backup('${backup}')`)) as [[string]];
    assert.ok((JSON.parse(info) as { files: number }).files >= 3, info);
    await q('DELETE FROM acct WHERE id > 100');
    await session.close();

    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await assert.rejects(
      h.drive(follower.backup(path.join(dir, 'f')), 2000),
      (e: unknown) => e instanceof NotLeaderError,
    );
    await h.drive(sql.close(), 2000);
    for (const id of [...h.nodes.keys()]) h.crash(id);

    const engine = await openLsmEngine({ dir: backup });
    const single = await SqlEngine.open({ engine });
    const s = single.createSession({ user: 'postgres', database: 'postgres' });
    const r = await s.simpleQuery('SELECT count(*), sum(balance), min(balance), max(balance), max(owner) FROM acct');
    assert.deepEqual(
      r[0]!.rows!.map((row) => row.map((v) => v?.toString())),
      [['300', '30000', '70', '130', 'owner 99']],
    );
    await s.simpleQuery('INSERT INTO acct VALUES (301, NULL, 1)'); // and it takes writes as a single server
    await s.close();
    await single.close();
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The anomaly scenarios' statements as PostgreSQL SQL over
 * `test(id int primary key, value int)`: used to replay them on a real
 * PostgreSQL server (record-pg-anomalies.ts) and through NextDB's own SQL
 * engine (sql-anomalies.ts).
 */

import type { Level } from './anomaly-scenarios.ts';
import type { Stmt } from './anomaly-runner.ts';

function predSql(p: { op: 'eq' | 'mod'; n: number }): string {
  return p.op === 'eq' ? `value = ${p.n}` : `value % ${p.n} = 0`;
}

export function sqlOf(s: Stmt, level: Level): string {
  switch (s.kind) {
    case 'begin':
      return `begin isolation level ${level}`;
    case 'commit':
    case 'rollback':
      return s.kind;
    case 'selectId':
      return `select id, value from test where id = ${s.id}`;
    case 'selectAll':
      return 'select id, value from test order by id';
    case 'selectWhere':
      return `select id, value from test where ${predSql(s.pred)} order by id`;
    case 'insert':
      return `insert into test values (${s.id}, ${s.value})`;
    case 'update': {
      const where = s.id !== undefined ? `id = ${s.id}` : predSql(s.pred!);
      return `update test set value = ${s.set !== undefined ? String(s.set) : `value + ${s.add ?? 0}`} where ${where}`;
    }
    case 'delete':
      return `delete from test where ${s.id !== undefined ? `id = ${s.id}` : predSql(s.pred!)}`;
  }
}

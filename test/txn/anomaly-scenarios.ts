/**
 * The isolation anomaly matrix as data: each scenario is an interleaving of
 * SQL-like statements over a two-column table `test(id int primary key,
 * value int)`, and a predicate that says, from what the run observed,
 * whether the anomaly happened. The same scenarios run against NextDB's
 * transaction layer (anomalies.test.ts, which emulates each statement the
 * way the SQL layer executes it) and against a real PostgreSQL 15 server
 * (record-pg-anomalies.ts), at each isolation level.
 *
 * Step syntax: `Tn: <stmt> [#label]`, where <stmt> is one of
 *   begin | commit | rollback
 *   select <id> | select * | select where <pred>
 *   update <id> set <v> | update <id> add <d> | update where <pred> add <d>
 *   delete <id> | delete where <pred>
 *   insert <id> <value>
 * and <pred> is `value = N` or `value mod N` (value % N = 0).
 * A label names the step's output for the anomaly predicate.
 */

export interface Observed {
  /** Output of labelled steps: rows as `id=value,...` or `-` (none), `n rows`, or `ERROR <sqlstate>`. */
  readonly out: Readonly<Record<string, string>>;
  /** Transactions whose COMMIT succeeded. */
  readonly committed: ReadonlySet<string>;
  /** Rows after all transactions ended, `id=value,...`. */
  readonly final: string;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly rows?: readonly (readonly [number, number])[];
  readonly steps: readonly string[];
  /** True when the run exhibits the anomaly. */
  readonly anomaly: (o: Observed) => boolean;
}

export const LEVELS = ['read committed', 'repeatable read', 'serializable'] as const;
export type Level = (typeof LEVELS)[number];

const both = (o: Observed, ...txns: string[]): boolean => txns.every((t) => o.committed.has(t));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'G0',
    title: 'dirty write: two writers interleave on two rows',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: update 1 set 11',
      'T2: update 1 set 12',
      'T1: update 2 set 21',
      'T1: commit',
      'T2: update 2 set 22',
      'T2: commit',
    ],
    // A mix of the two writers' values means their writes interleaved.
    anomaly: (o) => o.final === '1=12,2=21' || o.final === '1=11,2=22',
  },
  {
    name: 'G1a',
    title: 'aborted read: a reader sees a write that is rolled back',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: update 1 set 101',
      'T2: select * #r1',
      'T1: rollback',
      'T2: select * #r2',
      'T2: commit',
    ],
    anomaly: (o) => (o.out['r1'] ?? '').includes('101') || (o.out['r2'] ?? '').includes('101'),
  },
  {
    name: 'G1b',
    title: 'intermediate read: a reader sees a value that is overwritten before commit',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: update 1 set 101',
      'T2: select * #r1',
      'T1: update 1 set 11',
      'T1: commit',
      'T2: select * #r2',
      'T2: commit',
    ],
    anomaly: (o) => (o.out['r1'] ?? '').includes('101') || (o.out['r2'] ?? '').includes('101'),
  },
  {
    name: 'G1c',
    title: 'circular information flow: each transaction sees the other uncommitted write',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: update 1 set 11',
      'T2: update 2 set 22',
      'T1: select 2 #r1',
      'T2: select 1 #r2',
      'T1: commit',
      'T2: commit',
    ],
    anomaly: (o) => o.out['r1'] === '2=22' && o.out['r2'] === '1=11',
  },
  {
    name: 'OTV',
    title: 'observed transaction vanishes: a reader sees part of a commit, then an older value',
    steps: [
      'T1: begin',
      'T2: begin',
      'T3: begin',
      'T1: update 1 set 11',
      'T1: update 2 set 19',
      'T2: update 1 set 12',
      'T1: commit',
      'T3: select 1 #a',
      'T2: update 2 set 18',
      'T3: select 2 #b',
      'T2: commit',
      'T3: select 2 #c',
      'T3: select 1 #d',
      'T3: commit',
    ],
    // Having seen T2's write to row 2 (18), T3 must not see row 1 before T2's write (11).
    anomaly: (o) => {
      const seq = [o.out['a'], o.out['b'], o.out['c'], o.out['d']];
      const saw18 = seq.findIndex((r) => r === '2=18');
      return saw18 >= 0 && seq.slice(saw18 + 1).some((r) => r === '1=11');
    },
  },
  {
    name: 'PMP',
    title: 'predicate-many-preceders: a repeated predicate read sees a newly inserted row',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select where value = 30 #r1',
      'T2: insert 3 30',
      'T2: commit',
      'T1: select where value mod 3 #r2',
      'T1: commit',
    ],
    anomaly: (o) => o.out['r1'] !== o.out['r2'],
  },
  {
    name: 'PMP-write',
    title: 'predicate-many-preceders with write predicates: a delete misses rows a concurrent update moved',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: update where value mod 10 add 10',
      'T2: delete where value = 20 #d',
      'T1: commit',
      'T2: select * #r',
      'T2: commit',
    ],
    // T2's delete should see the rows as of one consistent state: either
    // before T1 (deletes row 2) or after T1 (deletes nothing, row 2 is 30).
    // Deleting nothing yet committing while having been based on the old state
    // is the anomaly PostgreSQL's READ COMMITTED allows.
    anomaly: (o) => o.committed.has('T2') && o.out['d'] === '0 rows' && o.final === '1=20,2=30',
  },
  {
    name: 'P4',
    title: 'lost update: both read, both write a value computed from the read',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select 1 #r1',
      'T2: select 1 #r2',
      'T1: update 1 set 11',
      'T2: update 1 set 11',
      'T1: commit',
      'T2: commit',
    ],
    anomaly: (o) => both(o, 'T1', 'T2'),
  },
  {
    name: 'P4-increment',
    title: 'lost update with the increment inside the statement (UPDATE ... SET value = value + 1)',
    steps: ['T1: begin', 'T2: begin', 'T1: update 1 add 1', 'T2: update 1 add 1', 'T1: commit', 'T2: commit'],
    anomaly: (o) => both(o, 'T1', 'T2') && o.final !== '1=12,2=20',
  },
  {
    name: 'G-single',
    title: 'read skew: a reader sees one row before and one after a concurrent transfer',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select 1 #a',
      'T2: select 1',
      'T2: select 2',
      'T2: update 1 set 12',
      'T2: update 2 set 18',
      'T2: commit',
      'T1: select 2 #b',
      'T1: commit',
    ],
    anomaly: (o) => o.out['a'] === '1=10' && o.out['b'] === '2=18',
  },
  {
    name: 'G-single-write',
    title: 'read skew with a write predicate: a delete based on a half-old view',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select 1 #a',
      'T2: select *',
      'T2: update 1 set 12',
      'T2: update 2 set 18',
      'T2: commit',
      'T1: delete where value = 20 #d',
      'T1: select * #r',
      'T1: commit',
    ],
    // T1 saw row 1 before T2 (10) and then acted on row 2 after T2 (its delete found nothing).
    anomaly: (o) => o.committed.has('T1') && o.out['a'] === '1=10' && o.out['d'] === '0 rows',
  },
  {
    name: 'G2-item',
    title: 'write skew: both read both rows, each updates a different one',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select *',
      'T2: select *',
      'T1: update 1 set 11',
      'T2: update 2 set 21',
      'T1: commit',
      'T2: commit',
    ],
    anomaly: (o) => both(o, 'T1', 'T2'),
  },
  {
    name: 'G2',
    title: 'anti-dependency cycle with predicates: both check a predicate is empty, both insert',
    steps: [
      'T1: begin',
      'T2: begin',
      'T1: select where value mod 3',
      'T2: select where value mod 3',
      'T1: insert 3 30',
      'T2: insert 4 42',
      'T1: commit',
      'T2: commit',
    ],
    anomaly: (o) => both(o, 'T1', 'T2'),
  },
  {
    name: 'G2-readonly',
    title: 'read-only anomaly (Fekete et al.): a read-only transaction observes a state no serial order produces',
    rows: [
      [1, 0],
      [2, 0],
    ],
    steps: [
      'T2: begin',
      'T2: select *',
      'T1: begin',
      'T1: update 2 add 20',
      'T1: commit',
      'T3: begin',
      'T3: select * #r3',
      'T3: commit',
      'T2: update 1 set -11',
      'T2: commit',
    ],
    // T3 saw T1's deposit but not T2's withdrawal, while T2 (which did not see the deposit) commits after.
    anomaly: (o) => both(o, 'T1', 'T2', 'T3') && o.out['r3'] === '1=0,2=20',
  },
];

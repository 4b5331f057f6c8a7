/**
 * SQL cursors: DECLARE / FETCH / MOVE / CLOSE and pg_cursors.
 *
 * A cursor's query runs when it is declared, in the declaring transaction,
 * and its rows are kept (as a portal's are, see session.ts): FETCH and MOVE
 * only move a position over them. That makes every cursor scrollable at no
 * cost and insensitive to later changes, as PostgreSQL's cursors are (they
 * read the snapshot of DECLARE). The price is memory for the whole result
 * (MEMORY_ROWS_MAX in the session bounds it).
 *
 * Position, as in PostgreSQL: 0 before the first row, k on row k (1-based),
 * n + 1 after the last.
 *
 * Lifetime: a cursor ends at CLOSE, or when its transaction ends; WITH HOLD
 * keeps it after a COMMIT (a ROLLBACK of the declaring transaction drops it
 * too), until CLOSE or the session's end.
 */

import type { DeclareCursorStmt, FetchStmt } from '@pgsql/types';
import { NextDbError } from '../util/errors.ts';
import type { OutputColumn } from './plan/plan.ts';
import type { Value } from './types/sql-type.ts';

/** DeclareCursorStmt.options bits (PostgreSQL's CURSOR_OPT_*). */
const OPT_BINARY = 0x1;
// 0x2 is SCROLL: the default (neither SCROLL nor NO SCROLL) scrolls too here, every cursor being materialized.
const OPT_NO_SCROLL = 0x4;
const OPT_HOLD = 0x20;

export interface Cursor {
  readonly name: string;
  /** The DECLARE statement's text (pg_cursors.statement). */
  readonly statement: string;
  readonly cols: readonly OutputColumn[];
  readonly rows: readonly Value[][];
  readonly hold: boolean;
  readonly binary: boolean;
  /** NO SCROLL: only forward. */
  readonly scroll: boolean;
  readonly createdMicros: bigint;
  /** WITH HOLD cursors declared in the open transaction: dropped if it rolls back. */
  inOpenTxn: boolean;
  pos: number;
}

export interface CursorOptions {
  readonly hold: boolean;
  readonly binary: boolean;
  readonly scroll: boolean;
}

export function cursorOptions(s: DeclareCursorStmt): CursorOptions {
  const o = s.options ?? 0;
  return { hold: (o & OPT_HOLD) !== 0, binary: (o & OPT_BINARY) !== 0, scroll: (o & OPT_NO_SCROLL) === 0 };
}

function noCursor(name: string): NextDbError {
  return new NextDbError('34000', `cursor "${name}" does not exist`);
}

/** The session's open cursors. */
export class Cursors {
  private readonly open = new Map<string, Cursor>();

  get size(): number {
    return this.open.size;
  }

  all(): IterableIterator<Cursor> {
    return this.open.values();
  }

  /** A cursor's columns (Describe of a FETCH statement); undefined when it is not open. */
  columnsOf(name: string): readonly OutputColumn[] | undefined {
    return this.open.get(name)?.cols;
  }

  has(name: string): boolean {
    return this.open.has(name);
  }

  add(c: Omit<Cursor, 'pos' | 'inOpenTxn'>, inBlock: boolean): void {
    if (this.open.has(c.name)) throw new NextDbError('42P03', `cursor "${c.name}" already exists`);
    this.open.set(c.name, { ...c, pos: 0, inOpenTxn: inBlock });
  }

  close(name: string | undefined): void {
    if (name === undefined) this.open.clear();
    else if (!this.open.delete(name)) throw noCursor(name);
  }

  /** The transaction ended: cursors without HOLD close; HOLD ones declared in it stay only if it committed. */
  endTransaction(committed: boolean): void {
    for (const [name, c] of this.open) {
      if (!c.hold || (c.inOpenTxn && !committed)) this.open.delete(name);
      else c.inOpenTxn = false;
    }
  }

  /** FETCH (the rows) or MOVE (how many rows it passed over) as PostgreSQL counts them. */
  fetch(s: FetchStmt): { cursor: Cursor; rows: Value[][]; count: number } {
    const name = s.portalname ?? '';
    const c = this.open.get(name);
    if (c === undefined) throw noCursor(name);
    const n = c.rows.length;
    const howMany = Number(s.howMany ?? 0);
    const all = howMany >= 2147483647;
    const out: Value[][] = [];
    let count = 0;
    const take = (i: number): void => {
      count++;
      if (s.ismove !== true) out.push(c.rows[i - 1]!);
    };
    const backwardCheck = (): void => {
      if (!c.scroll)
        throw new NextDbError('55000', 'cursor can only scan forward', {
          hint: 'Declare it with SCROLL option to enable backward scan.',
        });
    };
    /** ABSOLUTE / RELATIVE: to one row (or before the first / after the last). */
    const goTo = (target: number): void => {
      if (target < c.pos || (target === c.pos && c.pos > 0)) backwardCheck();
      if (target <= 0) c.pos = 0;
      else if (target > n) c.pos = n + 1;
      else {
        c.pos = target;
        take(target);
      }
    };
    switch (s.direction ?? 'FETCH_FORWARD') {
      case 'FETCH_FORWARD':
      case 'FETCH_BACKWARD': {
        const forward = (s.direction ?? 'FETCH_FORWARD') === 'FETCH_FORWARD';
        if (howMany === 0) {
          // FORWARD 0 / BACKWARD 0: the current row again (a step back and forth in PostgreSQL: scrolling).
          if (c.pos >= 1 && c.pos <= n) {
            backwardCheck();
            take(c.pos);
          }
          break;
        }
        if (forward) {
          const want = all ? Number.POSITIVE_INFINITY : howMany;
          while (count < want && c.pos <= n) {
            c.pos++;
            if (c.pos <= n) take(c.pos);
          }
        } else {
          backwardCheck();
          const want = all ? Number.POSITIVE_INFINITY : howMany;
          while (count < want && c.pos >= 1) {
            c.pos--;
            if (c.pos >= 1) take(c.pos);
          }
        }
        break;
      }
      case 'FETCH_ABSOLUTE':
        if (howMany < 0) backwardCheck(); // counted from the end: PostgreSQL reads to the end and back
        goTo(howMany >= 0 ? howMany : n + 1 + howMany);
        break;
      case 'FETCH_RELATIVE':
        if (howMany === 0) {
          if (c.pos >= 1 && c.pos <= n) {
            backwardCheck();
            take(c.pos);
          }
        } else goTo(c.pos + howMany);
        break;
      default:
        throw new NextDbError('42601', `unknown FETCH direction ${s.direction ?? ''}`);
    }
    return { cursor: c, rows: out, count };
  }
}

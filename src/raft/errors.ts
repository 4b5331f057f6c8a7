/**
 * Errors the Raft core returns to callers that asked the wrong node or asked
 * at the wrong time. They are retryable by nature: the request never entered
 * the log, so retrying (on the named leader, or later) is always safe.
 */

import { NextDbError, SqlState } from '../util/errors.ts';
import type { GroupId, NodeId } from './types.ts';
import { NONE } from './types.ts';

/** A proposal or read sent to a node that is not the leader. `leader` is NONE when unknown. */
export class NotLeaderError extends NextDbError {
  override name = 'NotLeaderError';
  constructor(
    readonly group: GroupId,
    readonly node: NodeId,
    readonly leader: NodeId,
  ) {
    super(
      // 40001: the client library retries serialization failures; a
      // redirect is the same kind of "try again" for it.
      SqlState.serializationFailure,
      leader === NONE
        ? `not leader: node ${node} is not the leader of raft group ${group}, and no leader is known`
        : `not leader: node ${node} is not the leader of raft group ${group}; leader is node ${leader}`,
      { hint: leader === NONE ? 'retry after an election' : `retry on node ${leader}` },
    );
  }
}

/** The leader cannot take this request now (transfer in progress, a conf change pending, ...). */
export class RaftBusyError extends NextDbError {
  override name = 'RaftBusyError';
  constructor(message: string) {
    super(SqlState.serializationFailure, message, { hint: 'retry shortly' });
  }
}

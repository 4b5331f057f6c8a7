/**
 * The vocabulary of the Raft core: log entries, durable state, membership,
 * messages and the Ready batch handed to the driver.
 *
 * Everything here is plain immutable data, so it can be encoded by
 * `codec.ts`, compared in tests and printed by the golden-script runner.
 * Node id 0 means "nobody" (no vote, no known leader); real ids are >= 1.
 * Every message carries its Raft group id so that one transport and one log
 * store can serve many groups per node.
 */

export type NodeId = number;
export type GroupId = number;

/** Node id meaning "none": no vote cast, no leader known. */
export const NONE: NodeId = 0;

export const EntryType = { normal: 0, confChange: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/**
 * One log entry. A `normal` entry with empty data is the no-op a new leader
 * appends to commit entries of earlier terms (Raft §5.4.2).
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The state that must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** Membership: voters form quorums; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * Membership changes, one at a time (Raft thesis §4.1 single-server changes).
 * `set` is only written by `bootstrapState` as entry 1 of a new group.
 */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly node: NodeId }
  | { readonly type: 'addVoter'; readonly node: NodeId }
  | { readonly type: 'removeNode'; readonly node: NodeId }
  | { readonly type: 'set'; readonly conf: ConfState };

export interface SnapshotMeta {
  /** Last log index covered by the snapshot. */
  readonly index: number;
  readonly term: number;
  /** Membership as of `index`. */
  readonly conf: ConfState;
}

/** A state machine image plus the log position it stands for. `data` is opaque to Raft. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

interface MessageHeader {
  readonly group: GroupId;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/**
 * The wire messages. `vote` with `preVote` is the Pre-Vote request (§9.6):
 * its term is the term the sender *would* campaign in, and receiving it
 * changes nobody's durable state. `force` marks a campaign started by
 * TimeoutNow (leadership transfer), which bypasses leader stickiness.
 * Heartbeats carry a sequence number that responses echo: a quorum of echoes
 * of a sequence number sent after a read arrived confirms leadership for
 * ReadIndex and dates the leader lease.
 */
export type Message =
  | (MessageHeader & {
      readonly kind: 'vote';
      readonly preVote: boolean;
      readonly lastIndex: number;
      readonly lastTerm: number;
      readonly force: boolean;
    })
  | (MessageHeader & { readonly kind: 'voteResp'; readonly preVote: boolean; readonly reject: boolean })
  | (MessageHeader & {
      readonly kind: 'append';
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
    })
  | (MessageHeader & {
      readonly kind: 'appendResp';
      /** On success the follower's last index matching the leader; on reject the prevIndex refused. */
      readonly index: number;
      readonly reject: boolean;
      /** Reject hint: the largest index <= index whose term <= the leader's prevTerm, and its term. */
      readonly hintIndex: number;
      readonly hintTerm: number;
    })
  | (MessageHeader & { readonly kind: 'heartbeat'; readonly commit: number; readonly seq: number })
  | (MessageHeader & { readonly kind: 'heartbeatResp'; readonly seq: number })
  | (MessageHeader & {
      readonly kind: 'snapshot';
      readonly meta: SnapshotMeta;
      /** Byte offset of this chunk in the snapshot data. */
      readonly offset: number;
      readonly chunk: Uint8Array;
      readonly done: boolean;
    })
  | (MessageHeader & {
      readonly kind: 'snapshotResp';
      readonly snapIndex: number;
      readonly snapTerm: number;
      /** The next byte offset the follower expects. */
      readonly offset: number;
    })
  | (MessageHeader & { readonly kind: 'timeoutNow' });

export type MessageKind = Message['kind'];

/** A confirmed linearizable read: serve it once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly ctx: number;
}

/** Volatile state, reported so drivers can route requests and tests can print transitions. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
}

/**
 * What the driver must do, in this order:
 *   1. persist `snapshot` (if any; it replaces the whole log), then
 *      truncate the log at `entries[0].index` and append `entries`, and
 *      persist `hardState` (if any) — durably (fsync), and the hard state
 *      atomically with or after the entries (its commit may point into them);
 *   2. send `messages`;
 *   3. install `snapshot` into the state machine, then apply
 *      `committedEntries` in order; serve `readStates` once applied;
 *   4. call `advance(ready)`.
 * Committed entries never run past the entries of this Ready, so step 3 only
 * applies what step 1 made durable.
 *
 * One exception to "persist before send" (Raft thesis §10.2.1): messages for
 * which `mayPrecedePersist` is true — a leader's appends, heartbeats,
 * snapshot chunks and TimeoutNow — may go out while step 1 is in progress.
 * The leader counts its own entries towards a quorum only once advance()
 * says they are durable, so this only overlaps its fsync with the
 * followers'.
 */
export interface Ready {
  readonly softState: SoftState;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  /**
   * False when the only durable change is the commit index: the driver may
   * write the hard state without waiting for an fsync (a lost commit index
   * is re-learned from the leader), which spares followers an fsync per
   * commit advance.
   */
  readonly mustSync: boolean;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Durable state a node restarts from (what the log store returns). */
export interface RaftInitialState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Contiguous entries following `snapshot.meta.index`. */
  readonly entries: readonly Entry[];
  /** Index the state machine has applied (defaults to the snapshot index). */
  readonly applied?: number;
}

/** True for messages a leader may send before its Ready is persisted (see Ready). */
export function mayPrecedePersist(m: Message): boolean {
  return m.kind === 'append' || m.kind === 'heartbeat' || m.kind === 'snapshot' || m.kind === 'timeoutNow';
}

/**
 * The cluster's member registry: who the members are and where to reach
 * them, kept in the replicated keyspace so every node knows every member's
 * addresses (also after a restart, and a node that joins learns them with
 * the log or the snapshot).
 *
 *   fe 'c' 'm' <id u32>   JSON {"id","raftAddress","sqlAddress"}   one per member ever registered
 *   fe 'c' 'n'            u32: the next member id to hand out       (ids are never reused)
 *
 * The byte 0xfe lies inside the replicated keyspace (below 0xff) and above
 * every MVCC space (0x00-0x03), so MVCC never sees these keys. They are
 * written raw through the ReplicatedEngine by the leader (not in an MVCC
 * transaction): one engine batch, committed by Raft like any other write.
 *
 * The Raft configuration (voters, learners) says who *is* a member; a
 * record only says where a member is. A record whose id is not in the
 * configuration (a node removed, a join that failed before its conf change)
 * is ignored by readers and reused when the same Raft address joins again.
 *
 * Deterministic and I/O-free: the server (src/server/cluster-server.ts)
 * drives it, retries busy conf changes and answers HTTP.
 */

import type { NodeId } from '../raft/types.ts';
import type { Reader } from '../storage/engine.ts';
import { WriteBatch } from '../storage/write-batch.ts';
import { NextDbError, SqlState } from '../util/errors.ts';

export interface MemberRecord {
  readonly id: NodeId;
  /** host:port of the Raft transport. */
  readonly raftAddress: string;
  /** host:port of the SQL (PostgreSQL protocol) and HTTP listener. */
  readonly sqlAddress: string;
}

const PREFIX = Buffer.from([0xfe, 0x63, 0x6d]); // fe 'c' 'm'
const PREFIX_END = Buffer.from([0xfe, 0x63, 0x6e]);
const NEXT_ID_KEY = Buffer.from([0xfe, 0x63, 0x6e]); // fe 'c' 'n'

function memberKey(id: NodeId): Buffer {
  const k = Buffer.alloc(PREFIX.length + 4);
  PREFIX.copy(k);
  k.writeUInt32BE(id, PREFIX.length);
  return k;
}

/** Every member record in `reader` (the replicated engine, or a stale snapshot of it), by id. */
export function readMembers(reader: Pick<Reader, 'scan'>): Map<NodeId, MemberRecord> {
  const out = new Map<NodeId, MemberRecord>();
  for (const [, v] of reader.scan({ gte: PREFIX, lt: PREFIX_END })) {
    const m = parseRecord(v);
    if (m !== undefined) out.set(m.id, m);
  }
  return out;
}

function parseRecord(v: Buffer): MemberRecord | undefined {
  try {
    const o = JSON.parse(v.toString('utf8')) as Partial<MemberRecord>;
    if (typeof o.id !== 'number' || typeof o.raftAddress !== 'string' || typeof o.sqlAddress !== 'string')
      return undefined;
    return { id: o.id, raftAddress: o.raftAddress, sqlAddress: o.sqlAddress };
  } catch {
    return undefined;
  }
}

/** The next unused member id: above the counter and above every id already recorded or configured. */
export function nextMemberId(reader: Pick<Reader, 'get' | 'scan'>, configured: readonly NodeId[]): NodeId {
  const raw = reader.get(NEXT_ID_KEY);
  let next = raw === undefined || raw.length !== 4 ? 1 : raw.readUInt32BE(0);
  for (const id of readMembers(reader).keys()) next = Math.max(next, id + 1);
  for (const id of configured) next = Math.max(next, id + 1);
  return next;
}

/**
 * A batch that records `m` and sets the id counter to `nextId` (from
 * nextMemberId, so it never moves back). The caller, the leader, writes it
 * through the ReplicatedEngine and awaits `sync()`.
 */
export function memberBatch(m: MemberRecord, nextId: NodeId): WriteBatch {
  if (!Number.isInteger(m.id) || m.id < 1 || m.id > 0xffff_ffff)
    throw new NextDbError(SqlState.invalidParameterValue, `bad node id ${m.id}: must be a positive integer`);
  const next = Buffer.alloc(4);
  next.writeUInt32BE(Math.min(0xffff_ffff, Math.max(nextId, m.id + 1)), 0);
  return new WriteBatch()
    .put(
      memberKey(m.id),
      Buffer.from(JSON.stringify({ id: m.id, raftAddress: m.raftAddress, sqlAddress: m.sqlAddress })),
    )
    .put(NEXT_ID_KEY, next);
}

/** Splits "host:port" (IPv6 in brackets allowed); throws a 22023 error naming `what` otherwise. */
export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port > 0 && port < 65536))
    throw new NextDbError(SqlState.invalidParameterValue, `${what}: expected host:port, got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}

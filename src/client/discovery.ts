/**
 * Member discovery of the client library: asks a NextDB node which nodes
 * form the cluster, and which of them leads.
 *
 * Every cluster node answers `GET /api/cluster` over plain HTTP on its SQL
 * port (the server tells HTTP from the PostgreSQL protocol by the first
 * bytes; docs/operating/cluster.md):
 *
 *   { nodeId, leaderId, term,
 *     members: [{ id, address: "host:port" | null, role, voter,
 *                 applied: n | null, healthy: bool | null }] }   (null: unknown to the answering node)
 *
 * A follower answers with the leader's figures where it can reach it, so
 * one answering node is enough. This module only fetches and validates
 * that answer; what the client does with it (routing, refresh on failure)
 * is in client.ts. Nothing secret is sent: the request carries no
 * credentials, and the answer is only addresses and roles.
 *
 * Invariant: parseClusterView returns a view only when every member it
 * keeps is well-formed; an answer of another shape (an older server, a
 * PostgreSQL server, a proxy's error page) is "no view", never a guess.
 */

import http from 'node:http';

export interface ClusterMember {
  readonly id: number;
  /** SQL host:port; null until the member registered its address. */
  readonly address: string | null;
  readonly role: string;
  readonly voter: boolean;
  /** null: the answering node does not know (a follower cut off from the leader). */
  readonly applied: number | null;
  /** The answering node heard from this member recently; null: it cannot tell. */
  readonly healthy: boolean | null;
}

export interface ClusterView {
  /** The node that answered. */
  readonly nodeId: number;
  readonly leaderId: number | null;
  readonly term: number;
  readonly members: readonly ClusterMember[];
}

/** Largest answer accepted; a member list is a few hundred bytes a member. */
const MAX_VIEW_BYTES = 1 << 20;

/** GET http://host:port/api/cluster; resolves undefined on any failure or an answer of another shape. */
export function fetchClusterView(host: string, port: number, timeoutMs: number): Promise<ClusterView | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: ClusterView | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(v);
    };
    // No keep-alive agent: a refresh is rare, and a pooled idle socket would outlive close().
    const req = http.get(
      { host, port, path: '/api/cluster', agent: false, headers: { accept: 'application/json', connection: 'close' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          done(undefined);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_VIEW_BYTES) done(undefined);
          else chunks.push(c);
        });
        res.on('end', () => {
          try {
            done(parseClusterView(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          } catch {
            done(undefined);
          }
        });
        res.on('error', () => done(undefined));
      },
    );
    req.on('error', () => done(undefined));
    const timer = setTimeout(() => done(undefined), timeoutMs);
  });
}

/** Validates a decoded /api/cluster answer. */
export function parseClusterView(body: unknown): ClusterView | undefined {
  if (!isObject(body)) return undefined;
  const { nodeId, leaderId, term, members } = body;
  if (!isId(nodeId) || !(leaderId === null || isId(leaderId)) || typeof term !== 'number' || !Array.isArray(members))
    return undefined;
  const out: ClusterMember[] = [];
  for (const m of members as unknown[]) {
    if (!isObject(m)) return undefined;
    const { id, address, role, voter, applied, healthy } = m;
    if (!isId(id) || !(address === null || typeof address === 'string') || typeof role !== 'string') return undefined;
    if (
      typeof voter !== 'boolean' ||
      !(applied === null || typeof applied === 'number') ||
      !(healthy === null || typeof healthy === 'boolean')
    )
      return undefined;
    out.push({ id, address: address === '' ? null : address, role, voter, applied, healthy });
  }
  return { nodeId, leaderId, term, members: out };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/**
 * Types shared by the server's parts: what a connection needs from the
 * listener (a Transport), from the SQL engine (a SessionProvider) and from
 * the server as a whole (ServerContext). Kept apart so the connection state
 * machine can be driven in tests without sockets.
 */

import type { Logger } from 'pino';
import type { RoleInfo, Session } from '../sql/api.ts';
import type { NodeId } from '../raft/types.ts';

/** What the connection state machine needs from a socket. */
export interface Transport {
  /** Sends one batch of replies (one socket write). */
  write(data: Buffer): void;
  /** Ends the connection after pending writes. Idempotent. */
  close(): void;
  /** Stops / restarts delivering input (backpressure while the connection is busy). */
  pause(): void;
  resume(): void;
  /** Upgrades to TLS (after 'S' was written); undefined when TLS is not configured. */
  startTls: (() => Promise<void>) | undefined;
  readonly remoteAddress: string;
  readonly isLoopback: boolean;
  readonly encrypted: boolean;
}

export interface StartupInfo {
  readonly user: string;
  readonly database: string;
  readonly params?: Record<string, string>;
}

/** The SQL engine as the server sees it; SqlEngine satisfies it structurally. */
export interface SessionProvider {
  createSession(startup: StartupInfo): Session | Promise<Session>;
  /** The catalog's role of that name; absent while the engine has no role catalog. */
  lookupRole?(name: string): RoleInfo | undefined | Promise<RoleInfo | undefined>;
}

export type AuthMethod = 'trust' | 'password' | 'md5' | 'scram-sha-256';
export const authMethods: readonly AuthMethod[] = ['trust', 'password', 'md5', 'scram-sha-256'];

export interface ServerLimits {
  /** PostgreSQL connections at once; the next one gets FATAL 53300. */
  readonly maxConnections: number;
  /** Largest frontend message, length included. */
  readonly maxMessageBytes: number;
  /** Ends a session idle inside a transaction this long; 0 disables. */
  readonly idleInTransactionTimeoutMs: number;
  /** A connection must finish startup and authentication within this time (PostgreSQL's authentication_timeout). */
  readonly authenticationTimeoutMs: number;
  /** Statements slower than this are logged (warn, with their text); 0 disables. */
  readonly slowQueryMs: number;
}

export interface AuthConfig {
  /** Method for connections from loopback addresses. */
  readonly local: AuthMethod;
  /** Method for every other address. */
  readonly remote: AuthMethod;
  /**
   * Password of the bootstrap superuser `postgres` while the catalog has no
   * password for it (or no role catalog at all): lets a fresh server be
   * reached with password methods, like POSTGRES_PASSWORD in other setups.
   */
  readonly superuserPassword?: string | undefined;
}

/** Per-query observation for metrics. */
export type QueryObserver = (kind: string, seconds: number) => void;
export type { Logger };

/** One member as GET /api/cluster reports it (the shape the client library relies on). */
export interface ClusterMemberView {
  readonly id: NodeId;
  /** SQL/HTTP host:port; null until the member registered its address. */
  readonly address: string | null;
  readonly role: 'leader' | 'follower' | 'learner' | 'candidate' | 'preCandidate';
  readonly voter: boolean;
  /** Applied index (the answering node) or log match index known to the leader; null: unknown to the answering node. */
  readonly applied: number | null;
  /** Heard from within an election timeout; null: the answering node cannot tell (it hears only from the leader). */
  readonly healthy: boolean | null;
}

export interface ClusterView {
  readonly nodeId: NodeId;
  readonly leaderId: NodeId | null;
  readonly term: number;
  readonly members: readonly ClusterMemberView[];
}

/**
 * RaftTransport: Raft messages between nodes over TCP. One transport per
 * node carries the messages of every Raft group (each message names its
 * group); the receiver dispatches by group.
 *
 * Wire format: a stream of frames, each a u32 big-endian length followed by
 * one message encoded by src/raft/codec.ts. A connection is one-way: node A
 * dials B to send to B, and B's replies travel on B's own connection to A,
 * so neither side needs a handshake.
 *
 * Batching: `send` only queues; the frames queued in one turn of the event
 * loop go out as one socket write (with Nagle off), so a Ready's messages
 * to a peer cost one syscall.
 *
 * Failure handling, with named limits:
 *   - a peer that is not connected is dialled on demand; after a failure the
 *     next attempt waits `backoffMinMs`, doubling up to `backoffMaxMs` (with
 *     jitter). Messages sent while no connection is up and no attempt is in
 *     flight are dropped: Raft retransmits, and stale messages are useless.
 *   - at most `maxQueueBytes` are buffered per peer (queued frames plus the
 *     socket's own buffer); beyond that messages are dropped, never queued
 *     without bound.
 *   - an undecodable frame closes the inbound connection (the peer redials).
 */

import net from 'node:net';
import { ByteReader, ByteWriter, readMessage, writeMessage } from '../raft/codec.ts';
import type { Message, NodeId } from '../raft/types.ts';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface RaftTransportOptions {
  readonly nodeId: NodeId;
  readonly host: string;
  readonly port: number;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly onMessage: (m: Message) => void;
  readonly maxQueueBytes?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** Hard cap on one frame, so a corrupt length cannot make us buffer gigabytes. */
  readonly maxFrameBytes?: number;
}

export interface TransportStats {
  sentMessages: number;
  droppedMessages: number;
  receivedMessages: number;
  connects: number;
  /** Socket writes (each carries every frame queued for one peer in one turn) and their bytes. */
  writes: number;
  bytesWritten: number;
}

interface Link {
  readonly peer: NodeId;
  socket: net.Socket | undefined;
  connected: boolean;
  connecting: boolean;
  frames: Buffer[];
  frameBytes: number;
  backoffMs: number;
  retryAtMs: number;
  flushScheduled: boolean;
}

export class RaftTransport {
  private readonly links = new Map<NodeId, Link>();
  private readonly peers: Map<NodeId, PeerAddress>;
  private readonly inbound = new Set<net.Socket>();
  private readonly maxQueueBytes: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxFrameBytes: number;
  private readonly w = new ByteWriter(1024);
  private closed = false;
  readonly stats: TransportStats = {
    sentMessages: 0,
    droppedMessages: 0,
    receivedMessages: 0,
    connects: 0,
    writes: 0,
    bytesWritten: 0,
  };

  private constructor(
    private readonly options: RaftTransportOptions,
    private readonly server: net.Server,
  ) {
    this.peers = new Map(options.peers);
    this.maxQueueBytes = options.maxQueueBytes ?? 16 << 20;
    this.backoffMinMs = options.backoffMinMs ?? 20;
    this.backoffMaxMs = options.backoffMaxMs ?? 1000;
    this.maxFrameBytes = options.maxFrameBytes ?? 64 << 20;
  }

  /** Starts listening; resolves once the port is bound. */
  static listen(options: RaftTransportOptions): Promise<RaftTransport> {
    const server = net.createServer();
    const t = new RaftTransport(options, server);
    server.on('connection', (s) => t.accept(s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve(t);
      });
    });
  }

  /** Adds or moves a peer (membership changes). */
  setPeer(id: NodeId, address: PeerAddress): void {
    this.peers.set(id, address);
    const link = this.links.get(id);
    if (link !== undefined) this.disconnect(link);
  }

  send(m: Message): void {
    if (this.closed) return;
    const link = this.link(m.to);
    if (link === undefined) {
      this.stats.droppedMessages++;
      return;
    }
    if (!link.connected && !link.connecting) {
      if (Date.now() < link.retryAtMs) {
        this.stats.droppedMessages++;
        return;
      }
      this.dial(link);
    }
    const w = this.w;
    w.reset();
    w.u32be(0);
    writeMessage(w, m);
    w.patchU32be(0, w.length - 4);
    const buffered = link.frameBytes + (link.socket?.writableLength ?? 0);
    if (buffered + w.length > this.maxQueueBytes) {
      this.stats.droppedMessages++;
      return;
    }
    link.frames.push(w.take());
    link.frameBytes += w.length;
    this.stats.sentMessages++;
    if (link.connected && !link.flushScheduled) {
      link.flushScheduled = true;
      setImmediate(() => this.flush(link));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) this.disconnect(link);
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ───────────── outbound ─────────────

  private link(peer: NodeId): Link | undefined {
    let link = this.links.get(peer);
    if (link === undefined) {
      if (!this.peers.has(peer)) return undefined;
      link = {
        peer,
        socket: undefined,
        connected: false,
        connecting: false,
        frames: [],
        frameBytes: 0,
        backoffMs: 0,
        retryAtMs: 0,
        flushScheduled: false,
      };
      this.links.set(peer, link);
    }
    return link;
  }

  private dial(link: Link): void {
    const addr = this.peers.get(link.peer)!;
    link.connecting = true;
    const socket = net.connect({ host: addr.host, port: addr.port });
    link.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      if (link.socket !== socket) return;
      link.connecting = false;
      link.connected = true;
      link.backoffMs = 0;
      this.stats.connects++;
      this.flush(link);
    });
    // Inbound data on an outbound connection is not part of the protocol; ignore it.
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      if (link.socket !== socket) return;
      this.disconnect(link);
      link.backoffMs = Math.min(this.backoffMaxMs, Math.max(this.backoffMinMs, link.backoffMs * 2));
      // Jitter spreads the redials of many nodes after a shared outage.
      link.retryAtMs = Date.now() + link.backoffMs * (0.5 + Math.random() * 0.5);
    });
  }

  private disconnect(link: Link): void {
    const s = link.socket;
    link.socket = undefined;
    link.connected = false;
    link.connecting = false;
    this.stats.droppedMessages += link.frames.length;
    link.frames = [];
    link.frameBytes = 0;
    s?.destroy();
  }

  private flush(link: Link): void {
    link.flushScheduled = false;
    if (!link.connected || link.socket === undefined || link.frames.length === 0) return;
    const batch = link.frames.length === 1 ? link.frames[0]! : Buffer.concat(link.frames, link.frameBytes);
    link.frames = [];
    link.frameBytes = 0;
    this.stats.writes++;
    this.stats.bytesWritten += batch.length;
    link.socket.write(batch);
  }

  // ───────────── inbound ─────────────

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    const source = `raft connection from ${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let pos = 0;
      try {
        while (pending.length - pos >= 4) {
          const len = pending.readUInt32BE(pos);
          if (len > this.maxFrameBytes) throw new RangeError(`raft frame of ${len} bytes exceeds the limit`);
          if (pending.length - pos - 4 < len) break;
          const m = readMessage(new ByteReader(pending, source, pos + 4, pos + 4 + len));
          pos += 4 + len;
          this.stats.receivedMessages++;
          this.options.onMessage(m);
        }
      } catch {
        socket.destroy();
        return;
      }
      // Keep only the incomplete tail (copied, so the big chunk can be freed).
      pending = pos === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(pos));
    });
    socket.on('error', () => {});
    socket.on('close', () => this.inbound.delete(socket));
  }
}

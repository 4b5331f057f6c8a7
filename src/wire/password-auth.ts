/**
 * Password authentication math: SCRAM-SHA-256 (RFC 5802/7677, as PostgreSQL
 * speaks it) and PostgreSQL's legacy md5 scheme. Pure functions and a small
 * exchange object; no sockets. Lives in src/wire (below src/sql) so the SQL
 * layer can hash `CREATE ROLE ... PASSWORD` with `scramVerifier` and the
 * server can check logins against it.
 *
 * Stored secrets use PostgreSQL's rolpassword formats:
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
 *   md5<md5hex(password || username)>
 *   anything else: a plaintext password (accepted for every method)
 *
 * Limits: no SASLprep normalisation (PostgreSQL also uses the raw bytes when
 * a password is not valid UTF-8 for SASLprep; ASCII passwords are identical
 * either way); no channel binding (we offer SCRAM-SHA-256 only, not -PLUS,
 * and reject a client that insists on binding).
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { SqlState } from '../util/errors.ts';
import { ProtocolError } from './protocol-error.ts';

export const scramMechanism = 'SCRAM-SHA-256';
export const scramDefaultIterations = 4096;

export interface ScramSecret {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const hmac = (key: Uint8Array, data: string | Uint8Array): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** Derives the SCRAM secret for a password. */
export function scramSecret(password: string, salt: Buffer, iterations: number): ScramSecret {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** The rolpassword string PostgreSQL stores for a SCRAM password. */
export function scramVerifier(
  password: string,
  iterations = scramDefaultIterations,
  salt: Buffer = randomBytes(16),
): string {
  const s = scramSecret(password, salt, iterations);
  return `${scramMechanism}$${iterations}:${salt.toString('base64')}$${s.storedKey.toString('base64')}:${s.serverKey.toString('base64')}`;
}

/** Parses a stored SCRAM verifier; undefined when `stored` is not one. */
export function parseScramVerifier(stored: string): ScramSecret | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(stored);
  if (m === null) return undefined;
  const storedKey = Buffer.from(m[3]!, 'base64');
  const serverKey = Buffer.from(m[4]!, 'base64');
  if (storedKey.length !== 32 || serverKey.length !== 32) return undefined;
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey, serverKey };
}

/** The rolpassword string PostgreSQL stores for an md5 password. */
export function md5Verifier(password: string, user: string): string {
  return (
    'md5' +
    createHash('md5')
      .update(password + user)
      .digest('hex')
  );
}

/**
 * The response a client must send to AuthenticationMD5Password(salt), given
 * the stored secret (md5 verifier or plaintext). Undefined when the stored
 * secret is a SCRAM verifier, from which md5 cannot be derived.
 */
export function md5ExpectedResponse(stored: string, user: string, salt: Uint8Array): string | undefined {
  if (stored.startsWith(scramMechanism + '$')) return undefined;
  const inner = /^md5[0-9a-f]{32}$/.test(stored) ? stored.slice(3) : md5Verifier(stored, user).slice(3);
  return 'md5' + createHash('md5').update(inner).update(salt).digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks a cleartext password against a stored secret of any format. */
export function checkPassword(stored: string, user: string, password: string): boolean {
  const scram = parseScramVerifier(stored);
  if (scram !== undefined) {
    const s = scramSecret(password, scram.salt, scram.iterations);
    return timingSafeEqual(s.storedKey, scram.storedKey) && timingSafeEqual(s.serverKey, scram.serverKey);
  }
  if (/^md5[0-9a-f]{32}$/.test(stored)) return constantTimeEqual(md5Verifier(password, user), stored);
  return constantTimeEqual(stored, password);
}

/** The SCRAM secret for a stored secret of any format (plaintext is derived with a fresh salt). */
export function scramSecretFor(stored: string): ScramSecret | undefined {
  const parsed = parseScramVerifier(stored);
  if (parsed !== undefined) return parsed;
  if (/^md5[0-9a-f]{32}$/.test(stored)) return undefined;
  return scramSecret(stored, randomBytes(16), scramDefaultIterations);
}

function authFailed(why: string): ProtocolError {
  return new ProtocolError(`malformed SCRAM message: ${why}`, SqlState.protocolViolation);
}

/**
 * The server side of one SCRAM-SHA-256 exchange:
 *   clientFirst(msg) -> server-first-message
 *   clientFinal(msg) -> server-final-message, or undefined if the proof is wrong
 * Malformed messages raise ProtocolError.
 */
export class ScramServerExchange {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';

  constructor(
    private readonly secret: ScramSecret,
    private readonly serverNonce: string = randomBytes(18).toString('base64'),
  ) {}

  clientFirst(message: Buffer): Buffer {
    const text = message.toString('utf8');
    // gs2-header: cbind-flag "," [authzid] ","
    const m = /^([nyp])(=[^,]*)?,([^,]*),(.*)$/s.exec(text);
    if (m === null) throw authFailed('invalid client-first-message');
    if (m[1] === 'p')
      throw new ProtocolError(
        'SCRAM channel binding is not supported; use SCRAM-SHA-256 without -PLUS',
        SqlState.featureNotSupported,
      );
    this.gs2Header = `${m[1]}${m[2] ?? ''},${m[3]},`;
    this.clientFirstBare = m[4]!;
    const attrs = parseAttributes(this.clientFirstBare);
    const clientNonce = attrs.get('r');
    if (clientNonce === undefined || clientNonce === '' || /[^\x21-\x2b\x2d-\x7e]/.test(clientNonce))
      throw authFailed('missing or invalid client nonce');
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.secret.salt.toString('base64')},i=${this.secret.iterations}`;
    return Buffer.from(this.serverFirst);
  }

  clientFinal(message: Buffer): Buffer | undefined {
    const text = message.toString('utf8');
    const at = text.lastIndexOf(',p=');
    if (at < 0) throw authFailed('missing proof');
    const withoutProof = text.slice(0, at);
    const attrs = parseAttributes(withoutProof);
    const channel = attrs.get('c');
    if (channel === undefined || Buffer.from(channel, 'base64').toString('utf8') !== this.gs2Header)
      throw authFailed('channel binding data does not match');
    if (attrs.get('r') !== this.nonce) throw authFailed('nonce does not match');
    const proof = Buffer.from(text.slice(at + 3), 'base64');
    if (proof.length !== 32) throw authFailed('invalid proof length');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.secret.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.secret.storedKey)) return undefined;
    return Buffer.from(`v=${hmac(this.secret.serverKey, authMessage).toString('base64')}`);
  }
}

function parseAttributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

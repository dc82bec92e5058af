// Join tokens as swarmkit builds them (DESIGN.md §5):
//   v1: SWMTKN-1-<root CA digest>-<secret>
//   v2: SWMTKN-2-<0|1 FIPS>-<root CA digest>-<secret>
// digest = SHA-256 of the root CA certificate's DER as a base-36 integer, zero-padded to 50 chars;
// secret = 16 random bytes as a base-36 integer, zero-padded to 25 chars.
// Pure: the caller computes the SHA-256 and supplies the random bytes.
import { invalidArgument, failedPrecondition } from '../../../lib/errors';
import { base36 } from '../../../lib/ids';

export const JOIN_TOKEN_PREFIX = 'SWMTKN';
export const SECRET_BYTES = 16;
/** ceil(log36(2^128)) */
export const SECRET_BASE36_LEN = 25;
/** ceil(log36(2^256)) */
export const DIGEST_BASE36_LEN = 50;

/** Docker's text for a token that does not parse. */
export const INVALID_JOIN_TOKEN_MESSAGE = 'invalid join token';
/** swarmkit's text when IssueNodeCertificate gets no matching token. */
export const JOIN_TOKEN_REQUIRED_MESSAGE = 'A valid join token is necessary to join this cluster';

export interface ParsedJoinToken {
  version: 1 | 2;
  /** SHA-256 of the root CA certificate DER, as 64 lowercase hex characters. */
  caDigest: string;
  /** The secret part as it appears in the token (base 36, 25 chars). */
  secret: string;
  fips: boolean;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The base-36 form of a SHA-256 digest used inside a token. */
export function digestToBase36(sha256: Uint8Array): string {
  if (sha256.length !== 32) throw invalidArgument(`CA digest must be 32 bytes (SHA-256), got ${sha256.length}`);
  return base36(sha256, DIGEST_BASE36_LEN);
}

/**
 * Builds a join token from the SHA-256 of the root CA certificate DER and `SECRET_BYTES` random bytes.
 * With `fips: true` the v2 form is produced (as swarmkit does for FIPS-mandatory clusters).
 */
export function generateJoinToken(caSha256: Uint8Array, secretBytes: Uint8Array, opts: { fips?: boolean } = {}): string {
  if (secretBytes.length !== SECRET_BYTES) throw invalidArgument(`join token secret must be ${SECRET_BYTES} bytes`);
  const digest = digestToBase36(caSha256);
  const secret = base36(secretBytes, SECRET_BASE36_LEN);
  return opts.fips ? `${JOIN_TOKEN_PREFIX}-2-1-${digest}-${secret}` : `${JOIN_TOKEN_PREFIX}-1-${digest}-${secret}`;
}

const BASE36_RE = /^[0-9a-z]+$/;
const MAX_DIGEST = (1n << 256n) - 1n;

function base36ToBigInt(s: string): bigint {
  let n = 0n;
  for (const ch of s) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

/** Parses a join token; any malformed token is InvalidArgument "invalid join token". */
export function parseJoinToken(token: string): ParsedJoinToken {
  const bad = (why?: string) => invalidArgument(why ? `${INVALID_JOIN_TOKEN_MESSAGE}: ${why}` : INVALID_JOIN_TOKEN_MESSAGE);
  const parts = token.trim().split('-');
  if (parts.length < 4 || parts[0] !== JOIN_TOKEN_PREFIX) throw bad();
  let version: 1 | 2;
  let fips = false;
  let rest: string[];
  if (parts[1] === '1') {
    if (parts.length !== 4) throw bad();
    version = 1;
    rest = parts.slice(2);
  } else if (parts[1] === '2') {
    if (parts.length !== 5) throw bad();
    if (parts[2] !== '0' && parts[2] !== '1') throw bad('bad FIPS flag');
    version = 2;
    fips = parts[2] === '1';
    rest = parts.slice(3);
  } else {
    throw bad(`unsupported version ${parts[1]}`);
  }
  const [digest, secret] = rest as [string, string];
  if (digest.length !== DIGEST_BASE36_LEN || !BASE36_RE.test(digest)) throw bad('bad CA digest');
  const n = base36ToBigInt(digest);
  if (n > MAX_DIGEST) throw bad('bad CA digest');
  if (secret.length !== SECRET_BASE36_LEN || !BASE36_RE.test(secret)) throw bad('bad secret');
  return { version, caDigest: n.toString(16).padStart(64, '0'), secret, fips };
}

/** True when the token pins exactly this root CA (SHA-256 of its DER). */
export function caDigestMatches(token: ParsedJoinToken, caSha256: Uint8Array): boolean {
  return token.caDigest === hex(caSha256);
}

/** Throws FailedPrecondition (Docker's wording) when the fetched root CA does not match the token's pin. */
export function verifyCADigest(token: ParsedJoinToken, caSha256: Uint8Array): void {
  if (!caDigestMatches(token, caSha256)) {
    throw failedPrecondition(`remote CA does not match fingerprint. Expected: ${token.caDigest}`);
  }
}

/** Constant-time-ish comparison of two tokens (no early exit on the first differing character). */
export function tokensEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A new token with the same CA pin and a fresh secret (`docker swarm join-token --rotate`). */
export function rotateJoinToken(token: string, secretBytes: Uint8Array): string {
  const p = parseJoinToken(token);
  const digest = new Uint8Array(32);
  const h = p.caDigest;
  for (let i = 0; i < 32; i++) digest[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return generateJoinToken(digest, secretBytes, { fips: p.fips });
}

export { hex as bytesToHex };

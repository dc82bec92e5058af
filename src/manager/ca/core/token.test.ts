import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SeededRng } from '../../../lib/ports';
import { isKind } from '../../../lib/errors';
import {
  generateJoinToken,
  parseJoinToken,
  verifyCADigest,
  caDigestMatches,
  digestToBase36,
  tokensEqual,
  rotateJoinToken,
  INVALID_JOIN_TOKEN_MESSAGE,
} from './token';

const seq = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

test('golden: digest 01..20 and all-ones secret', () => {
  const digest = seq(32, (i) => i + 1);
  const secret = seq(16, () => 0xff);
  assert.equal(
    generateJoinToken(digest, secret),
    'SWMTKN-1-00wjzlh5yt3uk0mzpcor0i12ol0rrpxdydzggt4b2fvr8yealc-f5lxx1zz5pnorynqglhzmsp33',
  );
});

test('golden: zero digest and zero secret are fully zero-padded', () => {
  assert.equal(generateJoinToken(new Uint8Array(32), new Uint8Array(16)), `SWMTKN-1-${'0'.repeat(50)}-${'0'.repeat(25)}`);
});

test('golden: FIPS tokens use the v2 form', () => {
  const t = generateJoinToken(new Uint8Array(32), new Uint8Array(16), { fips: true });
  assert.equal(t, `SWMTKN-2-1-${'0'.repeat(50)}-${'0'.repeat(25)}`);
  const p = parseJoinToken(t);
  assert.equal(p.version, 2);
  assert.equal(p.fips, true);
});

test('parses the token printed in the Docker documentation', () => {
  const p = parseJoinToken('SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx');
  assert.deepEqual(p, {
    version: 1,
    caDigest: '9529c6f3c5558ac3ec02b338a52d3c5434e0835a8af6f1e124649e87afaa2fb5',
    secret: '1awxwuwd3z9j1z3puu7rcgdbx',
    fips: false,
  });
});

test('token round-trips and pins the CA digest', () => {
  const rng = new SeededRng(7);
  for (let i = 0; i < 50; i++) {
    const der = rng.bytes(300);
    const sha = new Uint8Array(createHash('sha256').update(der).digest());
    const secret = rng.bytes(16);
    const tok = generateJoinToken(sha, secret);
    assert.match(tok, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    const p = parseJoinToken(tok);
    assert.equal(p.caDigest, Buffer.from(sha).toString('hex'));
    assert.ok(caDigestMatches(p, sha));
    verifyCADigest(p, sha);
    const other = new Uint8Array(sha);
    other[0] ^= 1;
    assert.ok(!caDigestMatches(p, other));
    assert.throws(() => verifyCADigest(p, other), (e) => isKind(e, 'FailedPrecondition') && /remote CA does not match fingerprint/.test(e.message));
  }
});

test('malformed tokens are InvalidArgument "invalid join token"', () => {
  const good = generateJoinToken(new Uint8Array(32).fill(3), new Uint8Array(16).fill(9));
  const [, , d, s] = good.split('-');
  const bad = [
    '',
    'garbage',
    `SWMTKN-1-${d}`,
    `SWMTKN-1-${d}-${s}-extra`,
    `XWMTKN-1-${d}-${s}`,
    `SWMTKN-3-${d}-${s}`,
    `SWMTKN-1-${d!.slice(1)}-${s}`,
    `SWMTKN-1-${d}-${s!.slice(1)}`,
    `SWMTKN-1-${d!.toUpperCase()}-${s}`,
    `SWMTKN-1-${'z'.repeat(50)}-${s}`, // larger than 2^256
    `SWMTKN-2-x-${d}-${s}`,
  ];
  for (const t of bad) {
    assert.throws(
      () => parseJoinToken(t),
      (e) => isKind(e, 'InvalidArgument') && e.message.startsWith(INVALID_JOIN_TOKEN_MESSAGE),
      `should reject ${JSON.stringify(t)}`,
    );
  }
});

test('digest and secret sizes are checked', () => {
  assert.throws(() => digestToBase36(new Uint8Array(31)), (e) => isKind(e, 'InvalidArgument'));
  assert.throws(() => generateJoinToken(new Uint8Array(32), new Uint8Array(15)), (e) => isKind(e, 'InvalidArgument'));
});

test('rotation keeps the CA pin and changes the secret', () => {
  const sha = seq(32, (i) => i * 7);
  const t1 = generateJoinToken(sha, seq(16, (i) => i));
  const t2 = rotateJoinToken(t1, seq(16, (i) => 255 - i));
  assert.notEqual(t1, t2);
  assert.equal(parseJoinToken(t1).caDigest, parseJoinToken(t2).caDigest);
  assert.notEqual(parseJoinToken(t1).secret, parseJoinToken(t2).secret);
  assert.ok(tokensEqual(t1, t1));
  assert.ok(!tokensEqual(t1, t2));
  assert.ok(!tokensEqual(t1, t1 + 'x'));
});

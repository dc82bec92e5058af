import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../../lib/ports';
import { isKind } from '../../../lib/errors';
import {
  roleToOU,
  ouToRole,
  nodeCertExpiry,
  nodeCertValidity,
  rootCAValidity,
  renewalTime,
  renewalDelay,
  nodeCertDNSNames,
  nodeSubject,
  goDuration,
  DEFAULT_NODE_CERT_EXPIRY_MS,
  MIN_NODE_CERT_EXPIRY_MS,
  ROOT_CA_EXPIRY_MS,
  CERT_BACKDATE_MS,
} from './policy';

const H = 3_600_000;
const D = 24 * H;

test('role <-> OU', () => {
  assert.equal(roleToOU('manager'), 'swarm-manager');
  assert.equal(roleToOU('worker'), 'swarm-worker');
  assert.equal(ouToRole('swarm-manager'), 'manager');
  assert.equal(ouToRole('swarm-worker'), 'worker');
  assert.equal(ouToRole('swarm-ca'), null);
  assert.equal(ouToRole(''), null);
});

test('expiry defaults and minimum', () => {
  assert.equal(DEFAULT_NODE_CERT_EXPIRY_MS, 90 * D);
  assert.equal(MIN_NODE_CERT_EXPIRY_MS, H);
  assert.equal(ROOT_CA_EXPIRY_MS, 20 * 365 * D);
  assert.equal(nodeCertExpiry(), 90 * D);
  assert.equal(nodeCertExpiry(0), 90 * D);
  assert.equal(nodeCertExpiry(H), H);
  assert.equal(nodeCertExpiry(30 * D), 30 * D);
  assert.throws(() => nodeCertExpiry(H - 1), (e) => isKind(e, 'InvalidArgument') && e.message === 'minimum certificate expiry time is: 1h0m0s');
  assert.throws(() => nodeCertExpiry(-5), (e) => isKind(e, 'InvalidArgument'));
  assert.throws(() => nodeCertExpiry(NaN), (e) => isKind(e, 'InvalidArgument'));
});

test('go duration text', () => {
  assert.equal(goDuration(H), '1h0m0s');
  assert.equal(goDuration(90 * D), '2160h0m0s');
  assert.equal(goDuration(90_000), '1m30s');
  assert.equal(goDuration(5000), '5s');
});

test('validity windows are backdated', () => {
  const now = 1_700_000_000_000;
  assert.deepEqual(nodeCertValidity(now, 90 * D), { notBefore: now - CERT_BACKDATE_MS, notAfter: now + 90 * D });
  assert.deepEqual(rootCAValidity(now), { notBefore: now - H, notAfter: now + ROOT_CA_EXPIRY_MS });
});

test('renewal time lies between 50% and 80% of validity and is spread', () => {
  const rng = new SeededRng(42);
  const nb = 1_000_000;
  const na = nb + 90 * D;
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const t = renewalTime(rng, nb, na);
    assert.ok(t >= nb + 0.5 * 90 * D, `too early: ${t}`);
    assert.ok(t <= nb + 0.8 * 90 * D, `too late: ${t}`);
    seen.add(Math.floor((t - nb) / D));
  }
  assert.ok(seen.size > 20, 'renewals should spread over many days');
  const lowRng = { next: () => 0, bytes: (n: number) => new Uint8Array(n) };
  const highRng = { next: () => 0.999999999, bytes: (n: number) => new Uint8Array(n) };
  assert.equal(renewalTime(lowRng, 0, 100 * H), 50 * H);
  assert.ok(renewalTime(highRng, 0, 100 * H) <= 80 * H);
  assert.equal(renewalTime(lowRng, 5, 5), 5);
  assert.equal(renewalDelay(lowRng, 60 * H, 0, 100 * H), 0);
  assert.equal(renewalDelay(lowRng, 10 * H, 0, 100 * H), 40 * H);
});

test('SANs and subject', () => {
  assert.deepEqual(nodeCertDNSNames('abc', 'manager'), ['swarm-manager', 'abc', 'swarm-ca']);
  assert.deepEqual(nodeCertDNSNames('abc', 'worker'), ['swarm-worker', 'abc']);
  assert.deepEqual(nodeSubject('n1', 'worker', 'c1'), { CN: 'n1', OU: 'swarm-worker', O: 'c1' });
  assert.throws(() => nodeSubject('', 'worker', 'c1'), (e) => isKind(e, 'InvalidArgument'));
  assert.throws(() => nodeSubject('n', 'worker', ''), (e) => isKind(e, 'InvalidArgument'));
});

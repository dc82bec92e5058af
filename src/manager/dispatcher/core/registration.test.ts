import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeFixture } from '../../../testing/fixtures';
import { registeredNode, sameData } from './registration';

const desc = { Hostname: 'h', Platform: { OS: 'linux' }, Resources: {}, Engine: { EngineVersion: '1' } };

test('registeredNode: an unknown node is created as an active worker', () => {
  const n = registeredNode(undefined, { nodeId: 'n1', description: desc, addr: '10.0.0.1' }, 'T')!;
  assert.deepEqual(n.Spec, { Role: 'worker', Availability: 'active' });
  assert.deepEqual(n.Status, { State: 'ready', Addr: '10.0.0.1' });
  assert.equal(n.CreatedAt, 'T');
});

test('registeredNode: the same facts write nothing; a new status, address or description does', () => {
  const tls = { TrustRoot: 'r', CertIssuerSubject: 's', CertIssuerPublicKey: 'k' };
  const base = nodeFixture({ ID: 'n1', Description: { ...desc, TLSInfo: tls }, Status: { State: 'ready', Addr: '10.0.0.1' } });
  // Key order differs and TLSInfo is left out by the agent (kept from the certificate): unchanged.
  assert.equal(registeredNode(base, { nodeId: 'n1', description: { Engine: { EngineVersion: '1' }, Resources: {}, Platform: { OS: 'linux' }, Hostname: 'h' }, addr: '10.0.0.1' }, 'T'), undefined);
  const down = { ...base, Status: { State: 'down' as const, Addr: '10.0.0.1', Message: 'heartbeat failure' } };
  assert.deepEqual(registeredNode(down, { nodeId: 'n1', description: desc, addr: '10.0.0.1' }, 'T')?.Status, { State: 'ready', Addr: '10.0.0.1' });
  assert.equal(registeredNode(base, { nodeId: 'n1', description: desc, addr: '10.0.0.2' }, 'T')?.Status.Addr, '10.0.0.2');
  const moved = registeredNode(base, { nodeId: 'n1', description: { ...desc, Hostname: 'h2' }, addr: '10.0.0.1' }, 'T')!;
  assert.equal(moved.Description.Hostname, 'h2');
  assert.deepEqual(moved.Description.TLSInfo, tls);
  assert.equal(moved.UpdatedAt, 'T');
});

test('sameData ignores key order and undefined-valued keys, not values', () => {
  assert.ok(sameData({ a: 1, b: { c: 2, d: undefined } }, { b: { c: 2 }, a: 1 }));
  assert.ok(!sameData({ a: [1, 2] }, { a: [2, 1] }));
  assert.ok(!sameData({ a: 1 }, { a: '1' }));
});

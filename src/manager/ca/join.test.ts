import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { isKind } from '../../lib/errors';
import { createRpcServer, createRpcClient, defineService, unary, MANAGERS, RpcError, type RpcServer } from '../../rpc';
import { createRootCA, issueNodeKeyAndCertificate, caDigest, certInfo, verifyCertChain, createKeyAndCSR } from './pki';
import { generateJoinToken, rotateJoinToken } from './core/token';
import type { NodeRole } from './core/policy';
import { NodeCAService, nodeCAHandlers } from './service';
import { joinCluster, fetchPinnedRootCA, renewCertificate } from './join';

const CLUSTER = 'clusteridclusterid0000001';
const Ping = defineService('shoal.Ping', { Ping: unary<Record<string, never>, { from: string }>(MANAGERS) });

let ca: { certPem: string; keyPem: string };
let server: RpcServer;
let addr: string;
const tokens = { worker: '', manager: '' };
const nodes = new Map<string, { role: NodeRole; hostname?: string }>();
const removed = new Set<string>();
let counter = 0;

before(async () => {
  ca = await createRootCA();
  const mgr = await issueNodeKeyAndCertificate(ca, 'manager-1', 'manager', CLUSTER);
  nodes.set('manager-1', { role: 'manager' });
  tokens.worker = generateJoinToken(caDigest(ca.certPem), randomBytes(16));
  tokens.manager = generateJoinToken(caDigest(ca.certPem), randomBytes(16));
  server = createRpcServer({ ...mgr, caPem: ca.certPem, address: '127.0.0.1:0', clientAuth: 'optional', clusterId: CLUSTER, isNodeAllowed: (id) => !removed.has(id) });
  server.addService(
    NodeCAService,
    nodeCAHandlers({
      clusterId: () => CLUSTER,
      rootCA: () => ca,
      joinTokens: () => tokens,
      certExpiryMs: () => 0,
      registerNode: async ({ role, hostname }) => {
        const id = `node-${++counter}`;
        nodes.set(id, { role, hostname });
        return id;
      },
      nodeRole: (id) => (removed.has(id) ? null : (nodes.get(id)?.role ?? null)),
    }),
  );
  server.addService(Ping, { Ping: (_r, ctx) => ({ from: ctx.peer!.nodeId }) });
  const port = await server.start();
  addr = `127.0.0.1:${port}`;
});

after(async () => {
  await server.stop(100);
});

test('a worker joins: pins the CA, gets a worker certificate, and still cannot call manager methods', async () => {
  const r = await joinCluster({ address: addr, token: tokens.worker, hostname: 'w1' });
  assert.equal(r.role, 'worker');
  assert.equal(r.clusterId, CLUSTER);
  assert.equal(r.caPem, ca.certPem);
  assert.equal(nodes.get(r.nodeId)?.hostname, 'w1');
  await verifyCertChain(r.certPem, ca.certPem);
  const info = certInfo(r.certPem);
  assert.equal(info.ou, 'swarm-worker');
  assert.equal(info.nodeId, r.nodeId);
  const c = createRpcClient(addr, { certPem: r.certPem, keyPem: r.keyPem, caPem: r.caPem });
  try {
    await assert.rejects(c.unary(Ping, 'Ping', {}), (e: RpcError) => e.code === grpc.status.PERMISSION_DENIED);
  } finally {
    c.close();
  }
});

test('a manager joins with the manager token and can call manager methods', async () => {
  const r = await joinCluster({ address: addr, token: tokens.manager });
  assert.equal(r.role, 'manager');
  assert.deepEqual(certInfo(r.certPem).dnsNames, ['swarm-manager', r.nodeId, 'swarm-ca']);
  const c = createRpcClient(addr, { certPem: r.certPem, keyPem: r.keyPem, caPem: r.caPem });
  try {
    assert.deepEqual(await c.unary(Ping, 'Ping', {}), { from: r.nodeId });
  } finally {
    c.close();
  }
});

test('bootstrap with a wrong CA digest is refused before anything is sent', async () => {
  const other = await createRootCA();
  const before = nodes.size;
  const bad = generateJoinToken(caDigest(other.certPem), randomBytes(16));
  await assert.rejects(joinCluster({ address: addr, token: bad }), (e) => isKind(e, 'FailedPrecondition') && /remote CA does not match fingerprint/.test(e.message));
  await assert.rejects(fetchPinnedRootCA(addr, bad), (e) => isKind(e, 'FailedPrecondition'));
  assert.equal(nodes.size, before);
  assert.equal(await fetchPinnedRootCA(addr, tokens.worker), ca.certPem);
});

test('a rotated-out secret is refused with swarmkit\'s message', async () => {
  const old = tokens.worker;
  tokens.worker = rotateJoinToken(old, randomBytes(16));
  try {
    const before = nodes.size;
    const e = (await joinCluster({ address: addr, token: old }).catch((x: unknown) => x)) as RpcError;
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(e.rpcText, 'rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster');
    assert.equal(nodes.size, before);
    assert.equal((await joinCluster({ address: addr, token: tokens.worker })).role, 'worker');
  } finally {
    void 0;
  }
});

test('a malformed token fails locally as InvalidArgument', async () => {
  await assert.rejects(joinCluster({ address: addr, token: 'SWMTKN-1-nope' }), (e) => isKind(e, 'InvalidArgument') && /^invalid join token/.test(e.message));
});

test('an anonymous caller without a token gets no certificate', async () => {
  const c = createRpcClient(addr, { caPem: ca.certPem });
  try {
    const { csrPem } = await createKeyAndCSR();
    await assert.rejects(c.unary(NodeCAService, 'IssueNodeCertificate', { csr: csrPem }), (e: RpcError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(c.unary(NodeCAService, 'IssueNodeCertificate', { csr: '' , token: tokens.worker}), (e: RpcError) => e.code === grpc.status.INVALID_ARGUMENT);
  } finally {
    c.close();
  }
});

test('renewal keeps the node ID, follows role changes, and is refused once removed', async () => {
  const r = await joinCluster({ address: addr, token: tokens.worker });
  const same = await renewCertificate(addr, r);
  assert.equal(certInfo(same.certPem).nodeId, r.nodeId);
  assert.equal(same.role, 'worker');
  nodes.get(r.nodeId)!.role = 'manager'; // promoted
  const promoted = await renewCertificate(addr, same);
  assert.equal(promoted.role, 'manager');
  assert.equal(certInfo(promoted.certPem).ou, 'swarm-manager');
  removed.add(r.nodeId);
  await assert.rejects(renewCertificate(addr, promoted), (e: RpcError) => e.code === grpc.status.PERMISSION_DENIED);
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRootCA, issueNodeKeyAndCertificate } from '../ca/pki';
import { createRpcClient, createRpcServer, type RpcClient, type RpcServer } from '../../rpc';
import { hasReason, isKind, unavailable } from '../../lib/errors';
import type { Node } from '../../types';
import { ControlService, controlHandlers, forwardCall, forwardedLogs, forwardRegisterNode, type ControlCaller, type ControlLogLine, type ControlLogsRequest } from './service';

const CLUSTER = 'cluster0000000000000000001';
let server: RpcServer;
let client: RpcClient;
let worker: RpcClient;
/** What the leader's logs backend saw, per call. */
const seen: { req: ControlLogsRequest; signal: AbortSignal }[] = [];
/** The operations the leader's backend ran, with who forwarded them. */
const ran: { op: string; args: unknown[]; caller: ControlCaller }[] = [];
const registered: { node: Node; caller: ControlCaller }[] = [];

before(async () => {
  const ca = await createRootCA();
  const leader = await issueNodeKeyAndCertificate(ca, 'leader', 'manager', CLUSTER);
  const follower = await issueNodeKeyAndCertificate(ca, 'follower', 'manager', CLUSTER);
  const w = await issueNodeKeyAndCertificate(ca, 'worker', 'worker', CLUSTER);
  server = createRpcServer({ ...leader, caPem: ca.certPem, address: '127.0.0.1:0', clusterId: CLUSTER });
  server.addService(
    ControlService,
    controlHandlers({
      exec: async (op, args, caller) => {
        ran.push({ op, args, caller });
        return null as never;
      },
      registerNode: async (node, caller) => {
        registered.push({ node, caller });
      },
      appliedIndex: () => 42,
      logs: (req, signal) => {
        seen.push({ req, signal });
        if (req.taskId === 'refused') throw unavailable('control: this manager is not the leader');
        return (async function* (): AsyncGenerator<ControlLogLine> {
          yield { stream: 'stdout', time: 1000, data: Buffer.from('one\n') };
          yield { stream: 'stderr', time: 2000, data: Buffer.from('two\n') };
          // A follow subscription: open until the follower cancels.
          while (req.options.follow && !signal.aborted) await new Promise((r) => setTimeout(r, 5));
        })();
      },
    }),
  );
  const port = await server.start();
  client = createRpcClient(`127.0.0.1:${port}`, { ...follower, caPem: ca.certPem });
  worker = createRpcClient(`127.0.0.1:${port}`, { ...w, caPem: ca.certPem });
});

after(async () => {
  client.close();
  worker.close();
  await server.stop(100);
});

const req = (over: Partial<ControlLogsRequest> = {}): ControlLogsRequest => ({ nodeId: 'n1', taskId: 't1', options: { follow: false, tail: 'all', timestamps: false }, ...over });

test('Call answers the result and the leader\'s applied index (the follower waits to apply it)', async () => {
  const res = await client.unary(ControlService, 'Call', { method: 'listNodes', args: [{}] });
  assert.deepEqual(res, { result: null, index: 42 });
});

test('Logs streams the leader\'s lines back as Buffers, with their stream and time; the options arrive intact', async () => {
  const got = [];
  for await (const l of forwardedLogs(client, req({ options: { follow: false, tail: 5, timestamps: true, since: 12.5 } }), new AbortController().signal)) got.push(l);
  assert.deepEqual(
    got.map((l) => [l.stream, l.time, Buffer.isBuffer(l.data), l.data.toString()]),
    [
      ['stdout', 1000, true, 'one\n'],
      ['stderr', 2000, true, 'two\n'],
    ],
  );
  assert.deepEqual(seen.at(-1)!.req, { nodeId: 'n1', taskId: 't1', options: { follow: false, tail: 5, timestamps: true, since: 12.5 } });
});

test('a follow stream stays open; aborting the follower\'s signal cancels the leader\'s side', async () => {
  const ac = new AbortController();
  const got: string[] = [];
  for await (const l of forwardedLogs(client, req({ options: { follow: true, tail: 'all', timestamps: false } }), ac.signal)) {
    got.push(l.data.toString());
    if (got.length === 2) ac.abort();
  }
  assert.deepEqual(got, ['one\n', 'two\n']);
  const leaderSide = seen.at(-1)!.signal;
  for (let i = 0; i < 100 && !leaderSide.aborted; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(leaderSide.aborted, 'the leader saw the cancellation');
});

test('a consumer that stops early cancels the call too', async () => {
  for await (const _l of forwardedLogs(client, req({ options: { follow: true, tail: 'all', timestamps: false } }), new AbortController().signal)) break;
  const leaderSide = seen.at(-1)!.signal;
  for (let i = 0; i < 100 && !leaderSide.aborted; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(leaderSide.aborted);
});

test('errors come back with their kind: a refusal, a malformed request, a worker certificate', async () => {
  const drain = async (c: RpcClient, r: ControlLogsRequest) => {
    for await (const _l of forwardedLogs(c, r, new AbortController().signal));
  };
  await assert.rejects(drain(client, req({ taskId: 'refused' })), (e) => isKind(e, 'Unavailable') && /not the leader/.test(e.message));
  await assert.rejects(drain(client, { nodeId: 'n1' } as ControlLogsRequest), (e) => isKind(e, 'InvalidArgument'));
  await assert.rejects(drain(worker, req()), (e) => isKind(e, 'PermissionDenied'));
});

test('an operation of the contract reaches the leader with its arguments and the forwarding manager\'s identity from its certificate', async () => {
  const res = await forwardCall(client, 'getService', ['web', true], 5000);
  assert.deepEqual(res, { result: undefined, index: 42 });
  assert.deepEqual(ran.at(-1), { op: 'getService', args: ['web', true], caller: { nodeId: 'follower', role: 'swarm-manager' } });
});

test('a forwarded call outside the contract is refused before the leader runs anything', async () => {
  const before = ran.length;
  for (const method of ['createNode', 'updateCluster', 'liveTasksOnNode', 'constructor', '__proto__', 'hasOwnProperty']) {
    await assert.rejects(
      client.unary(ControlService, 'Call', { method, args: [] }),
      (e) => isKind(e, 'PermissionDenied') && hasReason(e, 'not-forwardable') && e.message === `control: "${method}" is not an operation of the control API; only the Engine API's operations are forwarded to the leader`,
      method,
    );
  }
  assert.equal(ran.length, before, 'no operation ran');
  // A worker's certificate cannot forward at all, not even an operation of the contract.
  await assert.rejects(worker.unary(ControlService, 'Call', { method: 'listNodes', args: [{}] }), (e) => isKind(e, 'PermissionDenied'));
  assert.equal(ran.length, before);
});

test('a joining node is registered through RegisterNode, with the forwarding manager named; a malformed node is refused', async () => {
  const node = { ID: 'n9', Spec: { Role: 'worker', Availability: 'active', Labels: {} } } as unknown as Node;
  assert.deepEqual(await forwardRegisterNode(client, node, 5000), { index: 42 });
  assert.deepEqual(registered.at(-1), { node, caller: { nodeId: 'follower', role: 'swarm-manager' } });
  await assert.rejects(forwardRegisterNode(client, { ID: 'n10', Spec: { Role: 'admin' } } as unknown as Node, 5000), (e) => isKind(e, 'InvalidArgument'));
  await assert.rejects(forwardRegisterNode(worker, node, 5000), (e) => isKind(e, 'PermissionDenied'));
  assert.equal(registered.length, 1);
});

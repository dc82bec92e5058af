// The command layer against a fake Engine API on a unix socket: requests sent, texts printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { run } from './main';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cli-test-'));
const sock = path.join(dir, 'api.sock');
const seen: Seen[] = [];
const NODE = 'nodeaaaaaaaaaaaaaaaaaaaaa';
const SVC = 'svcaaaaaaaaaaaaaaaaaaaaaa';
const TASK = 'taskaaaaaaaaaaaaaaaaaaaaa';

const frame = (stream: number, text: string) => {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

const service = {
  ID: SVC,
  Version: { Index: 7 },
  // A 1 ms monitor period keeps the progress wait of `service create` short.
  Spec: { Name: 'demo', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } }, UpdateConfig: { Monitor: 1e6 } },
  Endpoint: { Spec: {} },
};

function handler(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const url = req.url ?? '';
  seen.push({ method: req.method ?? '', url, body: body ? JSON.parse(body) : undefined });
  const json = (code: number, v: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  const p = url.replace(/^\/v1\.47/, '').split('?')[0]!;
  if (p === '/info') return json(200, { Swarm: { NodeID: NODE, NodeAddr: '127.0.0.1', LocalNodeState: 'active', ControlAvailable: true } });
  if (p === '/swarm/init') return json(200, NODE);
  if (p === '/swarm') return json(200, { ID: 'c', Version: { Index: 3 }, Spec: {}, JoinTokens: { Worker: 'SWMTKN-1-w', Manager: 'SWMTKN-1-m' } });
  if (p === `/nodes/${NODE}` || p === '/nodes/self')
    return json(200, { ID: NODE, Version: { Index: 1 }, Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'demo-node' }, Status: { State: 'ready', Addr: '127.0.0.1' }, ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' } });
  if (p === '/nodes')
    return json(200, [{ ID: NODE, Spec: { Role: 'manager', Availability: 'active' }, Description: { Hostname: 'demo-node', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'ready' }, ManagerStatus: { Leader: true, Reachability: 'reachable' } }]);
  if (p === '/services') return json(200, [service]);
  if (p === '/services/create') return json(201, { ID: SVC });
  if (p === '/services/demo' || p === `/services/${SVC}`) return json(200, service);
  if (p === '/services/nope') return json(404, { message: 'service nope not found' });
  if (p === `/services/${SVC}/update`) return json(200, { Warnings: null });
  if (p === '/tasks/' + TASK) return json(200, { ID: TASK, Slot: 1, ServiceID: SVC, NodeID: NODE, Spec: {} });
  if (p === '/tasks') return json(200, [{ ID: TASK, Slot: 1, ServiceID: SVC, NodeID: NODE, Spec: {}, DesiredState: 'running', Status: { State: 'running', Timestamp: new Date().toISOString() } }]);
  if (p === `/services/${SVC}/logs`) {
    res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    const d = `com.docker.swarm.node.id=${NODE},com.docker.swarm.service.id=${SVC},com.docker.swarm.task.id=${TASK}`;
    res.write(frame(1, `${d} hello from demo\n`));
    res.end(frame(2, `${d} to stderr\n`));
    return;
  }
  json(404, { message: `page not found: ${p}` });
}

let server: http.Server;
before(async () => {
  server = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => handler(req, res, b));
  });
  await new Promise<void>((r) => server.listen(sock, r));
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function shoal(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(['-H', `unix://${sock}`, ...argv], { out: { write: (s) => void (out += s) }, err: { write: (s) => void (err += s) }, env: {} });
  return { code, out, err };
}

test('swarm init prints the join instructions', async () => {
  const r = await shoal('swarm', 'init', '--advertise-addr', '127.0.0.1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Swarm initialized: current node \(nodeaaaaaaaaaaaaaaaaaaaaa\) is now a manager\.\n\n/);
  assert.match(r.out, /\n {4}shoal swarm join --token SWMTKN-1-w 127\.0\.0\.1:2377\n/);
  const init = seen.find((s) => s.url === '/v1.47/swarm/init');
  assert.deepEqual(init?.body, { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1', DataPathAddr: '', ForceNewCluster: false, Spec: {} });
});

test('join-token -q prints the token only', async () => {
  assert.deepEqual(await shoal('swarm', 'join-token', '-q', 'manager'), { code: 0, out: 'SWMTKN-1-m\n', err: '' });
});

test('service create sends the words after IMAGE as Args, flags included', async () => {
  const r = await shoal('service', 'create', '--name', 'demo', '--replicas', '3', '-d', 'busybox', 'sh', '-c', 'echo $HOSTNAME');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${SVC}\n`);
  const c = seen.find((s) => s.url === '/v1.47/services/create')?.body as { Name: string; Mode: unknown; TaskTemplate: { ContainerSpec: unknown } };
  assert.equal(c.Name, 'demo');
  assert.deepEqual(c.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(c.TaskTemplate.ContainerSpec, { Image: 'busybox', Args: ['sh', '-c', 'echo $HOSTNAME'] });
});

test('service create without -d waits and prints the convergence as docker does without a terminal', async () => {
  const r = await shoal('service', 'create', '--name', 'demo', 'busybox');
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    `${SVC}\noverall progress: 0 out of 1 tasks\n1/1:  \noverall progress: 1 out of 1 tasks\nverify: Waiting 1 seconds to verify that tasks are stable...\nverify: Service ${SVC} converged\n`,
  );
});

test('service scale and update post the new spec with the version', async () => {
  seen.length = 0;
  const r = await shoal('service', 'scale', '-d', 'demo=4');
  assert.equal(r.out, 'demo scaled to 4\n');
  const u = seen.find((s) => s.url.startsWith(`/v1.47/services/${SVC}/update`));
  assert.match(u!.url, /version=7/);
  assert.deepEqual((u!.body as { Mode: unknown }).Mode, { Replicated: { Replicas: 4 } });
  seen.length = 0;
  const r2 = await shoal('service', 'update', '-d', '--image', 'busybox:2', '--env-add', 'X=1', 'demo');
  assert.equal(r2.out, 'demo\n');
  const u2 = seen.find((s) => s.url.startsWith(`/v1.47/services/${SVC}/update`));
  assert.deepEqual((u2!.body as { TaskTemplate: { ContainerSpec: unknown } }).TaskTemplate.ContainerSpec, { Image: 'busybox:2', Env: ['X=1'] });
  seen.length = 0;
  await shoal('service', 'rollback', '-d', 'demo');
  assert.match(seen.find((s) => s.url.includes('/update'))!.url, /rollback=previous/);
});

test('daemon errors print like docker and exit 1', async () => {
  assert.deepEqual(await shoal('service', 'inspect', 'nope'), { code: 1, out: '[]\n', err: 'Error: no such service: nope\n' });
  assert.deepEqual(await shoal('service', 'scale', 'nope=2'), { code: 1, out: '', err: 'nope: Error response from daemon: service nope not found\n' });
});

test('an unreachable daemon is reported', async () => {
  let err = '';
  const code = await run(['-H', `unix://${dir}/missing.sock`, 'service', 'ls'], { out: { write: () => {} }, err: { write: (s) => void (err += s) }, env: {} });
  assert.equal(code, 1);
  assert.match(err, /^Cannot connect to the Shoal daemon at unix:\/\/.*missing\.sock\. Is the shoal daemon running\?\n$/);
});

test('node ls and service ls render tables', async () => {
  const n = await shoal('node', 'ls');
  assert.equal(n.out.split('\n')[1], `${NODE} *   demo-node   Ready     Active         Leader           0.1.0`);
  const s = await shoal('service', 'ls');
  assert.equal(s.out.split('\n')[1], 'svcaaaaaaaaa   demo      replicated   1/1        busybox   ');
});

test('service logs demultiplexes and prefixes lines', async () => {
  const r = await shoal('service', 'logs', 'demo');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'demo.1.taskaaaaaaaa@demo-node    | hello from demo\n');
  assert.equal(r.err, 'demo.1.taskaaaaaaaa@demo-node    | to stderr\n');
});

test('usage errors exit non-zero', async () => {
  const r = await shoal('service', 'scale', 'demo');
  assert.equal(r.code, 1);
  assert.match(r.err, /invalid scale specifier 'demo'/);
});

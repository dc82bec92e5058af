import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { conflict, NOT_A_MANAGER_MESSAGE, notFound, unavailable } from '../lib/errors';
import type { Cluster, Node, NodeSpec, Service, ServiceSpec, SwarmSpec, Task } from '../types';
import { defaultSwarmSpec } from '../types';
import type {
  ClusterBackend,
  DaemonFacts,
  EngineEvent,
  Filters,
  InitRequest,
  JoinRequest,
  LogRequest,
  ServiceLogLine,
  ServiceStatusCounts,
  SwarmInfo,
  SwarmUpdateFlags,
} from './backend';
import { deframe } from './convert';
import { createApiServer, type ApiServer } from './server';

// ---------------------------------------------------------------------------------------------
// FakeBackend: records every call, answers from plain fields the tests set.

type Call = { method: string; args: unknown[] };
const TS = '2024-01-01T00:00:00.000000000Z';

class FakeBackend implements ClusterBackend {
  calls: Call[] = [];
  manager = true;
  nodes: Node[] = [];
  services: Service[] = [];
  tasks: Task[] = [];
  logLines: ServiceLogLine[] = [];
  /** When set, logs keep the stream open after the lines (follow). */
  holdLogs = false;
  eventsToSend: EngineEvent[] = [];
  failNext?: Error;

  private rec(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
  }
  last(method: string): unknown[] | undefined {
    return [...this.calls].reverse().find((c) => c.method === method)?.args;
  }
  private needManager(): void {
    if (!this.manager) throw unavailable(NOT_A_MANAGER_MESSAGE);
  }

  cluster(): Cluster {
    return {
      ID: 'cluster1',
      Version: { Index: 10 },
      CreatedAt: TS,
      UpdatedAt: TS,
      Spec: defaultSwarmSpec(),
      JoinTokens: { Worker: 'SWMTKN-1-w', Manager: 'SWMTKN-1-m' },
      TLSInfo: { TrustRoot: 'ROOT', CertIssuerSubject: Buffer.from('subject').toString('base64'), CertIssuerPublicKey: Buffer.from('pk').toString('base64') },
      RootRotationInProgress: false,
      DefaultAddrPool: ['10.0.0.0/8'],
      SubnetSize: 24,
      DataPathPort: 4789,
      internal: { rootCAKey: 'SECRET-KEY', rootCACert: 'CERT' },
    };
  }

  async swarmInfo(): Promise<SwarmInfo> {
    if (!this.manager) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const c = this.cluster();
    return {
      NodeID: 'node1',
      NodeAddr: '127.0.0.1',
      LocalNodeState: 'active',
      ControlAvailable: true,
      Error: '',
      RemoteManagers: [{ NodeID: 'node1', Addr: '127.0.0.1:2377' }],
      Nodes: 1,
      Managers: 1,
      Cluster: c as unknown as SwarmInfo['Cluster'], // includes internal + JoinTokens on purpose: the API must strip them
    };
  }
  async init(req: InitRequest): Promise<string> {
    this.rec('init', req);
    return 'newnode123';
  }
  async join(req: JoinRequest): Promise<void> {
    this.rec('join', req);
  }
  async leave(force: boolean): Promise<void> {
    this.rec('leave', force);
  }
  async inspectSwarm(): Promise<Cluster> {
    this.rec('inspectSwarm');
    this.needManager();
    return this.cluster();
  }
  async updateSwarm(version: number, spec: SwarmSpec, flags: SwarmUpdateFlags): Promise<void> {
    this.rec('updateSwarm', version, spec, flags);
  }
  async unlockKey(): Promise<string> {
    this.rec('unlockKey');
    return 'SWMKEY-1-abc';
  }
  async listNodes(filters: Filters): Promise<Node[]> {
    this.rec('listNodes', filters);
    this.needManager();
    return this.nodes;
  }
  async getNode(ref: string): Promise<Node> {
    this.rec('getNode', ref);
    this.needManager();
    const n = this.nodes.find((x) => x.ID === ref || x.Description.Hostname === ref);
    if (!n) throw notFound(`node ${ref} not found`);
    return n;
  }
  async updateNode(ref: string, version: number, spec: NodeSpec): Promise<void> {
    this.rec('updateNode', ref, version, spec);
  }
  async removeNode(ref: string, force: boolean): Promise<void> {
    this.rec('removeNode', ref, force);
  }
  async listServices(filters: Filters, withStatus: boolean): Promise<(Service & { ServiceStatus?: ServiceStatusCounts })[]> {
    this.rec('listServices', filters, withStatus);
    this.needManager();
    return this.services.map((s) => (withStatus ? { ...s, ServiceStatus: { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 } } : s));
  }
  async getService(ref: string, insertDefaults: boolean): Promise<Service> {
    this.rec('getService', ref, insertDefaults);
    const s = this.services.find((x) => x.ID === ref || x.Spec.Name === ref);
    if (!s) throw notFound(`service ${ref} not found`);
    return s;
  }
  async createService(spec: ServiceSpec): Promise<{ ID: string; Warnings?: string[] }> {
    this.rec('createService', spec);
    if (this.services.some((s) => s.Spec.Name === spec.Name)) throw conflict(`rpc error: code = AlreadyExists desc = name conflicts with an existing object`);
    return { ID: 'svc123' };
  }
  async updateService(ref: string, version: number, spec: ServiceSpec, opts: { rollback: boolean }): Promise<{ Warnings?: string[] }> {
    this.rec('updateService', ref, version, spec, opts);
    if (version < 5) throw new Error('rpc error: code = Unknown desc = update out of sequence');
    return { Warnings: ['w1'] };
  }
  async removeService(ref: string): Promise<void> {
    this.rec('removeService', ref);
  }
  async listTasks(filters: Filters): Promise<Task[]> {
    this.rec('listTasks', filters);
    return this.tasks;
  }
  async getTask(id: string): Promise<Task> {
    this.rec('getTask', id);
    const t = this.tasks.find((x) => x.ID === id);
    if (!t) throw notFound(`task ${id} not found`);
    return t;
  }
  serviceLogs(ref: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    this.rec('serviceLogs', ref, req);
    return this.logStream(signal);
  }
  taskLogs(id: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    this.rec('taskLogs', id, req);
    return this.logStream(signal);
  }
  logsAborted = false;
  private async *logStream(signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    for (const l of this.logLines) yield l;
    if (this.holdLogs) {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      this.logsAborted = true;
    }
  }
  async *events(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncIterable<EngineEvent> {
    this.rec('events', opts);
    for (const e of this.eventsToSend) yield e;
    if (opts.until === undefined) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  }
}

function mkNode(id: string, hostname: string): Node {
  return {
    ID: id,
    Version: { Index: 3 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Spec: { Role: 'manager', Availability: 'active' },
    Description: { Hostname: hostname, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 4e9, MemoryBytes: 1 << 30 }, Engine: { EngineVersion: '28.2.2' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' },
    internal: { raftId: 7 },
  };
}

function mkService(id: string, name: string, tty = false): Service {
  return {
    ID: id,
    Version: { Index: 5 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx:alpine', TTY: tty } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: {} },
    internal: { specVersion: 1 },
  };
}

function mkTask(id: string, serviceId: string): Task {
  return {
    ID: id,
    Version: { Index: 6 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Labels: {},
    Spec: { ContainerSpec: { Image: 'nginx:alpine' } },
    ServiceID: serviceId,
    Slot: 1,
    NodeID: 'node1',
    Status: { Timestamp: TS, State: 'running', Message: 'started' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
  };
}

const FACTS: DaemonFacts = {
  version: '28.2.2',
  apiVersion: '1.47',
  minApiVersion: '1.24',
  hostname: 'shoal-test',
  os: 'linux',
  arch: 'x64',
  kernelVersion: os.release(),
  ncpu: 2,
  memTotal: 2 ** 31,
  dataDir: '/tmp/shoal-test',
  runtime: 'process',
};

// ---------------------------------------------------------------------------------------------
// HTTP helpers over unix sockets. Every wait is bounded.

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function call(socketPath: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    const r = http.request(
      { socketPath, method, path: p, timeout: 5000, headers: { ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timeout: ${method} ${p}`)));
    r.on('error', reject);
    r.end(payload);
  });
}

const json = (r: Resp): any => JSON.parse(r.body.toString());

/** Opens a streaming GET, collects bytes until `done(bytes)` is true, then closes the connection. */
function streamUntil(socketPath: string, p: string, done: (b: Buffer) => boolean, timeoutMs = 5000): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      r.destroy();
      reject(new Error(`stream timeout ${p}: got ${JSON.stringify(buf.toString())}`));
    }, timeoutMs);
    const r = http.get({ socketPath, path: p }, (res) => {
      const check = () => {
        if (done(buf)) {
          clearTimeout(timer);
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf });
        }
      };
      res.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        check();
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf });
      });
      check();
    });
    r.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const waitFor = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

// ---------------------------------------------------------------------------------------------
// A tiny fake engine on its own unix socket.

interface FakeEngine {
  socketPath: string;
  paths: string[];
  server: http.Server;
}

function startFakeEngine(dir: string): Promise<FakeEngine> {
  const socketPath = path.join(dir, 'engine.sock');
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    const u = req.url ?? '';
    res.setHeader('Api-Version', '1.45');
    if (u === '/_ping') return res.end('OK');
    if (/\/containers\/json/.test(u)) {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify([{ Id: 'c1', Names: ['/x'] }]));
    }
    if (/\/containers\/create/.test(u)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.statusCode = 201;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ Id: 'created', Echo: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      return;
    }
    if (/\/images\/nginx:alpine\/json/.test(u)) {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify({ Id: 'sha256:' + 'a'.repeat(64), Architecture: 'arm64', Os: 'linux' }));
    }
    if (/\/images\/.*\/json/.test(u)) {
      res.statusCode = 404;
      return res.end(JSON.stringify({ message: 'No such image' }));
    }
    if (/^\/events/.test(u)) {
      res.setHeader('Content-Type', 'application/json');
      res.flushHeaders();
      res.write(JSON.stringify({ Type: 'container', Action: 'start', Actor: { ID: 'c1', Attributes: {} }, scope: 'local', time: 1, timeNano: 1 }) + '\n');
      return; // stays open
    }
    if (/\/containers\/hj\/attach/.test(u)) {
      // Hijacked response without Upgrade: raw bytes until close.
      const s = req.socket;
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nraw-hello');
      setTimeout(() => s.end(), 20);
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ message: `fake engine: no ${u}` }));
  });
  server.on('upgrade', (req, socket: net.Socket, head) => {
    paths.push(`UPGRADE ${req.method} ${req.url}`);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    if (head.length) socket.write(head.toString().toUpperCase());
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    // Half-close: after the client's FIN we can still answer.
    socket.on('end', () => socket.end('bye'));
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve({ socketPath, paths, server })));
}

// ---------------------------------------------------------------------------------------------

let dir: string;
let sock: string;
let backend: FakeBackend;
let server: ApiServer;
let engine: FakeEngine;
let engSock: string; // API server with an engine
let serverWithEngine: ApiServer;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-'));
  sock = path.join(dir, 'api.sock');
  backend = new FakeBackend();
  backend.nodes = [mkNode('node1', 'shoal-test')];
  backend.services = [mkService('svc1', 'web'), mkService('svc2', 'ttysvc', true)];
  backend.tasks = [mkTask('task1', 'svc1')];
  server = createApiServer({ backend, facts: FACTS, hosts: [`unix://${sock}`] });
  await server.listen();
  engine = await startFakeEngine(dir);
  engSock = path.join(dir, 'api-eng.sock');
  serverWithEngine = createApiServer({ backend, facts: { ...FACTS, runtime: 'docker' }, hosts: [`unix://${engSock}`], engineSocket: `unix://${engine.socketPath}` });
  await serverWithEngine.listen();
});

after(async () => {
  await server.close();
  await serverWithEngine.close();
  engine.server.closeAllConnections();
  await new Promise<void>((r) => engine.server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('system', () => {
  test('socket is 0660 and a stale socket file is replaced', async () => {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    const p2 = path.join(dir, 'stale.sock');
    // A process that exits without closing its server leaves the socket file behind.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p2)}, () => process.exit(0))`], { timeout: 10_000 });
    assert.ok(fs.statSync(p2).isSocket());
    const s3 = createApiServer({ backend, facts: FACTS, hosts: [`unix://${p2}`, 'tcp://127.0.0.1:0'] });
    await s3.listen();
    assert.equal((await call(p2, 'GET', '/_ping')).status, 200);
    assert.match(s3.addresses()[1], /^tcp:\/\/127\.0\.0\.1:\d+$/);
    await s3.close();
    assert.equal(fs.existsSync(p2), false);
    // A regular file in the way is not removed.
    const p3 = path.join(dir, 'regular-file');
    fs.writeFileSync(p3, 'keep');
    const s4 = createApiServer({ backend, facts: FACTS, hosts: [`unix://${p3}`] });
    await assert.rejects(s4.listen(), /is not a socket/);
    assert.equal(fs.readFileSync(p3, 'utf8'), 'keep');
    await s4.close();
  });

  test('GET and HEAD /_ping answer OK with Docker headers', async () => {
    const g = await call(sock, 'GET', '/_ping');
    assert.equal(g.status, 200);
    assert.equal(g.body.toString(), 'OK');
    assert.equal(g.headers['api-version'], '1.47');
    assert.equal(g.headers['docker-experimental'], 'false');
    assert.equal(g.headers['ostype'], 'linux');
    assert.equal(g.headers['swarm'], 'active/manager');
    assert.equal(g.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(g.headers['pragma'], 'no-cache');
    assert.equal(g.headers['server'], 'Docker/28.2.2 (linux)');
    const h = await call(sock, 'HEAD', '/v1.47/_ping');
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.equal(h.headers['swarm'], 'active/manager');
    backend.manager = false;
    try {
      assert.equal((await call(sock, 'HEAD', '/_ping')).headers['swarm'], 'inactive');
    } finally {
      backend.manager = true;
    }
  });

  test('version negotiation: too new, too old, in range', async () => {
    const tooNew = await call(sock, 'GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.equal(json(tooNew).message, 'client version 1.99 is too new. Maximum supported API version is 1.47');
    assert.equal(tooNew.headers['content-type'], 'application/json');
    const tooOld = await call(sock, 'GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(json(tooOld).message, /too old\. Minimum supported API version is 1\.24/);
    const ok = await call(sock, 'GET', '/v1.24/version');
    assert.equal(ok.status, 200);
    assert.equal(json(ok).ApiVersion, '1.47');
    assert.equal(json(ok).MinAPIVersion, '1.24');
    assert.equal(json(ok).Components[0].Name, 'Engine');
  });

  test('/info carries the swarm block without secrets', async () => {
    const r = await call(sock, 'GET', '/v1.47/info');
    assert.equal(r.status, 200);
    const i = json(r);
    assert.equal(i.Name, 'shoal-test');
    assert.equal(i.Swarm.LocalNodeState, 'active');
    assert.equal(i.Swarm.Cluster.ID, 'cluster1');
    assert.equal(i.Swarm.Cluster.internal, undefined);
    assert.equal(i.Swarm.Cluster.JoinTokens, undefined);
    assert.doesNotMatch(r.body.toString(), /SECRET-KEY|SWMTKN/);
  });

  test('unknown paths: 404 page not found; garbage never crashes', async () => {
    const r = await call(sock, 'GET', '/nope');
    assert.equal(r.status, 404);
    assert.deepEqual(json(r), { message: 'page not found' });
    assert.equal((await call(sock, 'GET', '/v1.47/%zz')).status, 404);
    assert.equal((await call(sock, 'PUT', '/swarm')).status, 404);
    const raw = await new Promise<string>((resolve) => {
      const c = net.connect(sock, () => c.write('NONSENSE\r\n\r\n'));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('close', () => resolve(out));
      setTimeout(() => c.destroy(), 2000);
    });
    assert.match(raw, /^HTTP\/1.1 400/);
    assert.equal((await call(sock, 'GET', '/_ping')).status, 200);
  });
});

describe('swarm and nodes', () => {
  test('init returns the node ID as a JSON string; body reaches the backend', async () => {
    const r = await call(sock, 'POST', '/v1.47/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' });
    assert.equal(r.status, 200);
    assert.equal(json(r), 'newnode123');
    assert.deepEqual(backend.last('init'), [{ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' }]);
  });

  test('join, leave, update, unlockkey pass their arguments', async () => {
    assert.equal((await call(sock, 'POST', '/swarm/join', { RemoteAddrs: ['1.2.3.4:2377'], JoinToken: 'T' })).status, 200);
    assert.deepEqual(backend.last('join'), [{ RemoteAddrs: ['1.2.3.4:2377'], JoinToken: 'T' }]);
    assert.equal((await call(sock, 'POST', '/swarm/leave?force=1')).status, 200);
    assert.deepEqual(backend.last('leave'), [true]);
    assert.equal((await call(sock, 'POST', '/swarm/leave')).status, 200);
    assert.deepEqual(backend.last('leave'), [false]);
    const spec = defaultSwarmSpec();
    assert.equal((await call(sock, 'POST', '/swarm/update?version=10&rotateWorkerToken=true&rotateManagerToken=false', spec)).status, 200);
    assert.deepEqual(backend.last('updateSwarm'), [10, spec, { rotateWorkerToken: true, rotateManagerToken: false, rotateManagerUnlockKey: false }]);
    const bad = await call(sock, 'POST', '/swarm/update?version=x', spec);
    assert.equal(bad.status, 400);
    assert.match(json(bad).message, /invalid swarm version 'x'/);
    assert.deepEqual(json(await call(sock, 'GET', '/swarm/unlockkey')), { UnlockKey: 'SWMKEY-1-abc' });
  });

  test('GET /swarm strips internal but keeps join tokens', async () => {
    const s = json(await call(sock, 'GET', '/swarm'));
    assert.equal(s.ID, 'cluster1');
    assert.equal(s.internal, undefined);
    assert.equal(s.JoinTokens.Worker, 'SWMTKN-1-w');
  });

  test('nodes: filters parsed (both encodings), internal stripped, args passed', async () => {
    const r = await call(sock, 'GET', '/nodes?filters=' + encodeURIComponent('{"role":{"manager":true}}'));
    assert.equal(r.status, 200);
    assert.deepEqual(backend.last('listNodes'), [{ role: ['manager'] }]);
    assert.equal(json(r)[0].internal, undefined);
    assert.equal(json(r)[0].ID, 'node1');
    await call(sock, 'GET', '/nodes?filters=' + encodeURIComponent('{"name":["a","b"]}'));
    assert.deepEqual(backend.last('listNodes'), [{ name: ['a', 'b'] }]);
    const badF = await call(sock, 'GET', '/nodes?filters=%7Bnope');
    assert.equal(badF.status, 400);
    assert.equal((await call(sock, 'GET', '/nodes/node1')).status, 200);
    const nf = await call(sock, 'GET', '/nodes/zzz');
    assert.equal(nf.status, 404);
    assert.equal(json(nf).message, 'node zzz not found');
    assert.equal((await call(sock, 'POST', '/nodes/node1/update?version=3', { Role: 'worker', Availability: 'drain' })).status, 200);
    assert.deepEqual(backend.last('updateNode'), ['node1', 3, { Role: 'worker', Availability: 'drain' }]);
    assert.equal((await call(sock, 'DELETE', '/nodes/node1?force=true')).status, 200);
    assert.deepEqual(backend.last('removeNode'), ['node1', true]);
  });

  test('error mapping: not a manager 503, conflict 409, bad JSON 400, thrown Error 500', async () => {
    backend.manager = false;
    try {
      const r = await call(sock, 'GET', '/nodes');
      assert.equal(r.status, 503);
      assert.equal(json(r).message, NOT_A_MANAGER_MESSAGE);
      assert.equal(r.headers['content-type'], 'application/json');
    } finally {
      backend.manager = true;
    }
    backend.failNext = unavailable('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.');
    assert.equal((await call(sock, 'POST', '/swarm/init', {})).status, 503);
    const dup = await call(sock, 'POST', '/services/create', { Name: 'web', TaskTemplate: {}, Mode: {} });
    assert.equal(dup.status, 409);
    const badJson = await call(sock, 'POST', '/services/create', '{"Name":');
    assert.equal(badJson.status, 400);
    assert.match(json(badJson).message, /^invalid JSON/);
    const empty = await call(sock, 'POST', '/swarm/init');
    assert.equal(empty.status, 400);
    backend.failNext = new TypeError('boom');
    const boom = await call(sock, 'GET', '/nodes');
    assert.equal(boom.status, 500);
    assert.equal(json(boom).message, 'boom');
    const seq = await call(sock, 'POST', '/services/svc1/update?version=1', mkService('svc1', 'web').Spec);
    assert.equal(seq.status, 500);
    assert.match(json(seq).message, /update out of sequence/);
  });
});

describe('services and tasks', () => {
  test('create answers 201 {ID, Warnings:null}; update answers Warnings', async () => {
    const spec = { Name: 'api', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 2 } } };
    const r = await call(sock, 'POST', '/v1.47/services/create', spec, { 'X-Registry-Auth': 'e30=' });
    assert.equal(r.status, 201);
    assert.deepEqual(json(r), { ID: 'svc123', Warnings: null });
    assert.deepEqual(backend.last('createService'), [spec]);
    const u = await call(sock, 'POST', '/services/web/update?version=5&rollback=previous&registryAuthFrom=previous-spec', spec);
    assert.equal(u.status, 200);
    assert.deepEqual(json(u), { Warnings: ['w1'] });
    assert.deepEqual(backend.last('updateService'), ['web', 5, spec, { rollback: true }]);
    assert.equal((await call(sock, 'POST', '/services/web/update?version=5', spec)).status, 200);
    assert.deepEqual((backend.last('updateService') as unknown[])[3], { rollback: false });
  });

  test('list/inspect/remove services and tasks', async () => {
    const l = await call(sock, 'GET', '/services?status=true&filters=' + encodeURIComponent('{"name":{"web":true}}'));
    assert.deepEqual(backend.last('listServices'), [{ name: ['web'] }, true]);
    assert.equal(json(l)[0].internal, undefined);
    assert.equal(json(l)[0].ServiceStatus.RunningTasks, 1);
    const g = await call(sock, 'GET', '/services/web?insertDefaults=true');
    assert.equal(json(g).Spec.Name, 'web');
    assert.deepEqual(backend.last('getService'), ['web', true]);
    assert.equal((await call(sock, 'DELETE', '/services/web')).status, 200);
    assert.deepEqual(backend.last('removeService'), ['web']);
    const t = await call(sock, 'GET', '/tasks?filters=' + encodeURIComponent('{"service":{"web":true},"desired-state":{"running":true}}'));
    assert.deepEqual(backend.last('listTasks'), [{ service: ['web'], 'desired-state': ['running'] }]);
    assert.equal(json(t)[0].internal, undefined);
    assert.equal(json(await call(sock, 'GET', '/tasks/task1')).ID, 'task1');
    assert.equal((await call(sock, 'GET', '/tasks/nope')).status, 404);
    assert.equal((await call(sock, 'GET', '/secrets')).status, 501);
  });

  test('service logs: multiplexed frames with details and timestamps', async () => {
    const t0 = Date.UTC(2024, 4, 1, 12, 0, 0, 123);
    backend.logLines = [
      { stream: 'stdout', time: t0, data: Buffer.from('hello\n'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' },
      { stream: 'stderr', time: t0, data: Buffer.from('oops'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' },
    ];
    backend.holdLogs = false;
    const r = await call(sock, 'GET', '/v1.47/services/web/logs?stdout=1&stderr=1&details=1&timestamps=1&tail=10&since=1700000000.5');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    const { frames, rest } = deframe(r.body);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        [1, '2024-05-01T12:00:00.123000000Z com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1 hello\n'],
        [2, '2024-05-01T12:00:00.123000000Z com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1 oops\n'],
      ],
    );
    assert.deepEqual(backend.last('serviceLogs'), ['web', { follow: false, tail: 10, timestamps: true, stdout: true, stderr: true, details: true, since: 1700000000.5 }]);
    const noStream = await call(sock, 'GET', '/services/web/logs');
    assert.equal(noStream.status, 400);
    assert.equal(json(noStream).message, 'Bad parameters: you must choose at least one stream');
    assert.equal((await call(sock, 'GET', '/services/ghost/logs?stdout=1')).status, 404);
  });

  test('TTY service logs are raw; task logs; follow aborts on client close', async () => {
    backend.logLines = [{ stream: 'stdout', time: 0, data: Buffer.from('tty line\n'), taskId: 't', nodeId: 'n', serviceId: 's' }];
    const r = await call(sock, 'GET', '/services/ttysvc/logs?stdout=1');
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(r.body.toString(), 'tty line\n');
    const t = await call(sock, 'GET', '/tasks/task1/logs?stdout=1&stderr=1');
    assert.equal(deframe(t.body).frames[0].data.toString(), 'tty line\n');
    assert.deepEqual((backend.last('taskLogs') as unknown[])[0], 'task1');
    backend.holdLogs = true;
    backend.logsAborted = false;
    const f = await streamUntil(sock, '/services/web/logs?stdout=1&follow=1', (b) => b.length >= 8 + 9);
    assert.equal(deframe(f.body).frames[0].data.toString(), 'tty line\n');
    await waitFor(() => backend.logsAborted);
    backend.holdLogs = false;
  });

  test('events stream swarm events as JSON lines; until ends the stream', async () => {
    const ev: EngineEvent = { Type: 'service', Action: 'create', Actor: { ID: 'svc1', Attributes: { name: 'web' } }, scope: 'swarm', time: 1700000000, timeNano: 1700000000000000000 };
    backend.eventsToSend = [ev];
    const r = await streamUntil(sock, '/events?filters=' + encodeURIComponent('{"type":{"service":true}}'), (b) => b.includes(0x0a));
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString().split('\n')[0]), ev);
    assert.deepEqual(backend.last('events'), [{ since: undefined, until: undefined, filters: { type: ['service'] } }]);
    const past = Math.floor(Date.now() / 1000) - 1;
    const bounded = await call(sock, 'GET', `/events?since=1&until=${past}`);
    assert.equal(bounded.status, 200);
    assert.equal(bounded.body.toString().trim().split('\n').length, 1);
  });
});

describe('engine passthrough', () => {
  test('no engine: ps and images list empty, others explain', async () => {
    assert.deepEqual(json(await call(sock, 'GET', '/v1.47/containers/json?all=1')), []);
    assert.deepEqual(json(await call(sock, 'GET', '/images/json')), []);
    const r = await call(sock, 'POST', '/containers/create', {});
    assert.equal(r.status, 501);
    assert.equal(json(r).message, 'no container engine: this node runs tasks on the process runtime');
    const d = await call(sock, 'GET', '/distribution/nginx:alpine/json');
    assert.equal(d.status, 404);
  });

  test('requests and bodies pass through; versions above the engine are capped', async () => {
    engine.paths.length = 0;
    const r = await call(engSock, 'GET', '/v1.47/containers/json?all=1');
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), [{ Id: 'c1', Names: ['/x'] }]);
    assert.ok(engine.paths.includes('GET /v1.45/containers/json?all=1'), engine.paths.join(','));
    assert.equal(r.headers['api-version'], '1.47');
    const c = await call(engSock, 'POST', '/containers/create?name=x', { Image: 'busybox' });
    assert.equal(c.status, 201);
    assert.deepEqual(json(c).Echo, { Image: 'busybox' });
    const nf = await call(engSock, 'GET', '/volumes/nope');
    assert.equal(nf.status, 404);
  });

  test('distribution inspect answers from the local image', async () => {
    const d = await call(engSock, 'GET', '/v1.47/distribution/nginx:alpine/json');
    assert.equal(d.status, 200);
    assert.deepEqual(json(d), {
      Descriptor: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: 'sha256:' + 'a'.repeat(64), size: 0 },
      Platforms: [{ architecture: 'arm64', os: 'linux' }],
    });
    const miss = await call(engSock, 'GET', '/distribution/library/redis:7/json');
    assert.equal(miss.status, 404);
  });

  test('hijacked (non-upgrade) stream is relayed raw', async () => {
    const r = await call(engSock, 'POST', '/containers/hj/attach?stream=1&stdout=1');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'raw-hello');
  });

  test('upgrade: 101 then raw bidirectional bytes with half-close', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ path: engSock, allowHalfOpen: true });
      const timer = setTimeout(() => {
        c.destroy();
        reject(new Error('upgrade timeout'));
      }, 5000);
      let buf = '';
      let sent = false;
      c.on('connect', () => {
        c.write('POST /v1.47/exec/e1/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{}');
      });
      c.on('data', (d) => {
        buf += d.toString();
        if (!sent && buf.includes('\r\n\r\n')) {
          sent = true;
          c.write('ping');
          setTimeout(() => c.end(), 100); // half-close: we can still read
        }
      });
      c.on('end', () => {
        clearTimeout(timer);
        resolve(buf);
      });
      c.on('error', reject);
    });
    assert.match(out, /^HTTP\/1.1 101/);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    assert.equal(body, '{}PINGbye');
    assert.ok(engine.paths.includes('UPGRADE POST /v1.45/exec/e1/start'));
  });

  test('engine events are merged with swarm events', async () => {
    backend.eventsToSend = [{ Type: 'node', Action: 'update', Actor: { ID: 'node1', Attributes: {} }, scope: 'swarm', time: 2, timeNano: 2 }];
    const r = await streamUntil(engSock, '/events', (b) => b.toString().split('\n').filter(Boolean).length >= 2);
    const scopes = r.body.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l).scope).sort();
    assert.deepEqual(scopes, ['local', 'swarm']);
  });
});

// ---------------------------------------------------------------------------------------------
// The real docker CLI, read-only commands.

const DOCKER = '/usr/local/bin/docker';
const haveDocker = fs.existsSync(DOCKER);

function docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      DOCKER,
      ['-H', `unix://${sock}`, ...args],
      { timeout: 20_000, env: { ...process.env, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_CONTEXT: '', DOCKER_HOST: '' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('real docker CLI', { skip: !haveDocker && 'docker CLI not installed' }, () => {
  test('docker version', async () => {
    const r = await docker(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Server: Shoal/);
    assert.match(r.stdout, /API version:\s+1\.47 \(minimum version 1\.24\)/);
    const f = await docker(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(f.stdout.trim(), '1.47');
  });

  test('docker info', async () => {
    const r = await docker(['info']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /ERROR|errors pretty printing/i);
    assert.match(r.stdout, /Swarm: active/);
    assert.match(r.stdout, /ClusterID: cluster1/);
    assert.match(r.stdout, /Is Manager: true/);
    assert.match(r.stdout, /Name: shoal-test/);
  });

  test('docker node ls', async () => {
    const r = await docker(['node', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION/);
    assert.match(lines[1], /^node1 \*\s+shoal-test\s+Ready\s+Active\s+Leader\s+28\.2\.2/);
  });

  test('docker service ls, ps and logs', async () => {
    const ls = await docker(['service', 'ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /svc1\s+web\s+replicated/);
    backend.logLines = [{ stream: 'stdout', time: Date.now(), data: Buffer.from('hello from web\n'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' }];
    backend.holdLogs = false;
    const logs = await docker(['service', 'logs', 'web']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^web\.1\.task1@shoal-test\s+\| hello from web$/m);
  });

  test('docker ps without an engine, and a swarm error', async () => {
    const ps = await docker(['ps']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID/);
    backend.manager = false;
    try {
      const r = await docker(['node', 'ls']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /This node is not a swarm manager/);
    } finally {
      backend.manager = true;
    }
  });
});

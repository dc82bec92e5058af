// HTTP helpers for the API layer's tests: requests over unix sockets, a fake Docker Engine on
// its own socket, and a fixture with two API servers (without and with an engine). Every wait is bounded.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApiServer, type ApiServer } from '../server';
import { FACTS, FakeBackend, mkNode, mkService, mkTask } from './fake-backend';

export interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function call(socketPath: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
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

export const json = (r: Resp): any => JSON.parse(r.body.toString());

/** Opens a streaming GET, collects bytes until `done(bytes)` is true, then closes the connection. */
export function streamUntil(socketPath: string, p: string, done: (b: Buffer) => boolean, timeoutMs = 5000): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
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

// ---------------------------------------------------------------------------------------------
// A tiny fake engine on its own unix socket.

export interface FakeEngine {
  socketPath: string;
  paths: string[];
  /** X-Registry-Auth of the last /distribution request. */
  registryAuth?: string;
  server: http.Server;
}

export function startFakeEngine(dir: string): Promise<FakeEngine> {
  const socketPath = path.join(dir, 'engine.sock');
  const paths: string[] = [];
  const fake: { registryAuth?: string } = {};
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
    if (/\/distribution\//.test(u)) {
      // a registry that knows nginx:alpine only (and no registry at all for anything else)
      const a = req.headers['x-registry-auth'];
      fake.registryAuth = typeof a === 'string' ? a : undefined;
      res.setHeader('Content-Type', 'application/json');
      if (/\/distribution\/hang\//.test(u)) return; // a registry that never answers
      if (/\/distribution\/nginx:alpine\/json/.test(u)) {
        return res.end(JSON.stringify({ Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: 'sha256:' + 'b'.repeat(64), size: 10229 }, Platforms: [{ architecture: 'arm64', os: 'linux' }] }));
      }
      res.statusCode = 500;
      return res.end(JSON.stringify({ message: 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' }));
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
  return new Promise((resolve) =>
    server.listen(socketPath, () =>
      resolve({
        socketPath,
        paths,
        server,
        get registryAuth() {
          return fake.registryAuth;
        },
      }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------

export interface ApiFixture {
  dir: string;
  /** API server without an engine (process runtime). */
  sock: string;
  backend: FakeBackend;
  server: ApiServer;
  engine: FakeEngine;
  /** API server passing engine paths to `engine`. */
  engSock: string;
  serverWithEngine: ApiServer;
  close(): Promise<void>;
}

/** Two API servers over one FakeBackend (one node, services web and ttysvc, one task) and a fake engine. */
export async function startApiFixture(): Promise<ApiFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-'));
  const sock = path.join(dir, 'api.sock');
  const backend = new FakeBackend();
  backend.nodes = [mkNode('node1', 'shoal-test')];
  backend.services = [mkService('svc1', 'web'), mkService('svc2', 'ttysvc', true)];
  backend.tasks = [mkTask('task1', 'svc1')];
  const server = createApiServer({ backend, facts: FACTS, hosts: [`unix://${sock}`] });
  await server.listen();
  const engine = await startFakeEngine(dir);
  const engSock = path.join(dir, 'api-eng.sock');
  const serverWithEngine = createApiServer({ backend, facts: { ...FACTS, runtime: 'docker' }, hosts: [`unix://${engSock}`], engineSocket: `unix://${engine.socketPath}` });
  await serverWithEngine.listen();
  return {
    dir,
    sock,
    backend,
    server,
    engine,
    engSock,
    serverWithEngine,
    async close() {
      await server.close();
      await serverWithEngine.close();
      engine.server.closeAllConnections();
      await new Promise<void>((r) => engine.server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

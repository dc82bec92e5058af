// A helper process for routing-mesh tests between network namespaces: started in a namespace (the `launcher` of
// test/harness/hosts.ts), it runs there what the test asks over JSON lines on stdin/stdout: a RoutingMesh (the
// node under test), TCP/HTTP and UDP backends, and clients. The test process stays in the root namespace.
//   const p = await MeshPeer.start(host.launcher); await p.call('http.start', { id: 'b1', port: 0 }); … p.close()
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { RoutingMesh, parseProxyHeader, type PublishedPortTable, type RoutingMeshOptions } from '../../src/network/mesh';

export interface GetResult {
  ok: number;
  failed: number;
  /** Answers per body: `<backend id> <client address the backend saw>`. */
  bodies: Record<string, number>;
  errors: string[];
}

/** The test side: one helper process in a namespace. */
export class MeshPeer {
  private seq = 0;
  private buf = '';
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const m = JSON.parse(line) as { seq: number; ok: boolean; result?: unknown; error?: string };
        const w = this.waiting.get(m.seq);
        this.waiting.delete(m.seq);
        if (m.ok) w?.resolve(m.result);
        else w?.reject(new Error(m.error));
      }
    });
    proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`mesh peer exited (${code})`));
      this.waiting.clear();
    });
  }

  static start(launcher: string[]): MeshPeer {
    const argv = [...launcher, process.execPath, __filename];
    return new MeshPeer(spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  /** One operation in the helper; rejects with its error text, or after `timeoutMs`. */
  call<T>(op: string, args: object = {}, timeoutMs = 30_000): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`mesh peer: ${op} timed out`));
      }, timeoutMs);
      this.waiting.set(seq, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.stdin!.write(JSON.stringify({ seq, op, args }) + '\n');
    });
  }

  /** SIGKILL: nothing is cleaned up (as a daemon killed -9 leaves its nft table). */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  /** Ends the helper (its mesh removes its nft table on the way out), bounded. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

// ---- the helper process ----

type Ops = Record<string, (args: never) => unknown>;

function helper(): void {
  let mesh: RoutingMesh | undefined;
  const warnings: string[] = [];
  const tcp = new Map<string, { srv: net.Server; sockets: Set<net.Socket> }>();
  const udp = new Map<string, dgram.Socket>();
  /** Connections held open half-way through a request ('slow.open' / 'slow.finish'). */
  const slow = new Map<string, { sock: net.Socket; got: string; ended: Promise<string> }>();

  const ops: Ops = {
    'mesh.start': (o: Omit<RoutingMeshOptions, 'logger'>) => {
      mesh = new RoutingMesh({ ...o, logger: { debug() {}, warn: (obj: unknown, msg?: string) => warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`) } });
    },
    'mesh.apply': async (a: { tables: PublishedPortTable[] }) => mesh!.apply(a.tables),
    'mesh.status': async () => ({ ports: await mesh!.readStatus(), kernelAvailable: mesh!.kernelAvailable(), warnings }),
    'mesh.close': async () => mesh?.close(),
    // An HTTP/1.0-style backend: answers every request with `<id> <client address>` and closes; with `proxy` it
    // first reads a PROXY header and names the address it carries.
    'http.start': async (a: { id: string; port: number; proxy?: boolean }) => {
      const sockets = new Set<net.Socket>();
      const srv = net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          let client = s.remoteAddress ?? '';
          let rest = buf;
          if (a.proxy) {
            const h = parseProxyHeader(buf);
            if (!h) return;
            client = `proxy:${h.srcAddress}`;
            rest = buf.subarray(h.length);
          }
          if (rest.indexOf('\r\n\r\n') < 0) return;
          const body = `${a.id} ${client}`;
          s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        });
      });
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(a.port, '0.0.0.0', () => resolve()));
      tcp.set(a.id, { srv, sockets });
      return (srv.address() as net.AddressInfo).port;
    },
    'http.stop': async (a: { id: string }) => {
      const x = tcp.get(a.id);
      tcp.delete(a.id);
      if (!x) return;
      await new Promise((r) => {
        x.srv.close(r);
        for (const s of x.sockets) s.destroy();
      });
    },
    'udp.start': async (a: { id: string; port: number }) => {
      const s = dgram.createSocket('udp4');
      s.on('message', (m, r) => s.send(`${a.id} ${r.address} ${m.toString()}`, r.port, r.address));
      await new Promise<void>((resolve, reject) => s.once('error', reject).bind(a.port, () => resolve()));
      udp.set(a.id, s);
      return s.address().port;
    },
    /**
     * A connection that stays open: connects and sends a request without its final blank line, so the backend
     * (which answers at the end of the headers) holds it until 'slow.finish'.
     */
    'slow.open': async (a: { id: string; host: string; port: number }) => {
      const sock = net.connect({ host: a.host, port: a.port });
      const x = { sock, got: '', ended: Promise.resolve('') };
      x.ended = new Promise<string>((resolve) => {
        sock.on('data', (d: Buffer) => (x.got += d.toString()));
        sock.on('end', () => resolve(x.got));
        sock.on('error', (e) => resolve(`error: ${e.message}`));
      });
      await new Promise<void>((resolve, reject) => sock.once('connect', () => resolve()).once('error', reject));
      sock.write('GET / HTTP/1.1\r\nHost: mesh\r\n');
      slow.set(a.id, x);
    },
    /** Ends the held request; the body of the answer, or `error: …` (bounded: 5 s). */
    'slow.finish': async (a: { id: string }) => {
      const x = slow.get(a.id)!;
      slow.delete(a.id);
      x.sock.write('\r\n');
      const out = await Promise.race([x.ended, new Promise<string>((r) => setTimeout(() => r(`error: no answer in 5 s (${x.got})`), 5000))]);
      x.sock.destroy();
      return out.startsWith('error: ') ? out : out.slice(out.indexOf('\r\n\r\n') + 4);
    },
    /** `n` requests one after the other, a new connection each. */
    get: async (a: { host: string; port: number; n: number }) => {
      const r: GetResult = { ok: 0, failed: 0, bodies: {}, errors: [] };
      for (let i = 0; i < a.n; i++) {
        try {
          const body = await httpGet(a.host, a.port);
          r.ok++;
          r.bodies[body] = (r.bodies[body] ?? 0) + 1;
        } catch (err) {
          r.failed++;
          if (r.errors.length < 5) r.errors.push(String(err));
        }
      }
      return r;
    },
    /** `n` datagrams from one socket (one flow; from `sourcePort` when given), each waiting for its answer (1 s). */
    udp: async (a: { host: string; port: number; n: number; sourcePort?: number }) => {
      const r: GetResult = { ok: 0, failed: 0, bodies: {}, errors: [] };
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => s.bind(a.sourcePort ?? 0, () => resolve()));
      for (let i = 0; i < a.n; i++) {
        const answer = new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no answer')), 1000);
          s.once('message', (m) => {
            clearTimeout(t);
            resolve(m.toString());
          });
        });
        s.send(`ping${i}`, a.port, a.host);
        try {
          const body = (await answer).replace(/ ping\d+$/, '');
          r.ok++;
          r.bodies[body] = (r.bodies[body] ?? 0) + 1;
        } catch (err) {
          r.failed++;
          if (r.errors.length < 5) r.errors.push(String(err));
        }
      }
      s.close();
      return r;
    },
  };

  let buf = '';
  process.stdin.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, i)) as { seq: number; op: string; args: never };
      buf = buf.slice(i + 1);
      const fn = ops[m.op];
      Promise.resolve()
        .then(() => (fn ? fn(m.args) : Promise.reject(new Error(`unknown op ${m.op}`))))
        .then(
          (result) => process.stdout.write(JSON.stringify({ seq: m.seq, ok: true, result: result ?? null }) + '\n'),
          (err: unknown) => process.stdout.write(JSON.stringify({ seq: m.seq, ok: false, error: String(err) }) + '\n'),
        );
    }
  });
  process.stdin.on('end', () => {
    void (async () => {
      await mesh?.close().catch(() => undefined);
      for (const x of tcp.values()) {
        for (const s of x.sockets) s.destroy();
        x.srv.close();
      }
      for (const s of udp.values()) s.close();
      process.exit(0);
    })();
  });
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let data = '';
    const t = setTimeout(() => s.destroy(new Error('timed out')), 5000);
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n'));
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    s.on('end', () => {
      clearTimeout(t);
      s.destroy();
      const i = data.indexOf('\r\n\r\n');
      if (!data.startsWith('HTTP/1.1 200') || i < 0) reject(new Error(`bad answer: ${JSON.stringify(data.slice(0, 80))}`));
      else resolve(data.slice(i + 4));
    });
  });
}

if (require.main === module) helper();

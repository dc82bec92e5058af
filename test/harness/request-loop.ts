// A bounded HTTP request loop in its own process, for "no request lost" tests: the docker CLI runs
// synchronously in the test process (spawnSync), which would stall a loop living there. The child
// sends one new connection per request (no keep-alive: every request goes through the mesh's
// choice of backend) round robin over the targets, `concurrency` at a time, until told to stop,
// `maxRequests` were sent or `maxMs` passed; it then prints its counts as one JSON line.
import { spawn, type ChildProcess } from 'node:child_process';

export interface LoopTarget {
  host: string;
  port: number;
}

export interface LoopResult {
  requests: number;
  failures: number;
  /** The first few failures: target and error text. */
  errors: string[];
  /** Answers per body (the task that answered). */
  byBody: Record<string, number>;
}

const SCRIPT = `
const http = require('http');
const { targets, concurrency, maxRequests, maxMs } = JSON.parse(process.argv[1]);
const res = { requests: 0, failures: 0, errors: [], byBody: {} };
let stop = false, next = 0, running = 0;
const deadline = Date.now() + maxMs;
process.stdin.on('data', () => { stop = true; });
process.stdin.on('end', () => { stop = true; });
function one() {
  if (stop || res.requests >= maxRequests || Date.now() > deadline) {
    if (--running === 0) { process.stdout.write(JSON.stringify(res) + '\\n'); process.exit(0); }
    return;
  }
  const t = targets[next++ % targets.length];
  res.requests++;
  const t0 = Date.now();
  const fail = (e) => { res.failures++; if (res.errors.length < 10) res.errors.push(t.host + ':' + t.port + ' ' + e + ' (sent at ' + new Date(t0).toISOString().slice(11, 23) + ', failed after ' + (Date.now() - t0) + ' ms)'); setImmediate(one); };
  const req = http.get({ host: t.host, port: t.port, path: '/', agent: false, timeout: 5000 }, (r) => {
    let body = '';
    r.on('data', (c) => (body += c));
    r.on('error', (e) => fail(String(e)));
    r.on('end', () => {
      if (r.statusCode !== 200) return fail('HTTP ' + r.statusCode);
      body = body.trim(); res.byBody[body] = (res.byBody[body] || 0) + 1; setImmediate(one);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (e) => fail(String(e)));
}
process.stdout.write('started\\n');
for (let i = 0; i < concurrency; i++) { running++; one(); }
`;

export class RequestLoop {
  private readonly proc: ChildProcess;
  private out = '';
  private readonly done: Promise<void>;
  /** How the child ended (its exit code or signal), for the message when it printed no counts. */
  private exit = 'still running';

  /** `launcher`: a command prefix the child runs under, e.g. a simulated host's namespace (test/harness/hosts.ts). */
  constructor(targets: LoopTarget[], o: { concurrency?: number; maxRequests?: number; maxMs?: number; launcher?: string[] } = {}) {
    const args = { targets, concurrency: o.concurrency ?? 4, maxRequests: o.maxRequests ?? 200_000, maxMs: o.maxMs ?? 120_000 };
    const argv = [...(o.launcher ?? []), process.execPath, '-e', SCRIPT, JSON.stringify(args)];
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    // 'close', not 'exit': node may report the exit before the last of the child's output is read, and
    // the counts are its last line. A CI run once saw a loop end with no counts read; how it ended is now
    // in the message.
    this.done = new Promise((resolve) => this.proc.on('close', () => resolve()));
    this.proc.on('exit', (code, signal) => (this.exit = signal ?? `code ${code}`));
  }

  /** Resolves once the child runs its loop. */
  async started(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.out.startsWith('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.out.startsWith('started')) throw new Error('request loop did not start');
  }

  /** Stops the loop (in-flight requests finish) and returns its counts. */
  async stop(timeoutMs = 15_000): Promise<LoopResult> {
    this.proc.stdin!.end('stop\n');
    return this.finish(timeoutMs);
  }

  /** Waits for the loop to end by itself (`maxRequests` sent or `maxMs` passed) and returns its counts. */
  async finish(timeoutMs = 15_000): Promise<LoopResult> {
    const timer = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([this.done, timer]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    const line = this.out.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`request loop printed no result (${this.exit}): ${this.out}`);
    return JSON.parse(line) as LoopResult;
  }
}

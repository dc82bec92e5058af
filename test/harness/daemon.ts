// Starts real Shoal daemons (separate processes) for integration and end-to-end tests, and runs the
// real docker CLI against them. Every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor as sharedWaitFor } from '../../src/testing/wait';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'node', 'main.js');
/** The installed entry point (`shoal daemon …`), for `viaBin`. */
const BIN = path.join(ROOT, 'bin', 'shoal.js');
/** The daemon with the test fault injector (daemon-main.ts), for `faultFile`. */
const MAIN_WITH_FAULTS = path.join(ROOT, 'dist', 'test', 'harness', 'daemon-main.js');

export interface DaemonOptions {
  runtime?: 'process' | 'docker';
  engine?: string;
  hostname?: string;
  extraArgs?: string[];
  dataDir?: string;
  /** A command that runs the daemon (e.g. `['nsenter', '--net=/run/netns/x', '--']`: in a host's network namespace). */
  launcher?: string[];
  /** Extra flags for node itself (e.g. `--cpu-prof`, as bench/mesh.ts --prof passes). */
  nodeArgs?: string[];
  /** Extra environment for the daemon (e.g. DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1); read at each start(). */
  env?: Record<string, string>;
  /** Start through the test fault injector, dropping RPCs to the addresses this JSON file lists (fault-injector.ts). */
  faultFile?: string;
  /** `--enable-source-maps` (default true, for readable test logs). Benches that measure memory run the daemon as `bin/shoal.js` does: without. */
  sourceMaps?: boolean;
  /** Start as users do, `node bin/shoal.js daemon …`, rather than dist/src/node/main.js (benches that measure the process as shipped). */
  viaBin?: boolean;
}

export class TestDaemon {
  proc: ChildProcess | undefined;
  readonly dataDir: string;
  readonly sock: string;
  readonly host: string;
  private logFile: string;

  constructor(readonly opts: DaemonOptions = {}) {
    this.dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-test-'));
    this.sock = path.join(this.dataDir, 'shoal.sock');
    this.host = `unix://${this.sock}`;
    this.logFile = path.join(this.dataDir, 'daemon.log');
  }

  async start(timeoutMs = 20_000): Promise<void> {
    const args = [...(this.opts.faultFile ? [MAIN_WITH_FAULTS, '--test-fault-file', this.opts.faultFile] : this.opts.viaBin ? [BIN, 'daemon'] : [MAIN]), '--data-dir', this.dataDir, '--host', this.host, '--runtime', this.opts.runtime ?? 'process', '--hostname', this.opts.hostname ?? 'shoal-test'];
    if (this.opts.engine) args.push('--engine', this.opts.engine);
    args.push('--swarm-default-advertise-addr', '127.0.0.1', ...(this.opts.extraArgs ?? []));
    const out = fs.openSync(this.logFile, 'a');
    const argv = [...(this.opts.launcher ?? []), process.execPath, ...(this.opts.nodeArgs ?? []), ...(this.opts.sourceMaps === false ? [] : ['--enable-source-maps']), ...args];
    const env = this.opts.env ? { ...process.env, ...this.opts.env } : process.env;
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out], detached: true, env });
    fs.closeSync(out);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`daemon exited with ${this.proc.exitCode}:\n${this.log()}`);
      if (await ping(this.sock)) return;
      await sleep(100);
    }
    throw new Error(`daemon did not answer /_ping within ${timeoutMs} ms:\n${this.log()}`);
  }

  /** SIGTERM and wait for exit (bounded); tasks stay in their runtime. */
  async stop(timeoutMs = 35_000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  }

  kill9(): void {
    this.proc?.kill('SIGKILL');
  }

  /** Sends `sig` to the daemon's process (SIGSTOP / SIGCONT: a host or VM held up, then let go). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-60).join('\n');
    } catch {
      return '';
    }
  }

  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], opts: { timeoutMs?: number; input?: string } = {}): DockerResult {
    return runDocker(this.host, args, opts);
  }

  /** The docker CLI against this daemon in the background (`--follow`): what it printed so far, and stop() (SIGKILL). */
  dockerBackground(args: string[]): { out(): string; err(): string; stop(): void } {
    const p = spawn('docker', args, { env: dockerEnv(this.host), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { out: () => out, err: () => err, stop: () => void p.kill('SIGKILL') };
  }

  /** Like docker() but throws with the output when the command fails. */
  dockerOk(args: string[], opts: { timeoutMs?: number } = {}): string {
    const r = this.docker(args, opts);
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${this.log()}`);
    return r.stdout;
  }

  /** GET a path of the Engine API and parse the JSON. */
  async api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
    return apiRequest<T>(this.sock, method, p, body);
  }

  /** Every task of a service (`GET /tasks?filters={"service":[…]}`). */
  async tasksOf(service: string): Promise<TaskJson[]> {
    const r = await this.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
    if (r.status !== 200) throw new Error(`GET /tasks for ${service}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** The tasks of a service that run and are meant to. */
  async runningTasks(service: string): Promise<TaskJson[]> {
    return (await this.tasksOf(service)).filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
  }

  /** Test teardown: removes every service, waits (bounded) for their tasks to go, leaves the swarm, stops and deletes the daemon. */
  async teardown(): Promise<void> {
    const ls = this.docker(['service', 'ls', '-q']).stdout.trim();
    if (ls) this.docker(['service', 'rm', ...ls.split('\n')]);
    await waitFor(async () => (await this.api<unknown[]>('GET', '/v1.47/tasks')).body.length === 0, 30_000, 'all tasks gone').catch(() => undefined);
    this.docker(['swarm', 'leave', '--force']);
    await this.cleanup();
  }

  async cleanup(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The fields of an Engine API task the tests read. */
export interface TaskJson {
  ID: string;
  Slot?: number;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: { State: string; Err?: string; Message: string; Timestamp: string; ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number } };
  Spec: { ContainerSpec?: { Env?: string[]; Image: string; Args?: string[] }; ForceUpdate?: number };
}

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

function dockerEnv(host: string): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false', DOCKER_CONFIG: path.join(os.tmpdir(), 'shoal-test-docker-config') };
}

export function runDocker(host: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): DockerResult {
  const r = spawnSync('docker', args, {
    env: dockerEnv(host),
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    input: opts.input,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

export function ping(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    // agent: false: no kept-alive socket; spawnSync blocks the loop, so a socket the daemon closed meanwhile would be reused (EPIPE).
    const req = http.request({ socketPath: sock, path: '/_ping', method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => (req.destroy(), resolve(false)));
    req.end();
  });
}

export function apiRequest<T>(sock: string, method: string, p: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: sock, path: p, method, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {}, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
    if (data) req.write(data);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process with this PID exists (signal 0 probes without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The shared `waitFor` (src/testing/wait.ts) in the harness's argument order, polling every 100 ms and through errors. */
export function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 100): Promise<NonNullable<T>> {
  return sharedWaitFor<T>(what, fn, timeoutMs, everyMs, { retryErrors: true });
}

/** Parses the whitespace-aligned table the docker CLI prints into rows keyed by header. */
export function parseTable(out: string): Record<string, string>[] {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0]!;
  const cols: { name: string; start: number }[] = [];
  const re = /(\S+(?: \S+)*)/g;
  let m;
  while ((m = re.exec(header))) cols.push({ name: m[1]!, start: m.index });
  return lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      const end = i + 1 < cols.length ? cols[i + 1]!.start : undefined;
      row[c.name] = line.slice(c.start, end).trim();
    });
    return row;
  });
}

export function dockerAvailable(): boolean {
  return spawnSync('docker', ['--version']).status === 0;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (for swarm listen addresses in tests). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

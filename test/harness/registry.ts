// A real image registry for tests: Debian's `docker-registry` (distribution 2.8), plain HTTP on a
// given address with filesystem storage in a temporary directory, optionally behind htpasswd basic
// auth (bcrypt, as distribution requires). Started on a TestHosts bridge address, every host's
// engine reaches it (TestHosts.up({ registryOnBridge: true }) makes the bridge's /24 an insecure
// registry range for the engines); stop() ends it and removes its files.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { waitFor } from './daemon';
import { hostsTestOptions } from './hosts';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why registry tests cannot run here, or undefined when they can. */
export function registryUnavailableReason(): string | undefined {
  if (!fs.existsSync(REGISTRY_BIN)) return `registry tests need ${REGISTRY_BIN} (apt-get install docker-registry)`;
  return undefined;
}

/** `describe` options for multi-host tests with a registry: skip with the reason, except under CI=true (then they fail loudly). */
export function registryTestOptions(): { skip?: string } {
  const o = hostsTestOptions();
  if (o.skip) return o;
  const why = registryUnavailableReason();
  return why && process.env.CI !== 'true' ? { skip: why } : {};
}

export interface RegistryOptions {
  /** The address to listen on (an IP the engines reach, e.g. a TestHosts bridge address). */
  host: string;
  /** Basic auth with these users (htpasswd, bcrypt); default: no auth. */
  users?: Record<string, string>;
}

export class TestRegistry {
  private proc?: ChildProcess;

  private constructor(
    /** `host:port`, the prefix of image names in this registry. */
    readonly addr: string,
    private readonly dir: string,
  ) {}

  /** Starts a registry on a free port of `host` and waits until its API answers (bounded, 20 s). */
  static async start(opts: RegistryOptions): Promise<TestRegistry> {
    const why = registryUnavailableReason();
    if (why) throw new Error(why);
    const port = await freePort(opts.host);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-registry-'));
    const r = new TestRegistry(`${opts.host}:${port}`, dir);
    const storage = path.join(dir, 'storage');
    fs.mkdirSync(storage);
    const auth = opts.users
      ? [
          'auth:',
          '  htpasswd:',
          '    realm: shoal-test',
          `    path: ${path.join(dir, 'htpasswd')}`,
        ]
      : [];
    if (opts.users) {
      const lines = Object.entries(opts.users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
      fs.writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
    }
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${r.addr}`,
      ...auth,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'config.yml'), config);
    const log = fs.openSync(path.join(dir, 'registry.log'), 'a');
    r.proc = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    try {
      // /v2/ answers 200 (open) or 401 (auth) once it listens
      await waitFor(async () => {
        const res = await fetch(`http://${r.addr}/v2/`).catch(() => undefined);
        return res !== undefined && (res.status === 200 || res.status === 401);
      }, 20_000, `registry on ${r.addr}`, 100);
    } catch (err) {
      await r.stop();
      throw new Error(`${(err as Error).message}\n${r.log()}`);
    }
    return r;
  }

  /** The registry's log (for failure messages). */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'registry.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** The manifest digest the registry holds for `repo:tag` (Docker-Content-Digest of a v2 manifest HEAD). */
  async digest(repo: string, tag: string, auth?: { user: string; password: string }): Promise<string | undefined> {
    const headers: Record<string, string> = { Accept: 'application/vnd.docker.distribution.manifest.v2+json' };
    if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    const res = await fetch(`http://${this.addr}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers });
    return res.ok ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    if (process.env.SHOAL_KEEP_HOSTS !== '1') fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port free on `host` right now (bound and released: the registry takes it next). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// Simulated hosts for multi-host tests: one network namespace per host on a shared bridge, each with
// its own address, its own Docker Engine (dockerd in that namespace: own socket, data root, exec
// root, pidfile, cgroup parent) with the test image imported into it separately, and optionally a
// Shoal daemon in the same namespace whose unix socket is on the shared filesystem, so the real
// docker CLI drives it. What works on this machine is /work/shared/realswarm (up.sh, start-host.sh,
// down.sh): a namespace is entered with `nsenter --net=…` (not `ip netns exec`, which remounts /sys
// and hides the cgroup mounts dockerd needs), and the root namespace's FORWARD chain gets an accept
// rule for our bridge only.
//
// Every name carries a random suffix and the /24 is picked at random from 10.240.0.0/12, so parallel
// runs and the realswarm scripts never clash. Traffic stays on the bridge: no host has a default
// route. down() removes everything (daemons, engines and their children, mounts, cgroups, veths,
// namespaces, bridge, iptables rule, files) even after a failed up(); every wait is bounded.
// Needs root, dockerd, nsenter, ip, iptables and a static busybox: under CI=true they must be there
// (the tests fail otherwise); elsewhere the tests skip with the reason (hostsTestOptions()).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, parseTable, runDocker, waitFor, type DaemonOptions, type DockerResult } from './daemon';

/** The name every host's engine knows the imported test image by (as a user without a registry would tag it). */
export const HOSTS_IMAGE = 'busybox:local';
const BUSYBOX = '/bin/busybox';
const APPLETS = 'sh sleep echo cat httpd wget nc true false ls env kill ps printf id hostname date yes head tail timeout seq mkdir rm touch grep test ip ifconfig ping nslookup netstat'.split(' ');

export interface HostsOptions {
  /** Number of hosts (h1…hN). */
  count: number;
  /**
   * Extra dockerd flags. Default: no bridge and no iptables in the engine (`--bridge=none
   * --iptables=false --ip-forward=false`): task containers get network mode "none". Networking
   * tests that need the engine's bridge pass [] instead (the engine's iptables are its namespace's).
   */
  dockerdArgs?: string[];
  /** Seconds to wait for each engine to answer (default 90). */
  engineTimeoutS?: number;
  /**
   * False: no Docker Engine per host (and no image import), for process-runtime Shoal daemons in the
   * namespaces (`startShoal({ runtime: 'process' })`), e.g. bench/mesh.ts. Default true.
   */
  engines?: boolean;
  /**
   * The engines treat plain-HTTP registries on the bridge's /24 as insecure registries (dockerd's
   * `insecure-registries`), so a TestRegistry started on `bridgeIp` (test/harness/registry.ts)
   * serves every host. Default false.
   */
  registryOnBridge?: boolean;
}

/** Why multi-host tests cannot run here, or undefined when they can. */
export function hostsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'multi-host tests need Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'multi-host tests need root (network namespaces, a dockerd per host)';
  for (const cmd of ['dockerd', 'docker', 'nsenter', 'ip', 'iptables', 'tar']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `multi-host tests need \`${cmd}\` (dockerd: apt-get install docker.io)`;
  }
  if (!fs.existsSync(BUSYBOX)) return `multi-host tests need a static busybox at ${BUSYBOX} (apt-get install busybox-static)`;
  return undefined;
}

/** Options for `describe`: skip with the reason when the machine cannot run them, except under CI=true (then up() fails loudly). */
export function hostsTestOptions(): { skip?: string } {
  const why = hostsUnavailableReason();
  if (!why || process.env.CI === 'true') return {};
  return { skip: why };
}

/** One simulated host. */
export class TestHost {
  /** The Shoal daemon of this host, once startShoal() ran. */
  shoal?: TestDaemon;

  constructor(
    /** 1-based. */
    readonly index: number,
    /** The host's name (`docker node ls` HOSTNAME): h1…hN. */
    readonly name: string,
    /** Its address on the shared bridge. */
    readonly ip: string,
    /** Its network namespace (`ip netns` name, unique to this run). */
    readonly netns: string,
    /** Its state directory (engine data, exec root, logs). */
    readonly dir: string,
  ) {}

  get netnsPath(): string {
    return `/run/netns/${this.netns}`;
  }
  get engineSock(): string {
    return path.join(this.dir, 'docker.sock');
  }
  /** `unix://…` of this host's Docker Engine. */
  get engine(): string {
    return `unix://${this.engineSock}`;
  }
  get pidFile(): string {
    return path.join(this.dir, 'docker.pid');
  }
  /** The command prefix that runs a program in this host's network namespace. */
  get launcher(): string[] {
    return ['nsenter', `--net=${this.netnsPath}`, '--'];
  }

  /** The docker CLI against this host's engine (not Shoal). */
  engineDocker(args: string[], opts: { timeoutMs?: number; input?: string } = {}): DockerResult {
    return runDocker(this.engine, args, opts);
  }

  /** The docker CLI against this host's engine; throws with the CLI's output when it fails. */
  engineDockerOk(args: string[], opts: { timeoutMs?: number } = {}): string {
    const r = this.engineDocker(args, opts);
    if (r.status !== 0) throw new Error(`${this.name}'s engine: docker ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** The docker CLI against this host's Shoal daemon. */
  docker(args: string[], opts: { timeoutMs?: number; input?: string } = {}): DockerResult {
    if (!this.shoal) throw new Error(`${this.name}: no Shoal daemon started`);
    return this.shoal.docker(args, opts);
  }

  dockerOk(args: string[], opts: { timeoutMs?: number } = {}): string {
    if (!this.shoal) throw new Error(`${this.name}: no Shoal daemon started`);
    return this.shoal.dockerOk(args, opts);
  }

  /** Runs a command inside this host's network namespace. */
  run(argv: string[], timeoutMs = 30_000): DockerResult {
    const r = spawnSync(this.launcher[0]!, [...this.launcher.slice(1), ...argv], { encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  /** The PID of this host's dockerd from its pidfile, when alive. */
  dockerdPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
      return pid > 0 && isAlive(pid, 'dockerd') ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Starts (or restarts, on the same data dir) this host's Shoal daemon in its namespace: docker runtime
   * on its engine by default, or the process runtime (tasks are processes in the host's namespace).
   */
  async startShoal(opts: Omit<DaemonOptions, 'launcher' | 'engine' | 'hostname'> = {}): Promise<TestDaemon> {
    if (!this.shoal) {
      // the data dir goes in with the host's state, so a sweep after a killed run removes it too
      const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-test-'));
      fs.writeFileSync(path.join(this.dir, 'shoal-data-dir'), dataDir);
      this.shoal = new TestDaemon({
        ...opts,
        dataDir,
        runtime: opts.runtime ?? 'docker',
        ...(opts.runtime === 'process' ? {} : { engine: this.engine }),
        hostname: this.name,
        launcher: this.launcher,
        extraArgs: ['--swarm-default-advertise-addr', this.ip, ...(opts.extraArgs ?? [])],
      });
    }
    await this.shoal.start();
    return this.shoal;
  }
}

/** N simulated hosts; create with `TestHosts.up()`, always end with `down()`. */
export class TestHosts {
  readonly hosts: TestHost[] = [];
  /** The bridge in the root namespace, `<prefix>.1`. */
  readonly bridge: string;
  /** First three octets of the hosts' /24. */
  readonly net: string;
  readonly base: string;
  private fwdRule = false;
  private readonly dockerdPids = new Set<number>();

  private constructor(
    readonly suffix: string,
    private readonly opts: HostsOptions,
    stale?: { net: string; base: string },
  ) {
    this.bridge = `shb${suffix}`;
    this.net = stale?.net ?? freeNet();
    this.base = stale?.base ?? fs.mkdtempSync(path.join(os.tmpdir(), `shoal-hosts-${suffix}-`));
    for (let i = 1; i <= opts.count; i++) this.hosts.push(new TestHost(i, `h${i}`, `${this.net}.${i + 1}`, `sh${suffix}h${i}`, path.join(this.base, `h${i}`)));
    if (stale) {
      this.fwdRule = true;
      for (const x of this.hosts) {
        const dataDir = readText(path.join(x.dir, 'shoal-data-dir'));
        if (dataDir) x.shoal = new TestDaemon({ dataDir });
      }
    }
  }

  /**
   * Tears down what earlier runs left when their process died before down() (kill -9, a runner
   * timeout): every base directory whose recorded owner process is gone. Called by up().
   */
  static async sweepStale(): Promise<void> {
    for (const d of safeReaddir(os.tmpdir())) {
      if (!d.startsWith('shoal-hosts-')) continue;
      const base = path.join(os.tmpdir(), d);
      let st: { owner: number; suffix: string; net: string; count: number };
      try {
        st = JSON.parse(fs.readFileSync(path.join(base, 'hosts.json'), 'utf8'));
      } catch {
        continue;
      }
      if (isAlive(st.owner)) continue;
      await new TestHosts(st.suffix, { count: st.count }, { net: st.net, base }).down();
    }
  }

  get bridgeIp(): string {
    return `${this.net}.1`;
  }

  /** Brings up `count` hosts with an engine each and the test image imported into each; tears down on failure. */
  static async up(opts: HostsOptions): Promise<TestHosts> {
    const why = hostsUnavailableReason();
    if (why) throw new Error(why);
    if (opts.count < 1 || opts.count > 50) throw new Error('count must be 1..50');
    await TestHosts.sweepStale();
    const h = new TestHosts(randomBytes(3).toString('hex'), opts);
    fs.writeFileSync(path.join(h.base, 'hosts.json'), JSON.stringify({ owner: process.pid, suffix: h.suffix, net: h.net, count: opts.count }));
    try {
      h.network();
      if (opts.engines !== false) {
        await Promise.all(h.hosts.map((x) => h.startEngine(x)));
        const tar = h.imageTar();
        await Promise.all(h.hosts.map((x) => importImage(x, tar)));
      }
    } catch (err) {
      await h.down();
      throw err;
    }
    return h;
  }

  /**
   * Starts a Shoal daemon on every host (docker runtime), `swarm init` on h1, the others join as
   * workers through the real CLI; resolves once all are Ready, with each node ID's host.
   */
  async swarmOfWorkers(): Promise<Map<string, TestHost>> {
    await Promise.all(this.hosts.map((h) => h.startShoal()));
    const m = this.host(1);
    m.dockerOk(['swarm', 'init', '--advertise-addr', m.ip]);
    const worker = m.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
    for (const h of this.hosts.slice(1)) h.dockerOk(['swarm', 'join', '--token', worker, `${m.ip}:2377`]);
    const byNode = new Map<string, TestHost>();
    for (const h of this.hosts) byNode.set(h.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim(), h);
    const n = this.hosts.length;
    await waitFor(() => parseTable(m.dockerOk(['node', 'ls'])).filter((r) => r.STATUS === 'Ready').length === n, 30_000, `${n} Ready nodes`);
    return byNode;
  }

  host(i: number): TestHost {
    const x = this.hosts[i - 1];
    if (!x) throw new Error(`no host h${i}`);
    return x;
  }

  private network(): void {
    sh(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${this.bridgeIp}/24`, 'dev', this.bridge]);
    sh(['ip', 'link', 'set', this.bridge, 'up']);
    // The root namespace's FORWARD policy may drop bridged traffic (br_netfilter): accept ours only.
    sh(['iptables', '-w', '-I', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']);
    this.fwdRule = true;
    for (const x of this.hosts) {
      const i = x.index;
      fs.mkdirSync(path.join(x.dir, 'exec'), { recursive: true });
      fs.mkdirSync(path.join(x.dir, 'data'), { recursive: true });
      const veth = `v${this.suffix}h${i}`;
      sh(['ip', 'netns', 'add', x.netns]);
      sh(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', `e${this.suffix}h${i}`]);
      sh(['ip', 'link', 'set', `e${this.suffix}h${i}`, 'netns', x.netns]);
      sh(['ip', '-n', x.netns, 'link', 'set', `e${this.suffix}h${i}`, 'name', 'eth0']);
      sh(['ip', '-n', x.netns, 'addr', 'add', `${x.ip}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', x.netns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', x.netns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', 'link', 'set', veth, 'master', this.bridge]);
      sh(['ip', 'link', 'set', veth, 'up']);
    }
  }

  private async startEngine(x: TestHost): Promise<void> {
    // own config file and trust key: the shared /etc/docker/key.json would give every engine one ID
    const cfg = path.join(x.dir, 'daemon.json');
    const daemonJson: Record<string, unknown> = { 'deprecated-key-path': path.join(x.dir, 'key.json') };
    if (this.opts.registryOnBridge) daemonJson['insecure-registries'] = [`${this.net}.0/24`];
    fs.writeFileSync(cfg, JSON.stringify(daemonJson));
    const log = fs.openSync(path.join(x.dir, 'dockerd.log'), 'a');
    const args = [
      ...x.launcher,
      'dockerd',
      '--config-file', cfg,
      '--data-root', path.join(x.dir, 'data'),
      '--exec-root', path.join(x.dir, 'exec'),
      '--pidfile', x.pidFile,
      '-H', x.engine,
      '--cgroup-parent', `/${x.netns}`,
      '--log-level', 'warn',
      ...(this.opts.dockerdArgs ?? ['--bridge=none', '--iptables=false', '--ip-forward=false', '--ip-masq=false']),
    ];
    const p = spawn(args[0]!, args.slice(1), { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    p.unref();
    if (p.pid) this.dockerdPids.add(p.pid); // nsenter execs dockerd: the same PID
    const timeoutMs = (this.opts.engineTimeoutS ?? 90) * 1000;
    try {
      await waitFor(() => x.engineDocker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).status === 0, timeoutMs, `${x.name}'s dockerd`, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${tail(path.join(x.dir, 'dockerd.log'))}`);
    }
    const pid = x.dockerdPid();
    if (pid) this.dockerdPids.add(pid);
  }

  /** A tar of a busybox-static rootfs (what scripts/ci-engine.sh builds), once for every host. */
  private imageTar(): string {
    const root = path.join(this.base, 'rootfs');
    for (const d of ['bin', 'tmp', 'etc', 'proc', 'sys', 'dev', 'www']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    fs.copyFileSync(BUSYBOX, path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    fs.writeFileSync(path.join(root, 'www', 'index.html'), 'shoal test page\n');
    const tar = path.join(this.base, 'busybox.tar');
    sh(['tar', '-C', root, '-cf', tar, '.']);
    return tar;
  }

  /** Stops and removes everything up() made; safe to call twice and after a partial up(). */
  async down(): Promise<void> {
    // 1. Shoal daemons (their tasks' containers go with the engines)
    await Promise.all(this.hosts.map((x) => x.shoal?.stop(10_000).catch(() => undefined)));
    // 2. engines: SIGTERM (they stop their containers and containerd), bounded, then SIGKILL what is left
    for (const x of this.hosts) {
      const pid = x.dockerdPid();
      if (pid) this.dockerdPids.add(pid);
    }
    for (const pid of this.dockerdPids) if (isAlive(pid, 'dockerd')) signal(pid, 'SIGTERM');
    await waitFor(() => [...this.dockerdPids].every((p) => !isAlive(p, 'dockerd')), 20_000, 'engines stopped').catch(() => undefined);
    const ours = new Set<number>([...this.dockerdPids].filter((p) => isAlive(p, 'dockerd')));
    // processes in our namespaces (containerd, shims, task processes) and in our containers' cgroups
    const inodes = new Set(this.hosts.map((x) => nsInode(x.netnsPath)).filter((i): i is number => i !== undefined));
    for (const d of safeReaddir('/proc')) {
      const pid = Number(d);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const ino = nsInode(`/proc/${pid}/ns/net`);
      if (ino !== undefined && inodes.has(ino)) ours.add(pid);
    }
    for (const x of this.hosts) for (const f of cgroupProcFiles(x.netns)) for (const p of readPids(f)) ours.add(p);
    for (const pid of ours) signal(pid, 'SIGKILL');
    await waitFor(() => [...ours].every((p) => !isAlive(p)), 10_000, 'leftover processes gone').catch(() => undefined);
    // 3. mounts below our base (overlay layers, the engines' netns and shm mounts), deepest first
    for (let round = 0; round < 3; round++) {
      const mps = mountsBelow(this.base);
      if (mps.length === 0) break;
      for (const m of mps) spawnSync('umount', ['-l', m]);
    }
    // 4. cgroups (depth first)
    for (const x of this.hosts) for (const ctl of safeReaddir('/sys/fs/cgroup')) rmdirTree(path.join('/sys/fs/cgroup', ctl, x.netns));
    // 5. network
    for (const x of this.hosts) {
      spawnSync('ip', ['link', 'del', `v${this.suffix}h${x.index}`]);
      spawnSync('ip', ['netns', 'del', x.netns]);
    }
    if (this.fwdRule) {
      spawnSync('iptables', ['-w', '-D', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']);
      this.fwdRule = false;
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
    // 6. files (the Shoal daemons' data dirs too)
    for (const x of this.hosts) if (x.shoal) fs.rmSync(x.shoal.dataDir, { recursive: true, force: true });
    if (process.env.SHOAL_KEEP_HOSTS !== '1') fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/** A random /24 in 10.240.0.0/12 that no interface or route here uses yet. */
function freeNet(): string {
  const used = spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout + spawnSync('ip', ['-4', 'addr'], { encoding: 'utf8' }).stdout;
  for (let tries = 0; tries < 64; tries++) {
    const net = `10.${240 + randomInt(16)}.${randomInt(256)}`;
    if (!used.includes(`${net}.`)) return net;
  }
  throw new Error('no free /24 found in 10.240.0.0/12');
}

function readText(f: string): string | undefined {
  try {
    return fs.readFileSync(f, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function importImage(x: TestHost, tar: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', ['-H', x.engine, 'import', '--change', 'CMD ["sh"]', '--change', 'ENV PATH=/bin', tar, HOSTS_IMAGE], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${x.name}: docker import failed (${code}): ${err}`));
    });
  });
}

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}${r.error ? String(r.error) : ''}`);
}

function isAlive(pid: number, comm?: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return comm === undefined || fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone already */
  }
}

function nsInode(p: string): number | undefined {
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
}

function safeReaddir(d: string): string[] {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
}

function cgroupProcFiles(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 3) return;
    const f = path.join(dir, 'cgroup.procs');
    if (fs.existsSync(f)) out.push(f);
    for (const e of safeReaddir(dir)) {
      const sub = path.join(dir, e);
      if (fs.statSync(sub, { throwIfNoEntry: false })?.isDirectory()) walk(sub, depth + 1);
    }
  };
  for (const ctl of safeReaddir('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', ctl, name);
    if (fs.existsSync(dir)) walk(dir, 0);
  }
  return out;
}

function readPids(f: string): number[] {
  try {
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .map(Number)
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function rmdirTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of safeReaddir(dir)) {
    const sub = path.join(dir, e);
    if (fs.statSync(sub, { throwIfNoEntry: false })?.isDirectory()) rmdirTree(sub);
  }
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy or gone */
  }
}

/** Mount points at or below `base`, deepest first (field 5 of /proc/self/mountinfo). */
function mountsBelow(base: string): string[] {
  const prefix = base.endsWith('/') ? base : base + '/';
  let info = '';
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const mps = new Set<string>();
  for (const line of info.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && (mp + '/').startsWith(prefix)) mps.add(mp.replace(/\\040/g, ' '));
  }
  return [...mps].sort((a, b) => b.length - a.length);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

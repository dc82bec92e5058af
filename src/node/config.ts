import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseHostPort } from '../network/dns/core/resolv-conf';
import { parseMetricsAddr } from '../metrics/server';
import { parseDashboardAddr } from '../dashboard/addr';
import { Command, CommanderError } from 'commander';

/**
 * TLS of the API on TCP hosts, decided as dockerd decides it: `--tlsverify` (or DOCKER_TLS_VERIFY set)
 * turns TLS on; TLS on without an explicit `--tlsverify=false` verifies clients too (dockerd ≥ 20.10:
 * `--tls` alone requires client certificates); `--tls --tlsverify=false` is server TLS only.
 */
export interface ApiTlsConfig {
  /** Clients must present a certificate signed by `caFile`. */
  verify: boolean;
  caFile: string;
  /** Empty when not given and the default file does not exist (dockerd resets it the same way). */
  certFile: string;
  keyFile: string;
}

/** The daemon contract of DESIGN.md §1. */
export interface DaemonConfig {
  dataDir: string;
  /** unix:///path.sock and/or tcp://ADDR:PORT */
  hosts: string[];
  runtime: 'docker' | 'process';
  /** unix:///var/run/docker.sock: where the docker runtime and non-swarm API paths go. */
  engine?: string;
  hostname: string;
  /** Used when swarm init/join name no advertise address and none can be detected. */
  defaultAdvertiseAddr?: string;
  logLevel: string;
  /** Raft tick length in ms (`--raft-tick-ms`; Docker's is 1000). Tests and benches use short ticks for fast elections. */
  raftTickMs?: number;
  /**
   * The longest a task with ingress-published ports is held before it is stopped, so every node's mesh
   * stops sending it new connections first (`--mesh-drain-ms`; default 5000, 0 turns it off). The hold ends
   * sooner, 250 ms after every node acknowledged the task's removal from its mesh.
   */
  meshDrainMs?: number;
  /**
   * Where the routing mesh listens for published ports (`--mesh-listen-addr`; default 0.0.0.0, every
   * address, as Docker). Several nodes on one machine's loopback each take their own address.
   */
  meshListenAddr?: string;
  /**
   * The nft program of the routing mesh's kernel path (default `nft`: on wherever the daemon is root and nf_tables
   * works; mesh.md "Kernel path"); `none` keeps every published port on the user-space proxy. A program that fails,
   * or a daemon that is not root, makes the mesh fall back to user space by itself (logged once).
   */
  meshNft?: string;
  /** TLS for tcp:// hosts; absent: plain HTTP (with dockerd's warnings). Unix sockets never use TLS. */
  tls?: ApiTlsConfig;
  /** `--tls` or `--tlsverify` was given explicitly (either value): no startup slow-down for plain TCP. */
  tlsExplicit: boolean;
  /**
   * A `host:port` where the node's embedded DNS server also answers every swarm network's names
   * (`--dns-listen-addr`; none by default). Process tasks are given it as SHOAL_DNS (docs/design/dns.md).
   */
  dnsListenAddr?: string;
  /** Upstream resolvers for names outside the swarm (`--dns-upstream host[:port]`, repeatable); default /etc/resolv.conf's. */
  dnsUpstreams?: string[];
  /** `host:port` where GET /metrics serves Prometheus text format (`--metrics-addr`, as dockerd's; none by default). */
  metricsAddr?: string;
  /** `host:port` where a manager serves the web dashboard (`--dashboard-addr`; none by default), with the API's TLS. */
  dashboardAddr?: string;
  /** Full garbage collections once the loop is quiet after the heap grew (`--heap-trim`, on by default; node/core/heap-trim.ts). */
  heapTrim: boolean;
  /**
   * How far V8's old generation may grow past what a full collection kept once that is ≥ 64 MiB, in percent
   * (`--heap-growth`, default 50: 1.5×; 0 leaves V8's own factor, up to 4×; node/core/heap-growth.ts).
   */
  heapGrowthPercent: number;
}

/** `--heap-growth`'s default: a large old generation grows to 1.5× what a full collection kept (node/core/heap-growth.ts). */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50;

export function defaultConfig(): DaemonConfig {
  return {
    dataDir: path.join(os.homedir(), '.shoal'),
    hosts: [],
    runtime: 'process',
    hostname: os.hostname(),
    logLevel: 'info',
    tlsExplicit: false,
    heapTrim: true,
    heapGrowthPercent: DEFAULT_HEAP_GROWTH_PERCENT,
  };
}

/** dockerd's default certificate directory: $DOCKER_CERT_PATH, else $DOCKER_CONFIG, else ~/.docker. */
function defaultCertDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
}

function parseBool(flag: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  // Go's strconv.ParseBool, which pflag uses
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new Error(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

function checkHostPort(flag: string, v: string): string {
  try {
    parseHostPort(v);
  } catch {
    throw new Error(`invalid ${flag}: want host[:port], got ${JSON.stringify(v)}`);
  }
  return v;
}

function milliseconds(flag: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`invalid ${flag}: want an integer number of milliseconds (${min}–${max})`);
    return n;
  };
}

/** `--heap-growth`: 0 (V8's own factor) or 10–300 % (V8 needs a factor above 1; past 4× is V8's own cap). */
function heapGrowth(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || (n !== 0 && (n < 10 || n > 300))) throw new Error('invalid --heap-growth: want 0 or an integer percent (10–300)');
  return n;
}

const repeat =
  <T>(parse: (v: string) => T) =>
  (v: string, prev: T[] | undefined): T[] => [...(prev ?? []), parse(v)];

/**
 * The `shoal daemon` command line (dockerd's spelling where one exists), on commander as the CLI's is:
 * every flag is declared here once, so `--help` lists them all. Parse errors throw (exitOverride).
 */
export function daemonCommand(): Command {
  return new Command('shoal daemon')
    .usage('[OPTIONS]')
    .description('Run a Shoal node: the Engine API, the swarm manager or worker role, and its tasks')
    .helpOption('-h, --help', 'Print usage')
    .option('--data-dir <string>', 'Root of persistent state (default ~/.shoal)')
    .option('--data-root <string>', 'Alias of --data-dir, as dockerd spells it')
    .option('-H, --host <list>', 'Daemon socket(s) to listen on: unix:///path or tcp://addr:port (repeatable)', repeat(String))
    .option('--runtime <string>', 'Task runtime: process or docker', (r) => {
      if (r !== 'docker' && r !== 'process') throw new Error(`invalid --runtime ${r}: want docker or process`);
      return r;
    }, 'process')
    .option('--engine <string>', 'Docker Engine for the docker runtime and non-swarm API paths (default unix:///var/run/docker.sock with --runtime docker)')
    .option('--hostname <string>', 'Node hostname (default the machine\'s)')
    .option('--swarm-default-advertise-addr <string>', 'Advertise address when none is given or detected')
    .option('--log-level <string>', 'Logging level', 'info')
    .option('--metrics-addr <string>', 'Set default address and port to serve the metrics api on', (v) => {
      parseMetricsAddr(v);
      return v;
    })
    .option('--dashboard-addr <string>', 'host:port where a manager serves the web dashboard (TLS as the API\'s)', (v) => {
      parseDashboardAddr(v);
      return v;
    })
    .option('--raft-tick-ms <int>', 'Raft tick length in milliseconds (default 1000)', milliseconds('--raft-tick-ms', 10, 60_000))
    .option('--mesh-listen-addr <string>', 'Address the routing mesh listens on for published ports (default "0.0.0.0")')
    .option('--mesh-drain-ms <int>', 'Hold a task with published ports at most this long before stopping it, until every node\'s mesh let go of it (default 5000)', milliseconds('--mesh-drain-ms', 0, 60_000))
    .option('--mesh-nft <string>', 'nft program of the routing mesh\'s kernel path (default "nft"; "none": the user-space proxy only)')
    .option('--dns-listen-addr <string>', 'host:port where the embedded DNS server also answers (process tasks get SHOAL_DNS)', (v) => checkHostPort('--dns-listen-addr', v))
    .option('--dns-upstream <list>', 'Resolvers for names outside the swarm, host[:port], repeatable (default from /etc/resolv.conf)', repeat((v) => checkHostPort('--dns-upstream', v)))
    // Boolean flags take a value only after `=` (`--tls=false`), as pflag's do.
    .option('--heap-trim [bool]', 'Run full garbage collections when the daemon goes quiet after its heap grew, to give the memory back (default true)', (v) => parseBool('--heap-trim', v))
    .option('--heap-growth <percent>', `How far the JavaScript heap may grow past what the last full garbage collection kept before the next, in percent, once that is 64 MiB or more; 0 for V8's own choice (default ${DEFAULT_HEAP_GROWTH_PERCENT})`, heapGrowth)
    .option('--tls [bool]', 'Use TLS; implied by --tlsverify', (v) => parseBool('--tls', v))
    .option('--tlsverify [bool]', 'Use TLS and verify the remote (default from DOCKER_TLS_VERIFY)', (v) => parseBool('--tlsverify', v))
    .option('--tlscacert <string>', 'Trust certs signed only by this CA (default "<cert dir>/ca.pem")')
    .option('--tlscert <string>', 'Path to TLS certificate file (default "<cert dir>/cert.pem")')
    .option('--tlskey <string>', 'Path to TLS key file (default "<cert dir>/key.pem")')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
}

interface DaemonFlags {
  dataDir?: string;
  dataRoot?: string;
  host?: string[];
  runtime: 'docker' | 'process';
  engine?: string;
  hostname?: string;
  swarmDefaultAdvertiseAddr?: string;
  logLevel: string;
  metricsAddr?: string;
  dashboardAddr?: string;
  raftTickMs?: number;
  meshListenAddr?: string;
  meshDrainMs?: number;
  meshNft?: string;
  dnsListenAddr?: string;
  dnsUpstream?: string[];
  heapTrim?: boolean;
  heapGrowth?: number;
  /** `true` when given bare: commander's value for an optional argument left out. */
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** `shoal daemon --help`: the usage commander builds from daemonCommand(). */
export function daemonUsage(): string {
  return daemonCommand().helpInformation();
}

/** Parses `shoal daemon` flags. Throws on unknown flags and bad values; UsageRequested on --help. */
export function parseDaemonArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const cmd = daemonCommand();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && e.code === 'commander.helpDisplayed') throw new UsageRequested();
    if (e instanceof CommanderError) throw new Error(e.message.replace(/^error: /, ''));
    throw e;
  }
  const f = cmd.opts<DaemonFlags>();
  const cfg = defaultConfig();
  const dataDir = f.dataDir ?? f.dataRoot;
  if (dataDir !== undefined) cfg.dataDir = path.resolve(dataDir);
  cfg.hosts = f.host ?? [`unix://${path.join(cfg.dataDir, 'shoal.sock')}`];
  cfg.runtime = f.runtime;
  cfg.engine = f.engine ?? (f.runtime === 'docker' ? 'unix:///var/run/docker.sock' : undefined);
  if (f.hostname !== undefined) cfg.hostname = f.hostname;
  cfg.defaultAdvertiseAddr = f.swarmDefaultAdvertiseAddr;
  cfg.logLevel = f.logLevel;
  cfg.metricsAddr = f.metricsAddr;
  cfg.dashboardAddr = f.dashboardAddr;
  cfg.raftTickMs = f.raftTickMs;
  cfg.heapTrim = f.heapTrim ?? true;
  cfg.heapGrowthPercent = f.heapGrowth ?? DEFAULT_HEAP_GROWTH_PERCENT;
  cfg.meshListenAddr = f.meshListenAddr;
  cfg.meshDrainMs = f.meshDrainMs;
  cfg.meshNft = f.meshNft;
  cfg.dnsListenAddr = f.dnsListenAddr;
  cfg.dnsUpstreams = f.dnsUpstream;
  cfg.tlsExplicit = f.tls !== undefined || f.tlsverify !== undefined;
  const files = {
    caFile: f.tlscacert === undefined ? undefined : path.resolve(f.tlscacert),
    certFile: f.tlscert === undefined ? undefined : path.resolve(f.tlscert),
    keyFile: f.tlskey === undefined ? undefined : path.resolve(f.tlskey),
  };
  cfg.tls = decideTls(f.tls, f.tlsverify, !!env.DOCKER_TLS_VERIFY, defaultCertDir(env), files);
  return cfg;
}

/** `--help`: the caller prints daemonUsage() and exits 0. */
export class UsageRequested extends Error {
  constructor() {
    super('usage requested');
  }
}

/** dockerd's setDefaultOptions: which of --tls/--tlsverify (and DOCKER_TLS_VERIFY) means what. */
function decideTls(
  tlsFlag: boolean | undefined,
  verifyFlag: boolean | undefined,
  verifyEnv: boolean,
  certDir: string,
  files: { caFile?: string; certFile?: string; keyFile?: string },
): ApiTlsConfig | undefined {
  // any --tlsverify (even =false), or DOCKER_TLS_VERIFY, turns TLS on
  const on = verifyFlag !== undefined || verifyEnv || tlsFlag === true;
  if (!on) return undefined;
  const verify = verifyFlag ?? true;
  const orDefault = (given: string | undefined, name: string): string => {
    if (given !== undefined) return given;
    const def = path.join(certDir, name);
    return fs.existsSync(def) ? def : '';
  };
  return {
    verify,
    caFile: files.caFile ?? path.join(certDir, 'ca.pem'),
    certFile: orDefault(files.certFile, 'cert.pem'),
    keyFile: orDefault(files.keyFile, 'key.pem'),
  };
}

/** The PEM material of an ApiTlsConfig, read at start; errors name the file, as dockerd's do. */
export interface ApiTlsMaterial {
  verify: boolean;
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export function loadApiTls(t: ApiTlsConfig): ApiTlsMaterial {
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`invalid TLS configuration: could not read ${what} "${file}": ${(e as Error).message}`);
    }
  };
  if (!t.certFile || !t.keyFile) throw new Error('invalid TLS configuration: a server certificate and key are required (--tlscert, --tlskey)');
  const m: ApiTlsMaterial = { verify: t.verify, cert: read(t.certFile, 'X509 certificate'), key: read(t.keyFile, 'X509 key') };
  // dockerd loads the CA only when it verifies clients
  if (t.verify) m.ca = read(t.caFile, 'CA certificate');
  return m;
}

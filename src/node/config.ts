import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseHostPort } from '../network/dns';
import { parseMetricsAddr } from '../metrics/server';

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
  /** TEST FAULT INJECTOR: a JSON file naming addresses this daemon's RPC traffic is silently dropped to (src/rpc/fault.ts). */
  testFaultFile?: string;
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
   * The nft program of the routing mesh's kernel path (`--mesh-nft PATH`; unset: `nft` on PATH); `none` keeps every
   * published port on the user-space proxy. A program that fails, or a daemon that is not root, makes the mesh fall
   * back to user space (logged once).
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
}

export function defaultConfig(): DaemonConfig {
  return {
    dataDir: path.join(os.homedir(), '.shoal'),
    hosts: [],
    runtime: 'process',
    hostname: os.hostname(),
    logLevel: 'info',
    tlsExplicit: false,
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

/** The flags `shoal daemon --help` lists. */
export const DAEMON_USAGE = `Usage: shoal daemon [OPTIONS]

Options:
      --data-dir string                        Root of persistent state (default ~/.shoal; alias --data-root)
  -H, --host list                              Daemon socket(s) to listen on: unix:///path or tcp://addr:port
      --runtime string                         Task runtime: process or docker (default "process")
      --engine string                          Docker Engine for the docker runtime and non-swarm API paths
      --hostname string                        Node hostname
      --swarm-default-advertise-addr string    Advertise address when none is given or detected
      --log-level string                       Logging level (default "info")
      --metrics-addr string                    Set default address and port to serve the metrics api on
      --raft-tick-ms int                       Raft tick length in milliseconds (default 1000)
      --mesh-listen-addr string                Address the routing mesh listens on for published ports (default "0.0.0.0")
      --mesh-drain-ms int                      Hold a task with published ports at most this long before stopping it, until every node's mesh let go of it (default 5000)
      --mesh-nft string                        nft program of the routing mesh's kernel path ("none" turns it off; default "nft")
      --dns-listen-addr string                 host:port where the embedded DNS server also answers (process tasks get SHOAL_DNS)
      --dns-upstream list                      Resolvers for names outside the swarm, host[:port] (default from /etc/resolv.conf)
      --tls                                    Use TLS; implied by --tlsverify
      --tlsverify                              Use TLS and verify the remote (default from DOCKER_TLS_VERIFY)
      --tlscacert string                       Trust certs signed only by this CA (default "<cert dir>/ca.pem")
      --tlscert string                         Path to TLS certificate file (default "<cert dir>/cert.pem")
      --tlskey string                          Path to TLS key file (default "<cert dir>/key.pem")
      --help                                   Print usage
`;

function checkHostPort(flag: string, v: string): string {
  try {
    parseHostPort(v);
  } catch {
    throw new Error(`invalid ${flag}: want host[:port], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses `shoal daemon` flags (dockerd's spelling where one exists). Throws on unknown flags. */
export function parseDaemonArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const cfg = defaultConfig();
  const certDir = defaultCertDir(env);
  let tls: boolean | undefined;
  let tlsVerify: boolean | undefined;
  const files: { caFile?: string; certFile?: string; keyFile?: string } = {};
  const take = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`flag needs an argument: ${flag}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const val = (): string => {
      if (inline !== undefined) return inline;
      const v = take(i, a);
      i++;
      return v;
    };
    switch (a) {
      case '--data-dir':
      case '--data-root':
        cfg.dataDir = path.resolve(val());
        break;
      case '-H':
      case '--host':
        cfg.hosts.push(val());
        break;
      case '--runtime': {
        const r = val();
        if (r !== 'docker' && r !== 'process') throw new Error(`invalid --runtime ${r}: want docker or process`);
        cfg.runtime = r;
        break;
      }
      case '--engine':
        cfg.engine = val();
        break;
      case '--hostname':
        cfg.hostname = val();
        break;
      case '--swarm-default-advertise-addr':
        cfg.defaultAdvertiseAddr = val();
        break;
      case '--test-fault-file':
        cfg.testFaultFile = path.resolve(val());
        break;
      case '--raft-tick-ms': {
        const v = Number(val());
        if (!Number.isInteger(v) || v < 10 || v > 60_000) throw new Error('invalid --raft-tick-ms: want an integer number of milliseconds (10–60000)');
        cfg.raftTickMs = v;
        break;
      }
      case '--mesh-drain-ms': {
        const v = Number(val());
        if (!Number.isInteger(v) || v < 0 || v > 60_000) throw new Error('invalid --mesh-drain-ms: want an integer number of milliseconds (0–60000)');
        cfg.meshDrainMs = v;
        break;
      }
      case '--mesh-listen-addr':
        cfg.meshListenAddr = val();
        break;
      case '--mesh-nft':
        cfg.meshNft = val();
        break;
      case '--dns-listen-addr':
        cfg.dnsListenAddr = checkHostPort(a, val());
        break;
      case '--dns-upstream':
        cfg.dnsUpstreams = [...(cfg.dnsUpstreams ?? []), checkHostPort(a, val())];
        break;
      case '--log-level':
        cfg.logLevel = val();
        break;
      case '--metrics-addr': {
        const v = val();
        parseMetricsAddr(v);
        cfg.metricsAddr = v;
        break;
      }
      // Boolean flags take a value only after `=`, as pflag's do.
      case '--tls':
        tls = parseBool(a, inline);
        break;
      case '--tlsverify':
        tlsVerify = parseBool(a, inline);
        break;
      case '--tlscacert':
        files.caFile = path.resolve(val());
        break;
      case '--tlscert':
        files.certFile = path.resolve(val());
        break;
      case '--tlskey':
        files.keyFile = path.resolve(val());
        break;
      case '-h':
      case '--help':
        throw new UsageRequested();
      default:
        throw new Error(`unknown flag: ${a}`);
    }
  }
  cfg.tlsExplicit = tls !== undefined || tlsVerify !== undefined;
  cfg.tls = decideTls(tls, tlsVerify, !!env.DOCKER_TLS_VERIFY, certDir, files);
  if (cfg.hosts.length === 0) cfg.hosts.push(`unix://${path.join(cfg.dataDir, 'shoal.sock')}`);
  if (cfg.runtime === 'docker' && !cfg.engine) cfg.engine = 'unix:///var/run/docker.sock';
  return cfg;
}

/** `--help`: the caller prints DAEMON_USAGE and exits 0. */
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

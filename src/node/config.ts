import os from 'node:os';
import path from 'node:path';

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
   * How long a task with ingress-published ports is held before it is stopped, so every node's mesh
   * stops sending it new connections first (`--mesh-drain-ms`; default 1000, 0 turns it off).
   */
  meshDrainMs?: number;
  /**
   * Where the routing mesh listens for published ports (`--mesh-listen-addr`; default 0.0.0.0, every
   * address, as Docker). Several nodes on one machine's loopback each take their own address.
   */
  meshListenAddr?: string;
}

export function defaultConfig(): DaemonConfig {
  return {
    dataDir: path.join(os.homedir(), '.shoal'),
    hosts: [],
    runtime: 'process',
    hostname: os.hostname(),
    logLevel: 'info',
  };
}

/** Parses `shoal daemon` flags (dockerd's spelling where one exists). Throws on unknown flags. */
export function parseDaemonArgs(argv: string[]): DaemonConfig {
  const cfg = defaultConfig();
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
      case '--log-level':
        cfg.logLevel = val();
        break;
      default:
        throw new Error(`unknown flag: ${a}`);
    }
  }
  if (cfg.hosts.length === 0) cfg.hosts.push(`unix://${path.join(cfg.dataDir, 'shoal.sock')}`);
  if (cfg.runtime === 'docker' && !cfg.engine) cfg.engine = 'unix:///var/run/docker.sock';
  return cfg;
}

import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurableSync } from '../sys/durable-file';
import type { SwarmState } from './core/roles-machine';

export type { SwarmState } from './core/roles-machine';

const file = (dataDir: string) => path.join(dataDir, 'swarm.json');

export function loadSwarmState(dataDir: string): SwarmState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file(dataDir), 'utf8')) as SwarmState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Written durably (sys/durable-file) so a crash never leaves half a file. */
export function saveSwarmState(dataDir: string, s: SwarmState): void {
  writeFileDurableSync(file(dataDir), JSON.stringify(s, null, 1), { mode: 0o600 });
}

/** Everything the node keeps about its swarm: state, manager log, certificates, assigned tasks (swarm leave). */
export function clearSwarmState(dataDir: string): void {
  fs.rmSync(file(dataDir), { force: true });
  clearManagerData(dataDir);
  fs.rmSync(path.join(dataDir, 'certificates'), { recursive: true, force: true });
  fs.rmSync(path.join(dataDir, 'worker'), { recursive: true, force: true });
}

/** The manager's directory (durable log, Raft settings): a node no longer a manager keeps none of it. */
export function clearManagerData(dataDir: string): void {
  fs.rmSync(path.join(dataDir, 'manager'), { recursive: true, force: true });
}

import type { Executor } from '../agent/executor/types';
import { DockerExecutor } from '../agent/executor/docker';
import { ProcessExecutor } from '../agent/executor/process';
import type { DaemonConfig } from './config';

export function createExecutor(cfg: DaemonConfig, nodeId: () => string | undefined): Executor {
  if (cfg.runtime === 'docker') return new DockerExecutor({ engine: cfg.engine!, hostname: cfg.hostname, nodeId, dataDir: cfg.dataDir });
  return new ProcessExecutor({ dataDir: cfg.dataDir, hostname: cfg.hostname, ...(cfg.dnsListenAddr ? { dns: cfg.dnsListenAddr } : {}) });
}

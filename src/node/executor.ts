import type { Executor } from '../agent/executor/types';
import { DockerExecutor } from '../agent/executor/docker';
import { ProcessExecutor } from '../agent/executor/process';
import type { Logger } from 'pino';
import type { DaemonConfig } from './config';

export function createExecutor(cfg: DaemonConfig, nodeId: () => string | undefined, logger: Logger): Executor {
  if (cfg.runtime === 'docker') {
    return new DockerExecutor({
      engine: cfg.engine!,
      hostname: cfg.hostname,
      nodeId,
      dataDir: cfg.dataDir,
      // Docker's words ("pulling image failed"); the reference only, never the credentials
      onPullFailure: (ref, err) => logger.error({ image: ref, err: err.message }, 'pulling image failed'),
    });
  }
  return new ProcessExecutor({ dataDir: cfg.dataDir, hostname: cfg.hostname, ...(cfg.dnsListenAddr ? { dns: cfg.dnsListenAddr } : {}) });
}

import type { Executor } from '../agent/executor/types';
import type { Logger } from 'pino';
import type { DaemonConfig } from './config';

/**
 * The runtime's executor. Each is loaded when chosen: the docker executor brings the engine client
 * and its HTTP pool, which a process-runtime daemon never uses (docs/design/performance.md, "Memory
 * (issue 16)").
 */
export async function createExecutor(cfg: DaemonConfig, nodeId: () => string | undefined, logger: Logger): Promise<Executor> {
  if (cfg.runtime === 'docker') {
    const { DockerExecutor } = await import('../agent/executor/docker');
    return new DockerExecutor({
      engine: cfg.engine!,
      hostname: cfg.hostname,
      nodeId,
      dataDir: cfg.dataDir,
      // Docker's words ("pulling image failed"); the reference only, never the credentials
      onPullFailure: (ref, err) => logger.error({ image: ref, err: err.message }, 'pulling image failed'),
    });
  }
  const { ProcessExecutor } = await import('../agent/executor/process');
  return new ProcessExecutor({ dataDir: cfg.dataDir, hostname: cfg.hostname, ...(cfg.dnsListenAddr ? { dns: cfg.dnsListenAddr } : {}) });
}

import { daemonUsage, parseDaemonArgs, UsageRequested } from './config';
import type { Daemon as DaemonType } from './daemon';
import { setYoungGeneration } from './young-generation';

/** `shoal daemon …`: runs a node until SIGTERM/SIGINT, then stops cleanly (tasks keep running). */
export async function runDaemon(argv: string[]): Promise<void> {
  let cfg;
  try {
    cfg = parseDaemonArgs(argv);
  } catch (e) {
    if (e instanceof UsageRequested) {
      process.stdout.write(daemonUsage());
      process.exit(0);
    }
    process.stderr.write(`shoal daemon: ${(e as Error).message}\n`);
    process.exit(125);
  }
  // before the daemon's code is loaded: loading it grows the young generation (core/young-generation.ts)
  if (cfg.heapTrim) setYoungGeneration('held');
  const { Daemon } = require('./daemon') as { Daemon: typeof DaemonType };
  const daemon = new Daemon(cfg);
  let stopping = false;
  const stop = (sig: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    daemon.logger.info({ sig }, 'stopping');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    daemon.stop().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A throw nobody caught means some loop or callback is gone and the daemon's state is no longer
  // known: log the stack and stop cleanly (Raft state is on disk; tasks keep running in their
  // runtime) so a supervisor restarts a whole daemon, rather than run on with a piece missing.
  // Loops that can go on after a failure catch it themselves (sys/loop-guard, StoreLoop).
  process.on('unhandledRejection', (e) => {
    daemon.logger.fatal({ err: e }, 'unhandled rejection: stopping the daemon');
    stop('unhandledRejection', 1);
  });
  daemon.onFatal = (e) => {
    daemon.logger.fatal({ err: e }, 'fatal error: stopping the daemon');
    stop('fatal', 1);
  };
  process.on('uncaughtException', (e) => {
    daemon.logger.fatal({ err: e }, 'uncaught exception: stopping the daemon');
    stop('uncaughtException', 1);
  });
  try {
    await daemon.start();
  } catch (e) {
    daemon.logger.fatal({ err: e }, 'daemon failed to start');
    process.exit(1);
  }
}

if (require.main === module) void runDaemon(process.argv.slice(2));

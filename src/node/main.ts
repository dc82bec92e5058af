import { DAEMON_USAGE, parseDaemonArgs, UsageRequested } from './config';
import { Daemon } from './daemon';

/** `shoal daemon …`: runs a node until SIGTERM/SIGINT, then stops cleanly (tasks keep running). */
export async function runDaemon(argv: string[]): Promise<void> {
  let cfg;
  try {
    cfg = parseDaemonArgs(argv);
  } catch (e) {
    if (e instanceof UsageRequested) {
      process.stdout.write(DAEMON_USAGE);
      process.exit(0);
    }
    process.stderr.write(`shoal daemon: ${(e as Error).message}\n`);
    process.exit(125);
  }
  const daemon = new Daemon(cfg);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    daemon.logger.info({ sig }, 'stopping');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    daemon.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (e) => daemon.logger.error({ err: e }, 'unhandled rejection'));
  try {
    await daemon.start();
  } catch (e) {
    daemon.logger.fatal({ err: e }, 'daemon failed to start');
    process.exit(1);
  }
}

if (require.main === module) void runDaemon(process.argv.slice(2));

// The shoal CLI: `shoal <noun> <verb>`, a client of the Docker Engine API only (DESIGN.md §7).
import { Command, CommanderError } from 'commander';
import { ApiClient, CliError, DaemonError, defaultHost, parseHost } from './client';
import type { Ctx, Out } from './context';
import * as completion from './commands/completion';
import * as network from './commands/network';
import * as node from './commands/node';
import type { Runner } from './commands/runner';
import * as service from './commands/service';
import * as stack from './commands/stack';
import * as secret from './commands/secret';
import * as swarm from './commands/swarm';
import * as system from './commands/system';

export interface MainIo {
  out?: Out;
  err?: Out;
  env?: NodeJS.ProcessEnv;
}

/** Builds the command tree; `makeCtx` is called once per command with the global options. */
export function buildProgram(makeCtx: (host: string) => Ctx, io: { out: Out; err: Out }): Command {
  const program = new Command('shoal');
  program
    .description('Docker Swarm mode, rebuilt in TypeScript: the client')
    .option('-H, --host <host>', 'Daemon socket to connect to (unix:///path or tcp://host:port)')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .showHelpAfterError(false);
  const run: Runner =
    (fn) =>
    async (...args) => {
      const host = (program.opts() as { host?: string }).host;
      await fn(makeCtx(host ?? ''), ...args);
    };
  system.register(program, run);
  swarm.register(program, run);
  node.register(program, run);
  service.register(program, run);
  network.register(program, run);
  secret.register(program, run);
  stack.register(program, run);
  completion.register(program, run);
  const exitOverrideAll = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });
    c.commands.forEach(exitOverrideAll);
  };
  program.commands.forEach(exitOverrideAll);
  return program;
}

/** Runs one command; returns the exit code (also set on process.exitCode when run from bin/). */
export async function run(argv: string[], io: MainIo = {}): Promise<number> {
  const out = io.out ?? { write: (s: string) => void process.stdout.write(s) };
  const err = io.err ?? { write: (s: string) => void process.stderr.write(s) };
  const env = io.env ?? process.env;
  const clients: ApiClient[] = [];
  const makeCtx = (host: string): Ctx => ({
    api: clients[clients.push(new ApiClient(parseHost(host || defaultHost(env)))) - 1]!,
    out,
    err,
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...(!io.out && process.stdout.isTTY ? { ttyWidth: process.stdout.columns || 80 } : {}),
  });
  const program = buildProgram(makeCtx, { out, err });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      return e.exitCode || 1;
    }
    if (e instanceof DaemonError) err.write(`Error response from daemon: ${e.message}\n`);
    else if (e instanceof CliError) err.write(e.status === -1 ? `${e.message}\n` : `Error: ${e.message}\n`);
    else err.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    for (const c of clients) c.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const code = await run(argv);
  process.exitCode = code;
}

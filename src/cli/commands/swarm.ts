// shoal swarm init | join | join-token | leave
import type { Command } from 'commander';
import { CliError } from '../client';
import type { Ctx } from '../context';
import { getInfo, getNode } from '../context';
import { joinAddr, joinTokenText, swarmInitText } from '../format/swarm';
import type { Runner } from './runner';

interface SwarmObj {
  ID: string;
  Version: { Index: number };
  Spec: unknown;
  JoinTokens: { Worker: string; Manager: string };
}

async function managerAddr(ctx: Ctx, nodeId: string): Promise<string> {
  const info = await getInfo(ctx);
  let addr: string | undefined;
  try {
    addr = (await getNode(ctx, nodeId || info.Swarm?.NodeID || 'self')).ManagerStatus?.Addr;
  } catch {
    /* fall back to /info */
  }
  return joinAddr(addr ?? info.Swarm?.RemoteManagers?.find((m) => m.NodeID === info.Swarm?.NodeID)?.Addr, info.Swarm?.NodeAddr ?? '');
}

export async function init(ctx: Ctx, o: { advertiseAddr?: string; listenAddr: string; dataPathAddr?: string; forceNewCluster?: boolean }): Promise<void> {
  const nodeId = await ctx.api.post<string>('/swarm/init', {
    ListenAddr: o.listenAddr,
    AdvertiseAddr: o.advertiseAddr ?? '',
    DataPathAddr: o.dataPathAddr ?? '',
    ForceNewCluster: !!o.forceNewCluster,
    Spec: {},
  });
  const sw = await ctx.api.get<SwarmObj>('/swarm');
  ctx.out.write(swarmInitText(nodeId, sw.JoinTokens.Worker, await managerAddr(ctx, nodeId)));
}

export async function join(ctx: Ctx, remote: string, o: { token: string; advertiseAddr?: string; listenAddr: string }): Promise<void> {
  await ctx.api.post('/swarm/join', { ListenAddr: o.listenAddr, AdvertiseAddr: o.advertiseAddr ?? '', RemoteAddrs: [remote], JoinToken: o.token });
  const info = await getInfo(ctx);
  ctx.out.write(info.Swarm?.ControlAvailable ? 'This node joined a swarm as a manager.\n' : 'This node joined a swarm as a worker.\n');
}

export async function joinToken(ctx: Ctx, role: string, o: { quiet?: boolean; rotate?: boolean }): Promise<void> {
  if (role !== 'worker' && role !== 'manager') throw new CliError('unknown role ' + role);
  let sw = await ctx.api.get<SwarmObj>('/swarm');
  if (o.rotate) {
    await ctx.api.post('/swarm/update', sw.Spec, {
      version: sw.Version.Index,
      rotateWorkerToken: role === 'worker' ? 'true' : 'false',
      rotateManagerToken: role === 'manager' ? 'true' : 'false',
    });
    if (!o.quiet) ctx.out.write(`Successfully rotated ${role} join token.\n\n`);
    sw = await ctx.api.get<SwarmObj>('/swarm');
  }
  const token = role === 'worker' ? sw.JoinTokens.Worker : sw.JoinTokens.Manager;
  if (o.quiet) {
    ctx.out.write(token + '\n');
    return;
  }
  ctx.out.write(joinTokenText(role, token, await managerAddr(ctx, '')));
}

export async function leave(ctx: Ctx, o: { force?: boolean }): Promise<void> {
  await ctx.api.post('/swarm/leave', undefined, { force: o.force ? 'true' : 'false' });
  ctx.out.write('Node left the swarm.\n');
}

export function register(program: Command, run: Runner): void {
  const swarm = program.command('swarm').description('Manage Swarm');
  swarm
    .command('init')
    .description('Initialize a swarm')
    .option('--advertise-addr <addr>', 'Advertised address (format: "<ip|interface>[:port]")')
    .option('--listen-addr <addr>', 'Listen address (format: "<ip|interface>[:port]")', '0.0.0.0:2377')
    .option('--data-path-addr <addr>', 'Address or interface to use for data path traffic')
    .option('--force-new-cluster', 'Force create a new cluster from current state')
    .action(run((ctx, o: { advertiseAddr?: string; listenAddr: string }) => init(ctx, o)));
  swarm
    .command('join')
    .description('Join a swarm as a node and/or manager')
    .argument('<host:port>')
    .requiredOption('--token <token>', 'Token for entry into the swarm')
    .option('--advertise-addr <addr>', 'Advertised address (format: "<ip|interface>[:port]")')
    .option('--listen-addr <addr>', 'Listen address (format: "<ip|interface>[:port]")', '0.0.0.0:2377')
    .action(run((ctx, remote: string, o: { token: string; advertiseAddr?: string; listenAddr: string }) => join(ctx, remote, o)));
  swarm
    .command('join-token')
    .description('Manage join tokens')
    .argument('<worker|manager>')
    .option('-q, --quiet', 'Only display token')
    .option('--rotate', 'Rotate join token')
    .action(run((ctx, role: string, o: { quiet?: boolean; rotate?: boolean }) => joinToken(ctx, role, o)));
  swarm
    .command('leave')
    .description('Leave the swarm')
    .option('-f, --force', 'Force this node to leave the swarm, ignoring warnings')
    .action(run((ctx, o: { force?: boolean }) => leave(ctx, o)));
}

// shoal version, shoal info.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { API_VERSION } from '../client';
import type { Ctx, Info } from '../context';
import { getInfo } from '../context';
import { bytesSize } from '../format/units';
import type { Runner } from './runner';

export function cliVersion(): string {
  for (const p of [path.join(__dirname, '..', '..', '..', '..', 'package.json'), path.join(__dirname, '..', '..', '..', 'package.json')]) {
    try {
      const j = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (j.name === 'shoal' && j.version) return j.version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}

interface VersionInfo {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  BuildTime?: string;
}

/** Two-column "key: value" block aligned like the docker CLI's version template. */
function block(title: string, indent: string, rows: [string, string][], width: number): string {
  let s = `${title}\n`;
  for (const [k, v] of rows) s += `${indent}${(k + ':').padEnd(width)}${v}\n`;
  return s;
}

export async function version(ctx: Ctx): Promise<void> {
  const client = block(
    'Client:',
    ' ',
    [
      ['Version', cliVersion()],
      ['API version', API_VERSION],
      ['Node version', process.version],
      ['OS/Arch', `${process.platform}/${process.arch}`],
    ],
    19,
  );
  ctx.out.write(client);
  const v = await ctx.api.get<VersionInfo>('/version');
  ctx.out.write(
    '\n' +
      block(
        'Server: Shoal',
        '  ',
        [
          ['Version', v.Version ?? ''],
          ['API version', `${v.ApiVersion ?? ''}${v.MinAPIVersion ? ` (minimum version ${v.MinAPIVersion})` : ''}`],
          ['OS/Arch', `${v.Os ?? ''}/${v.Arch ?? ''}`],
          ...(v.KernelVersion ? ([['Kernel version', v.KernelVersion]] as [string, string][]) : []),
        ],
        18,
      ).replace('Server: Shoal\n', 'Server: Shoal\n Engine:\n'),
  );
}

export function infoText(info: Info): string {
  let s = 'Server:\n';
  s += ` Containers: ${info.Containers ?? 0}\n`;
  s += `  Running: ${info.ContainersRunning ?? 0}\n  Paused: ${info.ContainersPaused ?? 0}\n  Stopped: ${info.ContainersStopped ?? 0}\n`;
  s += ` Images: ${info.Images ?? 0}\n`;
  s += ` Server Version: ${info.ServerVersion ?? ''}\n`;
  const sw = info.Swarm ?? {};
  s += ` Swarm: ${sw.LocalNodeState || 'inactive'}\n`;
  if (sw.LocalNodeState && sw.LocalNodeState !== 'inactive') {
    s += `  NodeID: ${sw.NodeID ?? ''}\n`;
    if (sw.Error) s += `  Error: ${sw.Error}\n`;
    s += `  Is Manager: ${sw.ControlAvailable ? 'true' : 'false'}\n`;
    if (sw.ControlAvailable) {
      s += `  ClusterID: ${sw.Cluster?.ID ?? ''}\n  Managers: ${sw.Managers ?? 0}\n  Nodes: ${sw.Nodes ?? 0}\n`;
    }
    s += `  Node Address: ${sw.NodeAddr ?? ''}\n`;
    if (sw.RemoteManagers && sw.RemoteManagers.length) {
      s += '  Manager Addresses:\n';
      for (const m of [...sw.RemoteManagers].sort((a, b) => (a.Addr < b.Addr ? -1 : 1))) s += `   ${m.Addr}\n`;
    }
  }
  if (info.KernelVersion) s += ` Kernel Version: ${info.KernelVersion}\n`;
  if (info.OperatingSystem) s += ` Operating System: ${info.OperatingSystem}\n`;
  if (info.OSType) s += ` OSType: ${info.OSType}\n`;
  if (info.Architecture) s += ` Architecture: ${info.Architecture}\n`;
  if (info.NCPU !== undefined) s += ` CPUs: ${info.NCPU}\n`;
  if (info.MemTotal !== undefined) s += ` Total Memory: ${bytesSize(info.MemTotal)}\n`;
  if (info.Name) s += ` Name: ${info.Name}\n`;
  if (info.ID) s += ` ID: ${info.ID}\n`;
  if (info.DockerRootDir) s += ` Docker Root Dir: ${info.DockerRootDir}\n`;
  return s;
}

export async function info(ctx: Ctx): Promise<void> {
  ctx.out.write(`Client:\n Version:    ${cliVersion()}\n Context:    default\n\n`);
  ctx.out.write(infoText(await getInfo(ctx)));
}

export function register(program: Command, run: Runner): void {
  program.command('version').description('Show the Shoal version information').action(run((ctx) => version(ctx)));
  program.command('info').description('Display system-wide information').action(run((ctx) => info(ctx)));
}

// `service inspect --pretty`, in the docker CLI's layout (tab-separated key/value lines).
import type { UpdateConfig } from '../../types';
import { formatGoDuration } from './duration';
import type { ApiService } from './services';
import { bytesSize } from './units';

function updateBlock(title: string, u: UpdateConfig | undefined, rollback: boolean): string {
  if (!u) return '';
  let s = `${title}:\n Parallelism:\t${u.Parallelism ?? 0}\n`;
  if (u.Delay) s += ` Delay:\t\t${formatGoDuration(u.Delay)}\n`;
  s += ` On failure:\t${u.FailureAction ?? 'pause'}\n`;
  s += ` Monitoring Period: ${formatGoDuration(u.Monitor ?? 0)}\n`;
  s += ` Max failure ratio: ${u.MaxFailureRatio ?? 0}\n`;
  s += ` ${rollback ? 'Rollback' : 'Update'} order:      ${u.Order ?? 'stop-first'}\n`;
  return s;
}

const cpus = (n: number) => String(n / 1e9);

export function prettyService(s: ApiService): string {
  const sp = s.Spec;
  const tt = sp.TaskTemplate;
  const cs = tt.ContainerSpec;
  let o = `\nID:\t\t${s.ID}\nName:\t\t${sp.Name}\n`;
  const labels = Object.entries(sp.Labels ?? {});
  if (labels.length) {
    o += 'Labels:\n';
    for (const [k, v] of labels.sort()) o += ` ${k}=${v}\n`;
  }
  if (sp.Mode.Global) o += 'Service Mode:\tGlobal\n';
  else o += `Service Mode:\tReplicated\n Replicas:\t${sp.Mode.Replicated?.Replicas ?? 1}\n`;
  if (s.UpdateStatus) {
    o += `UpdateStatus:\n State:\t\t${s.UpdateStatus.State}\n`;
    if (s.UpdateStatus.StartedAt) o += ` Started:\t${s.UpdateStatus.StartedAt}\n`;
    if (s.UpdateStatus.CompletedAt) o += ` Completed:\t${s.UpdateStatus.CompletedAt}\n`;
    o += ` Message:\t${s.UpdateStatus.Message ?? ''}\n`;
  }
  o += 'Placement:\n';
  if (tt.Placement?.Constraints?.length) o += ` Constraints:\t[${tt.Placement.Constraints.join(' ')}]\n`;
  if (tt.Placement?.MaxReplicas) o += ` Max Replicas Per Node:   ${tt.Placement.MaxReplicas}\n`;
  o += updateBlock('UpdateConfig', sp.UpdateConfig, false);
  o += updateBlock('RollbackConfig', sp.RollbackConfig, true);
  o += `ContainerSpec:\n Image:\t\t${cs?.Image ?? ''}\n`;
  if (cs?.Command?.length) o += ` Command:\t${cs.Command.join(' ')}\n`;
  if (cs?.Args?.length) o += ` Args:\t\t${cs.Args.join(' ')}\n`;
  if (cs?.Env?.length) o += ` Env:\t\t${cs.Env.join(' ')}\n`;
  if (cs?.Dir) o += ` Dir:\t\t${cs.Dir}\n`;
  if (cs?.User) o += ` User: ${cs.User}\n`;
  const r = tt.Resources;
  if (r?.Limits || r?.Reservations) {
    o += 'Resources:\n';
    if (r.Reservations?.NanoCPUs || r.Reservations?.MemoryBytes) {
      o += ' Reservations:\n';
      if (r.Reservations.NanoCPUs) o += `  CPU:\t\t${cpus(r.Reservations.NanoCPUs)}\n`;
      if (r.Reservations.MemoryBytes) o += `  Memory:\t${bytesSize(r.Reservations.MemoryBytes)}\n`;
    }
    if (r.Limits?.NanoCPUs || r.Limits?.MemoryBytes) {
      o += ' Limits:\n';
      if (r.Limits.NanoCPUs) o += `  CPU:\t\t${cpus(r.Limits.NanoCPUs)}\n`;
      if (r.Limits.MemoryBytes) o += `  Memory:\t${bytesSize(r.Limits.MemoryBytes)}\n`;
    }
  }
  o += `Endpoint Mode:\t${sp.EndpointSpec?.Mode ?? 'vip'}\n`;
  const ports = s.Endpoint?.Ports ?? [];
  if (ports.length) {
    o += 'Ports:\n';
    for (const p of ports) o += ` PublishedPort = ${p.PublishedPort}\n  Protocol = ${p.Protocol}\n  TargetPort = ${p.TargetPort}\n  PublishMode = ${p.PublishMode}\n`;
  }
  return o;
}

import type { ServiceSpec, UpdateConfig } from '../../../types';

// What `insertDefaults=true` fills in, as Docker shows in `docker service inspect`.
const SECOND = 1_000_000_000;

export const DEFAULT_UPDATE_CONFIG: Required<UpdateConfig> = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: 5 * SECOND,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

export const DEFAULT_RESTART_POLICY = { Condition: 'any' as const, Delay: 5 * SECOND, MaxAttempts: 0 };
export const DEFAULT_STOP_GRACE_PERIOD = 10 * SECOND;

export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  s.UpdateConfig = { ...DEFAULT_UPDATE_CONFIG, ...s.UpdateConfig };
  s.RollbackConfig = { ...DEFAULT_UPDATE_CONFIG, ...s.RollbackConfig };
  const t = s.TaskTemplate;
  t.RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...t.RestartPolicy };
  if (t.ContainerSpec) t.ContainerSpec = { StopGracePeriod: DEFAULT_STOP_GRACE_PERIOD, ...t.ContainerSpec };
  if (!t.Resources) t.Resources = { Limits: {}, Reservations: {} };
  if (!s.EndpointSpec) s.EndpointSpec = { Mode: 'vip' };
  else if (!s.EndpointSpec.Mode) s.EndpointSpec.Mode = 'vip';
  return s;
}

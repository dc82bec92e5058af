import { defaultSwarmSpec, type SwarmSpec } from '../../../types';

/**
 * The spec a new swarm starts with: what `swarm init` sent, with every unset or zero value
 * replaced by Docker's default (the CLI sends zero values for flags the user did not set).
 */
export function initialSwarmSpec(given: Partial<SwarmSpec> | undefined): SwarmSpec {
  const d = defaultSwarmSpec();
  const g = given ?? {};
  const pick = <T extends object>(def: T, got: Partial<T> | undefined): T => {
    const out = { ...def } as Record<string, unknown>;
    for (const [k, v] of Object.entries(got ?? {})) {
      if (v === undefined || v === null || v === 0 || v === '') continue;
      out[k] = v;
    }
    return out as T;
  };
  return {
    Name: g.Name || d.Name,
    Labels: g.Labels ?? {},
    Orchestration: pick(d.Orchestration, g.Orchestration),
    Raft: pick(d.Raft, g.Raft),
    Dispatcher: pick(d.Dispatcher, g.Dispatcher),
    CAConfig: pick(d.CAConfig, g.CAConfig),
    EncryptionConfig: { AutoLockManagers: !!g.EncryptionConfig?.AutoLockManagers },
    TaskDefaults: g.TaskDefaults ?? {},
  };
}

import type { Node, Task } from '../types';

// Minimal valid objects for tests: every required field set, everything else up to the caller.

export function taskFixture(over: Partial<Task> & { ID: string }): Task {
  return {
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: {},
    ServiceID: 's',
    Status: { Timestamp: '', State: 'new', Message: '' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
    ...over,
  };
}

export function nodeFixture(over: Partial<Node> & { ID: string }): Node {
  return {
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: { Hostname: over.ID, Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ...over,
  };
}

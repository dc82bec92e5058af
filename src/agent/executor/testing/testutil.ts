// Helpers for the executor tests (not used by the daemon).
import { randomBytes } from 'node:crypto';
import type { ContainerSpec, Task } from '../../../types';
import type { LogLine } from '../types';
import { waitFor } from '../../../testing/wait';

let n = 0;

/** A 25-character lowercase ID like swarmkit's. */
export function testId(): string {
  return (BigInt('0x' + randomBytes(16).toString('hex')).toString(36) + 'x'.repeat(25)).slice(0, 25);
}

export function makeTask(spec: ContainerSpec, over: Partial<Task> = {}): Task {
  const id = over.ID ?? testId();
  n++;
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: new Date().toISOString(),
    UpdatedAt: new Date().toISOString(),
    Labels: {},
    Spec: { ContainerSpec: spec },
    ServiceID: over.ServiceID ?? 'svc' + testId().slice(0, 22),
    Slot: 'Slot' in over ? over.Slot : n,
    NodeID: over.NodeID ?? 'node' + testId().slice(0, 21),
    Status: { Timestamp: new Date().toISOString(), State: 'assigned', Message: '' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: `shoaltest${n}` },
    ...over,
  };
}

/** Polls `fn` until it returns a truthy value; fails after `timeoutMs` (a bound, not an expectation). */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 20_000, what = 'condition'): Promise<NonNullable<T>> {
  return waitFor(what, fn, timeoutMs, 50);
}

export async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

export const text = (lines: LogLine[]) => lines.map((l) => l.data.toString()).join('');

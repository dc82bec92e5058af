import type { Node } from './node';
import type { ResourceObject } from './common';
import type { TaskSpec } from './task';

// Placement constraints (`--constraint node.labels.zone==eu`) are part of the object model: the
// control API validates them, the scheduler filters nodes with them, the global orchestrator and
// the constraint enforcer re-check them when a node changes. Semantics follow Docker's:
//  - keys are case-insensitive (`Node.Labels.x` = `node.labels.x`) but the label name after the
//    prefix is case-sensitive;
//  - values compare case-insensitively;
//  - a missing label reads as the empty string, so `!=` matches a node without it;
//  - an unknown key matches no node.

export type ConstraintOp = '==' | '!=';

export interface Constraint {
  key: string;
  op: ConstraintOp;
  value: string;
}

// swarmkit (manager/constraint): a key starts with a letter or '_', two characters at least.
const KEY_RE = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE_RE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const OPERATORS: ConstraintOp[] = ['==', '!='];

/** Parses constraint expressions; returns the error text Docker prints for a bad one. */
export function parseConstraints(exprs: readonly string[]): { constraints: Constraint[] } | { error: string } {
  const out: Constraint[] = [];
  for (const e of exprs) {
    let found = false;
    for (const op of OPERATORS) {
      const i = e.indexOf(op);
      if (i < 0) continue;
      const key = e.slice(0, i).trim();
      const value = e.slice(i + op.length).trim();
      if (!KEY_RE.test(key)) return { error: `key '${key}' is invalid` };
      if (!VALUE_RE.test(value)) return { error: `value '${value}' is invalid` };
      out.push({ key, op, value });
      found = true;
      break;
    }
    if (!found) return { error: `constraint expected one operator from ${OPERATORS.join(', ')}` };
  }
  return { constraints: out };
}

/** A key no node has (an unknown key matches nothing): stands for constraints that do not parse. */
const UNSATISFIABLE = 'invalid constraint';

/**
 * The constraints of a task spec ([] when it has none). The API refuses constraints that do not
 * parse; should one still be stored (an older log), it matches no node rather than every node.
 */
export function taskConstraints(spec: TaskSpec): Constraint[] {
  const list = spec.Placement?.Constraints;
  if (!list || list.length === 0) return [];
  const r = parseConstraints(list);
  return 'constraints' in r ? r.constraints : [{ key: UNSATISFIABLE, op: '==', value: r.error }];
}

const eqFold = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function matchValue(c: Constraint, actual: string): boolean {
  const eq = eqFold(c.value, actual);
  return c.op === '==' ? eq : !eq;
}

const NODE_LABELS = 'node.labels.';
const ENGINE_LABELS = 'engine.labels.';

function ipv4ToInt(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

/** node.ip: a single address or an IPv4 CIDR; a malformed value matches nothing. */
function matchIp(c: Constraint, nodeAddr: string): boolean {
  const node = ipv4ToInt(nodeAddr);
  const [addr, bitsText] = c.value.split('/');
  const want = ipv4ToInt(addr ?? '');
  if (want === null) {
    // IPv6 or garbage: exact textual comparison for single addresses only
    if (bitsText !== undefined || !c.value.includes(':')) return false;
    const eq = eqFold(c.value, nodeAddr);
    return c.op === '==' ? eq : !eq;
  }
  let inside: boolean;
  if (bitsText === undefined) inside = node !== null && node === want;
  else {
    const bits = Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) return false;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    inside = node !== null && ((node & mask) >>> 0) === ((want & mask) >>> 0);
  }
  return c.op === '==' ? inside : !inside;
}

/** True when `node` satisfies every constraint. */
export function nodeMatchesConstraints(constraints: readonly Constraint[], node: Node): boolean {
  for (const c of constraints) {
    const k = c.key.toLowerCase();
    let ok: boolean;
    if (k === 'node.id') ok = matchValue(c, node.ID);
    else if (k === 'node.hostname') ok = matchValue(c, node.Description?.Hostname ?? '');
    else if (k === 'node.ip') ok = matchIp(c, node.Status?.Addr ?? '');
    else if (k === 'node.role') ok = matchValue(c, node.Spec.Role);
    else if (k === 'node.platform.os') ok = matchValue(c, node.Description?.Platform?.OS ?? '');
    else if (k === 'node.platform.arch') ok = matchValue(c, node.Description?.Platform?.Architecture ?? '');
    else if (k.length > NODE_LABELS.length && k.startsWith(NODE_LABELS)) ok = matchValue(c, node.Spec.Labels?.[c.key.slice(NODE_LABELS.length)] ?? '');
    else if (k.length > ENGINE_LABELS.length && k.startsWith(ENGINE_LABELS))
      ok = matchValue(c, node.Description?.Engine?.Labels?.[c.key.slice(ENGINE_LABELS.length)] ?? '');
    else ok = false;
    if (!ok) return false;
  }
  return true;
}

/** The resources a task spec reserves on its node (zeros when none). */
export function reservationsOf(spec: TaskSpec): { NanoCPUs: number; MemoryBytes: number } {
  const r: ResourceObject | undefined = spec.Resources?.Reservations;
  return { NanoCPUs: r?.NanoCPUs ?? 0, MemoryBytes: r?.MemoryBytes ?? 0 };
}

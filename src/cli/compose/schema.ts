// Checks a Compose file against the Compose Specification's JSON schema (schemas/compose-spec.json,
// read by the caller and passed in) and turns the first, most specific ajv error
// into `file:line: key: message`. Pure: the schema and the file come in as values.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ComposeError, keyText, type ComposeFile, type KeyPath } from './document';
import { CASTS, pathMatches, toBool, toFloat, toInt } from './interpolate';

export type ComposeValidator = (f: ComposeFile) => void;

/** ajv's `/services/web/ports/0` → ['services', 'web', 'ports', 0]. */
function pathOf(instancePath: string, data: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let cur = data;
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: string | number = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(key);
    cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined;
  }
  return out;
}

function messageOf(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `additional property ${String(p.additionalProperty)} is not allowed`;
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'type':
      return `must be a ${String(p.type).replace(/,/g, ' or ')}`;
    case 'required':
      return `${String(p.missingProperty)} is required`;
    case 'propertyNames':
    case 'pattern':
      return `does not match ${String(p.pattern ?? 'the allowed names')}`;
    default:
      return e.message ?? e.keyword;
  }
}

/** How specific an error is: deeper paths first; a branch's own error before the oneOf summary. */
function rank(e: ErrorObject): number {
  const depth = e.instancePath.split('/').length + (e.keyword === 'additionalProperties' || e.keyword === 'required' ? 1 : 0);
  const vague = e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if' ? 1 : 0;
  return depth * 2 - vague;
}

const ENUMS: [string[], string[]][] = [
  [['services', '*', 'deploy', 'mode'], ['replicated', 'global', 'replicated-job', 'global-job']],
  [['services', '*', 'deploy', 'endpoint_mode'], ['vip', 'dnsrr']],
  [['services', '*', 'deploy', 'restart_policy', 'condition'], ['none', 'on-failure', 'any']],
  [['services', '*', 'deploy', 'update_config', 'failure_action'], ['continue', 'pause', 'rollback']],
  [['services', '*', 'deploy', 'rollback_config', 'failure_action'], ['continue', 'pause']],
  [['services', '*', 'deploy', 'update_config', 'order'], ['start-first', 'stop-first']],
  [['services', '*', 'deploy', 'rollback_config', 'order'], ['start-first', 'stop-first']],
  [['services', '*', 'ports', '*', 'mode'], ['ingress', 'host']],
  [['services', '*', 'ports', '*', 'protocol'], ['tcp', 'udp', 'sctp']],
];

/**
 * What the Compose schema leaves open because it must accept `${VAR}` text: after substitution a
 * count must be a number, a flag a boolean, and a few strings one of the values swarm knows.
 */
function checkValues(f: ComposeFile): void {
  const fail = (path: KeyPath, msg: string): never => {
    const line = f.lineOf(path);
    throw new ComposeError(`${f.file}${line ? `:${line}` : ''}: ${keyText(path)}: ${msg}`);
  };
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, [...path, i]));
    if (v && typeof v === 'object') return Object.entries(v).forEach(([k, x]) => walk(x, [...path, k]));
    for (const [pattern, cast] of CASTS) {
      if (!pathMatches(pattern, path)) continue;
      if (cast === toInt && !(typeof v === 'number' && Number.isInteger(v))) fail(path, `must be an integer, not ${JSON.stringify(v)}`);
      if (cast === toFloat && typeof v !== 'number') fail(path, `must be a number, not ${JSON.stringify(v)}`);
      if (cast === toBool && typeof v !== 'boolean') fail(path, `must be a boolean, not ${JSON.stringify(v)}`);
    }
    for (const [pattern, allowed] of ENUMS) if (pathMatches(pattern, path) && !allowed.includes(String(v))) fail(path, `must be one of: ${allowed.join(', ')}`);
  };
  walk(f.data, []);
}

export function makeValidator(schema: Record<string, unknown>): ComposeValidator {
  const copy = { ...schema };
  delete copy.$schema; // draft-07 is ajv's default; its URL spelling varies between copies
  // One file is checked once per command: compile time is what counts. Not inlining the schema's
  // many $refs and not optimising the generated code cut it by a third (2.1 s → 1.4 s, fresh process).
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, inlineRefs: false, code: { optimize: false } });
  const validate: ValidateFunction = ajv.compile(copy);
  return (f) => {
    if (validate(f.data)) return checkValues(f);
    const errors = [...(validate.errors ?? [])].sort((a, b) => rank(b) - rank(a));
    const e = errors[0]!;
    const path = pathOf(e.instancePath, f.data);
    const p = e.params as Record<string, unknown>;
    const keyPath = e.keyword === 'additionalProperties' ? [...path, String(p.additionalProperty)] : path;
    const line = f.lineOf(keyPath);
    throw new ComposeError(`${f.file}${line ? `:${line}` : ''}: ${keyText(keyPath)}: ${messageOf(e)}`);
  };
}

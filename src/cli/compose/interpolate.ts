// Variable substitution in Compose values, as the docker CLI's loader does it before validating:
// `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?err}`,
// `${VAR?err}` (required), `${VAR:+alt}`, `${VAR+alt}`, and `$$` for a literal `$`. Only values are
// substituted, never keys. Values that must be numbers or booleans are cast after substitution
// (a `${REPLICAS}` in `deploy.replicas`), on the same paths the docker CLI casts. Pure.
import { ComposeError, keyText, type Dict, type KeyPath } from './document';

/** Looks a variable up: the process environment over the `.env` file. */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function invalid(where: KeyPath, value: string): ComposeError {
  return new ComposeError(`invalid interpolation format for ${keyText(where)}: ${JSON.stringify(value)}; you may need to escape any $ with another $`);
}

/** Substitutes one string; `unset` is told every variable that was used but not set. */
export function substitute(value: string, lookup: Lookup, where: KeyPath, unset: (name: string) => void = () => {}): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = findClose(value, i + 2);
      if (close < 0) throw invalid(where, value);
      out += braced(value.slice(i + 2, close), lookup, where, value, unset);
      i = close + 1;
      continue;
    }
    const m = NAME.exec(value.slice(i + 1));
    if (!m) throw invalid(where, value);
    const v = lookup(m[0]);
    if (v === undefined) unset(m[0]);
    out += v ?? '';
    i += 1 + m[0].length;
  }
  return out;
}

/** The index of the `}` closing a `${` whose body starts at `from` (defaults may nest `${…}`). */
function findClose(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function braced(body: string, lookup: Lookup, where: KeyPath, whole: string, unset: (name: string) => void): string {
  const m = NAME.exec(body);
  if (!m) throw invalid(where, whole);
  const name = m[0];
  const rest = body.slice(name.length);
  const v = lookup(name);
  if (rest === '') {
    if (v === undefined) unset(name);
    return v ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op) throw invalid(where, whole);
  const arg = () => substitute(rest.slice(op.length), lookup, where, unset);
  const missing = op.startsWith(':') ? v === undefined || v === '' : v === undefined;
  switch (op) {
    case ':-':
    case '-':
      return missing ? arg() : v!;
    case ':?':
    case '?':
      if (missing) throw new ComposeError(`required variable ${name} is missing a value: ${arg()}`);
      return v!;
    default:
      return missing ? '' : arg();
  }
}

export type Cast = (v: string, where: KeyPath) => unknown;

export const toInt: Cast = (v) => (/^[+-]?\d+$/.test(v.trim()) ? Number(v) : v);
export const toFloat: Cast = (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
export const toBool: Cast = (v, where) => {
  const s = v.toLowerCase();
  if (['y', 'yes', 'true', 'on'].includes(s)) return true;
  if (['n', 'no', 'false', 'off'].includes(s)) return false;
  throw new ComposeError(`invalid boolean for ${keyText(where)}: ${JSON.stringify(v)}`);
};

/** `*` matches any one key or list index. */
export const CASTS: [string[], Cast][] = [
  [['services', '*', 'configs', '*', 'mode'], toInt],
  [['services', '*', 'secrets', '*', 'mode'], toInt],
  [['services', '*', 'healthcheck', 'retries'], toInt],
  [['services', '*', 'healthcheck', 'disable'], toBool],
  [['services', '*', 'deploy', 'replicas'], toInt],
  [['services', '*', 'deploy', 'update_config', 'parallelism'], toInt],
  [['services', '*', 'deploy', 'update_config', 'max_failure_ratio'], toFloat],
  [['services', '*', 'deploy', 'rollback_config', 'parallelism'], toInt],
  [['services', '*', 'deploy', 'rollback_config', 'max_failure_ratio'], toFloat],
  [['services', '*', 'deploy', 'restart_policy', 'max_attempts'], toInt],
  [['services', '*', 'deploy', 'placement', 'max_replicas_per_node'], toInt],
  [['services', '*', 'ports', '*', 'target'], toInt],
  [['services', '*', 'ports', '*', 'published'], toInt],
  [['services', '*', 'ulimits', '*'], toInt],
  [['services', '*', 'ulimits', '*', 'hard'], toInt],
  [['services', '*', 'ulimits', '*', 'soft'], toInt],
  [['services', '*', 'privileged'], toBool],
  [['services', '*', 'read_only'], toBool],
  [['services', '*', 'stdin_open'], toBool],
  [['services', '*', 'tty'], toBool],
  [['services', '*', 'init'], toBool],
  [['services', '*', 'volumes', '*', 'read_only'], toBool],
  [['services', '*', 'volumes', '*', 'volume', 'nocopy'], toBool],
  [['networks', '*', 'external'], toBool],
  [['networks', '*', 'internal'], toBool],
  [['networks', '*', 'attachable'], toBool],
  [['volumes', '*', 'external'], toBool],
  [['secrets', '*', 'external'], toBool],
  [['configs', '*', 'external'], toBool],
];

/** Whether `path` matches `pattern` (`*` matching any one key or index). */
export const pathMatches = (pattern: readonly string[], path: KeyPath): boolean => pattern.length === path.length && pattern.every((p, i) => p === '*' || p === String(path[i]));

function castFor(path: KeyPath): Cast | undefined {
  for (const [pattern, cast] of CASTS) if (pathMatches(pattern, path)) return cast;
  return undefined;
}

/** Substitutes every string value of a parsed file (a new tree; keys untouched). */
export function interpolate(data: Dict, lookup: Lookup, unset?: (name: string, where: KeyPath) => void): Dict {
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const s = substitute(v, lookup, path, (n) => unset?.(n, path));
      const cast = castFor(path);
      return cast ? cast(s, path) : s;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v && typeof v === 'object') {
      const o: Dict = {};
      for (const [k, x] of Object.entries(v as Dict)) o[k] = walk(x, [...path, k]);
      return o;
    }
    return v;
  };
  return walk(data, []) as Dict;
}

/**
 * A `.env` file: `KEY=VALUE` lines, `#` comments, an optional `export ` prefix, values optionally
 * in single quotes (literal) or double quotes (`\n`, `\"`, `\\` escapes); an unquoted value ends at ` #`.
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw new ComposeError(`${file}:${i + 1}: invalid variable name ${JSON.stringify(key)}`);
    if (eq < 0) return; // a bare name sets nothing
    let v = body.slice(eq + 1).trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\([n"\\])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    } else {
      const hash = v.search(/\s#/);
      if (hash >= 0) v = v.slice(0, hash).trimEnd();
    }
    out[key] = v;
  });
  return out;
}

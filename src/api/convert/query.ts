import { invalidArgument } from '../../lib/errors';

// Query-string helpers with Docker's semantics.

/** Docker's boolean query values: "", "0", "no", "false", "none" are false; anything else is true. */
export function boolValue(v: string | null | undefined): boolean {
  if (v === null || v === undefined) return false;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** A required `version=` object version (uint64 in Docker). `what` names the object kind for the error. */
export function parseObjectVersion(v: string | null | undefined, what: string): number {
  const raw = v ?? '';
  if (!/^\d+$/.test(raw)) {
    throw invalidArgument(`invalid ${what} version '${raw}': strconv.ParseUint: parsing "${raw}": invalid syntax`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`invalid ${what} version '${raw}': value out of range`);
  return n;
}

/** `tail` of service/task logs: a non-negative integer or "all" (dockerd's texts for anything else). */
export function parseTail(v: string | null | undefined): number | 'all' {
  if (v === null || v === undefined || v === '' || v === 'all') return 'all';
  if (!/^[-+]?\d+$/.test(v)) throw invalidArgument('tail value must be a positive integer or "all"');
  const n = Number(v);
  if (n < 0) throw invalidArgument('negative tail values not supported');
  if (!Number.isSafeInteger(n)) throw invalidArgument('tail value must be a positive integer or "all"');
  return n;
}

/**
 * The path and query of a request target, as dockerd's router sees them. A path that is not clean
 * (`//v1.47//services`, `/a/../b`) gets `redirect`: gorilla/mux answers 301 to the cleaned path.
 */
export function parseRequestTarget(target: string): { pathname: string; query: URLSearchParams; redirect?: string } {
  // Absolute form (`GET http://host/path`, as proxies send it): the path starts after the authority.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(target);
  const raw = abs ? target.slice(abs[0].length) || '/' : target;
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  const search = q < 0 ? '' : raw.slice(q + 1);
  const query = new URLSearchParams(search);
  const clean = cleanPath(pathname);
  if (clean !== pathname) return { pathname: clean, query, redirect: clean + (q < 0 ? '' : '?' + search) };
  return { pathname, query };
}

/** Go's path.Clean with mux's trailing-slash rule: a trailing '/' stays. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const abs = p.startsWith('/') ? p : '/' + p;
  const out: string[] = [];
  for (const seg of abs.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = '/' + out.join('/');
  if (abs.endsWith('/') && np !== '/') np += '/';
  return np;
}

/**
 * `since` / `until` as clients send them: a UNIX timestamp in seconds, optionally with a fraction
 * ("1629574695.515050031"). Returns seconds (fractional), or undefined when absent or zero.
 */
export function parseTimestamp(v: string | null | undefined, name: string): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const s = v.trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw invalidArgument(`invalid value for ${name}: ${v}`);
  const n = Number(s);
  return n === 0 ? undefined : n;
}

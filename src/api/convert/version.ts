import { invalidArgument } from '../../lib/errors';

// API version handling: `/v1.NN/...` prefixes and the client-version checks Docker makes.

const PREFIX = /^\/v(\d+\.\d+)(?=\/|$)/;

/** Splits `/v1.47/info` into `{version:'1.47', path:'/info'}`; unversioned paths keep version undefined. */
export function splitVersion(pathname: string): { version?: string; path: string } {
  const m = PREFIX.exec(pathname);
  if (!m) return { path: pathname };
  const rest = pathname.slice(m[0].length);
  return { version: m[1], path: rest === '' ? '/' : rest };
}

/** Compares dotted versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Throws Docker's 400 errors when a client asks for a version outside [min, max]. */
export function checkClientVersion(version: string | undefined, min: string, max: string): void {
  if (version === undefined) return;
  if (compareVersions(version, max) > 0) {
    throw invalidArgument(`client version ${version} is too new. Maximum supported API version is ${max}`);
  }
  if (compareVersions(version, min) < 0) {
    throw invalidArgument(`client version ${version} is too old. Minimum supported API version is ${min}, please upgrade your client to a newer version`);
  }
}

/** Rewrites a versioned path so its version is at most `cap` (for engines older than us). */
export function capPathVersion(pathAndQuery: string, cap: string | undefined): string {
  if (!cap) return pathAndQuery;
  const m = PREFIX.exec(pathAndQuery);
  if (!m || compareVersions(m[1], cap) <= 0) return pathAndQuery;
  return `/v${cap}` + pathAndQuery.slice(m[0].length);
}

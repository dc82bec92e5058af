/**
 * A route's pattern as a metric label: `/services/{id}/update` for /^\/services\/([^/]+)\/update$/.
 * Labels must not carry raw paths (IDs, names): one series per route keeps the cardinality bounded.
 */
export function routeLabel(re: RegExp): string {
  let s = re.source.replace(/^\^/, '').replace(/\$$/, '');
  s = s.replace(/\(\[\^\/\]\+\)/g, '{id}').replace(/\(\.\+\)/g, '{name}').replace(/\(\\\/\.\*\)\?/g, '{/rest}');
  s = s.replace(/\\\/\?$/, '').replace(/\\\//g, '/');
  // alternations such as (secrets|configs) stay readable as {secrets|configs}
  s = s.replace(/\(([a-z|]+)\)/g, '{$1}');
  return s;
}

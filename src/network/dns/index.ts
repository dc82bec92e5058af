export { DnsServer, MAX_INFLIGHT, UPSTREAM_TIMEOUT_MS, type DnsListenOptions, type DnsListener, type DnsServerOptions } from './server';
export { parseHostPort, type Upstream } from './core/resolv-conf';

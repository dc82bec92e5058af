import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClusterBackend, DaemonFacts } from '../backend';
import type { BuildFacts } from '../convert';
import type { EngineProxy } from '../engine-proxy';

import type { ApiLogger } from '../logger';

export type { ApiLogger } from '../logger';

export interface ServerDeps {
  backend: ClusterBackend;
  facts: DaemonFacts;
  engine?: EngineProxy;
  logger: ApiLogger;
  build: BuildFacts;
  daemonId: string;
  now: () => number;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** Path without the `/vX.Y` prefix. */
  path: string;
  /** Path and query as the client sent them (version prefix included). */
  rawUrl: string;
  query: URLSearchParams;
  /** The API version the client asked for, or ours when unversioned. */
  version: string;
  /** Capture groups of the route's pattern, already URI-decoded. */
  params: string[];
  /** The same captures as the client encoded them. */
  rawParams: string[];
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
  deps: ServerDeps;
}

export type Handler = (ctx: Ctx) => Promise<void>;

export interface Route {
  method: string;
  re: RegExp;
  handler: Handler;
}

export const route = (method: string, re: RegExp, handler: Handler): Route => ({ method, re, handler });

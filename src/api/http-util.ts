import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument } from '../lib/errors';
import { errorBody, statusOf } from './errors';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Length', 0);
  res.end();
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    // Mid-stream: nothing to do but end the stream.
    res.destroy();
    return;
  }
  const text = errorBody(err) + '\n';
  res.statusCode = statusOf(err);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * Limits on a JSON request body. 4 MiB: the largest spec a manager replicates comfortably (swarmkit
 * caps a Raft transaction near 1.5 MB and gRPC messages at 4 MiB), while a service spec is a few KB.
 * 64 levels of nesting: the deepest Engine API body is about 10 deep, and JSON.parse recurses per level.
 * 30 s without a byte: a client that stops sending mid-body is answered 408 and its connection closed.
 */
export const BODY_LIMITS = { maxBytes: 4 * 1024 * 1024, maxDepth: 64, idleMs: 30_000 };

export interface BodyLimits {
  maxBytes: number;
  maxDepth: number;
  idleMs: number;
}

const tooSlow = () => Object.assign(invalidArgument('request body timed out: no data received in time'), { httpStatus: 408 });

export function readBody(req: IncomingMessage, limits: Pick<BodyLimits, 'maxBytes' | 'idleMs'> = BODY_LIMITS): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (err?: Error, value?: Buffer) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) reject(err);
      else resolve(value ?? Buffer.alloc(0));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish(tooSlow());
        // The rest of the body will never be read: the connection cannot carry another request.
        req.pause();
      }, limits.idleMs);
      timer.unref?.();
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBytes) {
        finish(invalidArgument(`request body too large (more than ${limits.maxBytes} bytes)`));
        req.pause();
        return;
      }
      chunks.push(c);
      arm();
    };
    const onEnd = () => finish(undefined, Buffer.concat(chunks));
    const onError = (e: Error) => finish(e);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    if (req.complete) return; // nothing more will come; 'end' follows
    arm();
  });
}

/**
 * The deepest nesting of arrays/objects in a JSON text, scanning strings correctly; stops counting
 * past `limit` (JSON.parse recurses per level: a deep body would exhaust the stack).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON body. `required`: an empty body is an error (Docker: "invalid JSON: got EOF while reading request body"). */
export async function readJson<T = unknown>(req: IncomingMessage, required = true, limits: BodyLimits = BODY_LIMITS): Promise<T | undefined> {
  const buf = await readBody(req, limits);
  let text: string;
  try {
    text = utf8.decode(buf).trim();
  } catch {
    throw invalidArgument('invalid JSON: request body is not valid UTF-8');
  }
  if (text === '') {
    if (required) throw invalidArgument('invalid JSON: got EOF while reading request body');
    return undefined;
  }
  if (jsonDepthExceeds(text, limits.maxDepth)) throw invalidArgument(`invalid JSON: exceeded max depth (${limits.maxDepth} levels of nesting)`);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalidArgument(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Like readJson but insists on a JSON object. */
export async function readJsonObject<T = Record<string, unknown>>(req: IncomingMessage, required = true, limits: BodyLimits = BODY_LIMITS): Promise<T> {
  const v = await readJson<unknown>(req, required, limits);
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument('invalid JSON: expected an object');
  return v as T;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument } from '../lib/errors';
import { errorBody, statusOf } from './errors';

const MAX_JSON_BODY = 16 * 1024 * 1024;

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

export function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(invalidArgument(`request body too large (more than ${limit} bytes)`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Reads a JSON body. `required`: an empty body is an error (Docker: "invalid JSON: got EOF while reading request body"). */
export async function readJson<T = unknown>(req: IncomingMessage, required = true): Promise<T | undefined> {
  const buf = await readBody(req);
  const text = buf.toString('utf8').trim();
  if (text === '') {
    if (required) throw invalidArgument('invalid JSON: got EOF while reading request body');
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalidArgument(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Like readJson but insists on a JSON object. */
export async function readJsonObject<T = Record<string, unknown>>(req: IncomingMessage, required = true): Promise<T> {
  const v = await readJson<unknown>(req, required);
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument('invalid JSON: expected an object');
  return v as T;
}

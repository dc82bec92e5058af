// Calls of one kind made as messages on one open bidirectional stream instead of one unary call each.
// A unary call costs both ends a new HTTP/2 stream, its headers and metadata, and grpc-js's call
// objects; a message on an open stream costs about half (bench/heartbeat-cost.ts). The dispatcher's
// Heartbeats and TaskStatusUpdates streams are served this way (rpc/protocol.ts): every message is
// answered in order, and a refusal ends the stream with its status.
import { isKind, unavailable } from '../lib/errors';
import type { BidiStream } from './client';

interface OpenStream<Req, Res> {
  key: string;
  stream: BidiStream<Req, Res>;
  answers: AsyncIterator<Res>;
}

/**
 * One caller's stream of such calls. A stream belongs to one `key` (a session): a call for another key
 * opens a new one. Each call waits for its answer within its timeout; any failure (a refusal, the
 * stream's end, no answer in time) ends the stream and fails the call, as a failed unary call would,
 * and the next call opens a new stream. Where the far end answers Unimplemented (a release without
 * the stream), this and every later call of this caller goes through `unary` instead.
 *
 * Calls are made one at a time: answers are matched to calls by their order.
 */
export class StreamedCalls<Req, Res> {
  private open: OpenStream<Req, Res> | null = null;
  private unaryOnly = false;

  constructor(
    private readonly opts: {
      /** Opens the stream (on the caller's connection). */
      stream: () => BidiStream<Req, Res>;
      /** The same call as a unary call, for a far end without the stream. */
      unary: (req: Req, timeoutMs: number) => Promise<Res>;
      /** What the calls are, for the timeout's message ("heartbeat"). */
      what: string;
    },
  ) {}

  async call(key: string, req: Req, timeoutMs: number): Promise<Res> {
    if (this.unaryOnly) return this.opts.unary(req, timeoutMs);
    try {
      return await this.onStream(key, req, timeoutMs);
    } catch (e) {
      this.stop();
      if (!isKind(e, 'Unimplemented')) throw e;
      this.unaryOnly = true;
      return this.opts.unary(req, timeoutMs);
    }
  }

  private async onStream(key: string, req: Req, timeoutMs: number): Promise<Res> {
    if (this.open?.key !== key) {
      this.stop();
      const stream = this.opts.stream();
      this.open = { key, stream, answers: stream.responses[Symbol.asyncIterator]() };
    }
    const { stream, answers } = this.open;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = answers.next();
      // after a timeout nobody awaits it: its rejection (the cancelled stream) must not go unhandled
      answer.catch(() => undefined);
      // a failed send shows as the stream's end or error, which the answer reports
      stream.send(req).catch(() => undefined);
      const next = await Promise.race([
        answer,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(unavailable(`${this.opts.what}: no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      if (next.done) throw unavailable(`${this.opts.what}: the manager ended the stream`);
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the open stream, if any (a new session, a failure, the connection closing). */
  stop(): void {
    const o = this.open;
    this.open = null;
    if (!o) return;
    o.stream.cancel();
    // the cancelled stream's pending answer rejects; nobody waits for it any more
    o.answers.return?.().catch(() => undefined);
  }
}

/**
 * The serving side of such a stream: each message answered in order by `one`, as its own call would be;
 * what `one` throws ends the stream with that status.
 */
export async function* answerEach<Req, Res>(reqs: AsyncIterable<Req>, one: (req: Req) => Promise<Res>): AsyncIterable<Res> {
  const it = reqs[Symbol.asyncIterator]();
  let ended = false;
  try {
    // Not a `for await`: it kept the last message alive while it waited for the next (V8 keeps it in the suspended
    // frame), a node's last batch of status reports on each of the leader's 505 streams: 12.6 MiB (performance.md,
    // tenth stop). The message lives in answerNext's frame only; the answer is let go once taken.
    for (;;) {
      let answered: { answer: Res } | undefined = await answerNext(it, one);
      if (!answered) {
        ended = true;
        return;
      }
      let answer: Res | undefined = answered.answer;
      answered = undefined;
      yield answer;
      answer = undefined;
    }
  } finally {
    // left early (the call ended, or `one` threw): the messages' source is closed, as a `for await` would
    if (!ended) await it.return?.();
  }
}

/** The next message answered, or undefined once there is none. */
async function answerNext<Req, Res>(it: AsyncIterator<Req>, one: (req: Req) => Promise<Res>): Promise<{ answer: Res } | undefined> {
  const r = await it.next();
  if (r.done) return undefined;
  return { answer: await one(r.value) };
}

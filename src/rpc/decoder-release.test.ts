import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder';
import { decoderReleasesMessages } from './decoder-release';

test("grpc-js's stream decoder keeps no chunk of a message once it is complete (patched; fails if grpc-js changed)", () => {
  assert.equal(decoderReleasesMessages, true, "grpc-js's StreamDecoder is not the one the patch was written for");
  const body = Buffer.alloc(100_000, 7);
  const framed = Buffer.alloc(5 + body.length);
  framed.writeUInt32BE(body.length, 1);
  body.copy(framed, 5);
  const d = new StreamDecoder(-1);
  // in three chunks, as HTTP/2 frames bring a large message
  const out = [framed.subarray(0, 40_000), framed.subarray(40_000, 80_000), framed.subarray(80_000)].flatMap((c) => d.write(c));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], framed);
  const internals = d as unknown as { readPartialMessage: Buffer[]; readCompressFlag: Buffer };
  assert.deepEqual(internals.readPartialMessage, [], 'the chunks of the complete message are let go');
  assert.equal(internals.readCompressFlag.buffer === framed.buffer, false, 'and so is the chunk its flag came in');
  // the next message decodes as before
  assert.deepEqual(d.write(framed), [framed]);
});

// grpc-js (1.14) assembles each message it receives from its chunks, and its StreamDecoder keeps those chunks
// (`readPartialMessage`) until the next message begins: a stream holds its last message's bytes for as long as it
// stays idle, on both ends of every call. A relay held a node's complete set per relayed stream that way, 27 MiB over
// 470 nodes after a failover (performance.md, tenth stop). The decoder is patched here, once, to let go of them as
// soon as a message is complete; decoder-release.test.ts fails if grpc-js's decoder no longer has what this relies on.
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder';

/** grpc-js's ReadState.NO_DATA: between messages. */
const NO_DATA = 0;
/** Stands in for the last message's compression flag, a slice of the chunk it came in (read only to frame it). */
const NO_FLAG = Buffer.alloc(1);

interface DecoderInternals {
  readState: number;
  readPartialMessage: Buffer[];
  readCompressFlag: Buffer;
}

/** Whether the patch is in place: false if grpc-js's decoder is not the one it was written for (left as it is). */
export const decoderReleasesMessages = install();

function install(): boolean {
  const proto = StreamDecoder.prototype as unknown as { write(data: Buffer): Buffer[]; releasesMessages?: true };
  if (proto.releasesMessages) return true;
  const probe = new StreamDecoder(-1) as unknown as DecoderInternals;
  if (typeof proto.write !== 'function' || probe.readState !== NO_DATA || !Array.isArray(probe.readPartialMessage) || !Buffer.isBuffer(probe.readCompressFlag)) return false;
  const write = proto.write;
  proto.write = function (this: DecoderInternals, data: Buffer): Buffer[] {
    const messages = write.call(this, data);
    if (this.readState === NO_DATA && this.readPartialMessage.length > 0) {
      this.readPartialMessage = [];
      this.readCompressFlag = NO_FLAG;
    }
    return messages;
  };
  proto.releasesMessages = true;
  return true;
}

/**
 * Hands ssh2's SFTP parser whole packets only, gathering the ones split across SSH channel messages in one
 * reusable buffer (for read throughput at 0 ms RTT).
 *
 * Why: ssh2's channels carry at most 32 KiB per message (its advertised packet size), so every 256 KiB READ
 * reply arrives in nine pieces, and ssh2 (SFTP.push) gathers each reply in a Buffer of its own. V8 counts every
 * such Buffer as external memory and answers with a full garbage collection every 64 MiB: at 0 ms RTT those
 * collections were a quarter of the mount daemon's CPU during a large read. A DATA reply to a read() that
 * brought its own buffer is copied into that buffer by ssh2 before the next packet is parsed (the DATA handler
 * in ssh2/lib/protocol/SFTP.js), so it can be handed over as a view of our scratch buffer; every other reply may
 * be kept by reference (a HANDLE is a view of its packet), so it gets a copy of its own, as ssh2 would make.
 * That holds for packets that arrived whole in one message too: the message itself may be a view of the
 * socket reader's reused buffer (inbound-framer.ts), so only lent DATA replies are passed on as they came.
 *
 * It relies on two ssh2 1.x internals, checked at install: `push(chunk)` parses any chunking of the packet
 * stream, and `_requests[id].buffer` is the caller's buffer of a pending read. Without them it installs nothing.
 */
import type { SFTPWrapper } from 'ssh2';

/** SSH_FXP_DATA (draft-ietf-secsh-filexfer-02 §3). */
const SSH_FXP_DATA = 103;

interface SftpParserInternals {
  push(chunk: Buffer | null): unknown;
  _requests?: Record<number, { buffer?: Buffer } | undefined>;
  _pktLenBytes?: number;
  _pkt?: Buffer;
  _maxInPktLen?: number;
  server?: boolean;
}

/** Installs the assembler on a client SFTP channel whose parser is between packets; returns whether it did. */
export function assembleSftpReplies(sftp: SFTPWrapper): boolean {
  const channel = sftp as unknown as SftpParserInternals;
  const known = typeof channel.push === 'function' && typeof channel._requests === 'object' && channel.server === false;
  if (!known || channel._pktLenBytes !== 0 || channel._pkt !== undefined) return false;
  channel.push = createAssembler(channel.push.bind(sftp), (id) => channel._requests?.[id]?.buffer !== undefined, channel._maxInPktLen ?? 256 * 1024);
  return true;
}

/**
 * The framing itself, separate from ssh2 for its unit test: `parse` receives whole packets (length prefix
 * included); `ownsBuffer(id)` tells whether a DATA reply for request `id` will be copied out before the next one.
 */
export function createAssembler(
  parse: (chunk: Buffer | null) => unknown,
  ownsBuffer: (requestId: number) => boolean,
  maxPacketLength: number,
): (chunk: Buffer | null) => unknown {
  let scratch = Buffer.alloc(0);
  let filled = 0; // bytes of the current split packet gathered so far, length prefix included
  let total = 0; // 4 + its length, once the prefix is complete
  let passThrough = false; // a length ssh2 will reject: let it see the raw stream and report the error

  const ensure = (size: number) => {
    if (scratch.length >= size) return;
    const bigger = Buffer.allocUnsafe(Math.max(size, scratch.length * 2));
    scratch.copy(bigger, 0, 0, filled);
    scratch = bigger;
  };
  const lentOut = (packet: Buffer) => packet.length >= 9 && packet[4] === SSH_FXP_DATA && ownsBuffer(packet.readUInt32BE(5));

  return (chunk) => {
    if (chunk === null || passThrough) return parse(chunk);
    let p = 0;
    while (p < chunk.length) {
      if (filled === 0 && chunk.length - p >= 4) {
        const whole = 4 + chunk.readUInt32BE(p);
        if (chunk.length - p >= whole) {
          const packet = chunk.subarray(p, p + whole);
          if (parse(lentOut(packet) ? packet : Buffer.from(packet)) === false) return false;
          p += whole;
          continue;
        }
      }
      if (total === 0) {
        ensure(4);
        const take = Math.min(4 - filled, chunk.length - p);
        chunk.copy(scratch, filled, p, p + take);
        filled += take;
        p += take;
        if (filled < 4) return undefined;
        const length = scratch.readUInt32BE(0);
        if (length === 0 || length > maxPacketLength) {
          passThrough = true;
          parse(Buffer.from(scratch.subarray(0, 4)));
          return parse(chunk.subarray(p));
        }
        total = 4 + length;
        ensure(total);
      }
      const take = Math.min(total - filled, chunk.length - p);
      chunk.copy(scratch, filled, p, p + take);
      filled += take;
      p += take;
      if (filled === total) {
        const packet = scratch.subarray(0, total);
        filled = 0;
        total = 0;
        if (parse(lentOut(packet) ? packet : Buffer.from(packet)) === false) return false;
      }
    }
    return undefined;
  };
}

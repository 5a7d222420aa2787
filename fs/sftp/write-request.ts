/**
 * SSH_FXP_WRITE (draft-ietf-secsh-filexfer-02 §6.4) sent without copying its data.
 *
 * ssh2's SFTP.write builds each request in a Buffer of its own and copies the data into it
 * (ssh2/lib/protocol/SFTP.js, write), and its Protocol.channelData copies every SSH packet's share once more
 * before encrypting it in place. The first copy buys nothing here: the caller (write-behind's block, kept for
 * a replay after a reconnect) holds the bytes unchanged until the request is acknowledged. It also made a
 * fresh 256 KiB ArrayBuffer per request; V8 counts those as external memory and answers every 64 MiB of them
 * with a full mark-compact collection (measured: a sixth of the mount process's CPU during a 256 MiB write
 * went to V8's collector).
 *
 * SSH channel data is a byte stream (RFC 4254 §5.2): how the request is cut into CHANNEL_DATA messages does not
 * matter to the server. So the request's header goes out as one small message and the data as views of the
 * caller's buffer, each at most the channel's packet size, through the same private members ssh2's own
 * sendOrBuffer uses, with the same rules:
 *   - data waiting for window space (`_buffer` not empty): the pieces are queued behind it, in order; ssh2 drains
 *     that queue when the server opens the window (client.js CHANNEL_WINDOW_ADJUST → drainBuffer), slicing, not
 *     copying;
 *   - nothing waiting and room in the window for the whole request: sent at once;
 *   - nothing waiting and too little room: ssh2's own write, which sends what fits and starts the queue (it alone
 *     can arm the drain).
 * Any shape that is not the one test/ssh2-internals.test.ts pins also takes ssh2's own write.
 */
import type { SFTPWrapper } from 'ssh2';

/** SFTP packet type SSH_FXP_WRITE (draft-02 §3). */
const SSH_FXP_WRITE = 6;
/** ssh2's request ids wrap at 2^32 - 1 (MAX_REQID in ssh2/lib/protocol/SFTP.js). */
const MAX_REQID = 2 ** 32 - 1;

/** The private members of a client SFTP channel used here (pinned by test/ssh2-internals.test.ts). */
interface ChannelInternals {
  _requests: Record<number, { cb: (err?: Error) => void }>;
  _writeReqid: number;
  _buffer: Buffer[];
  /** True while `_buffer` waits for a CHANNEL_WINDOW_ADJUST that will drain it. */
  _waitWindow: boolean;
  _maxWriteLen: number;
  outgoing: { state: string; id: number; window: number; packetSize: number };
  _protocol: { channelData(id: number, data: Buffer): void };
}

/** The channel's internals when they have the shape this module relies on, else null. */
function internalsOf(sftp: SFTPWrapper): ChannelInternals | null {
  const s = sftp as unknown as Partial<ChannelInternals>;
  const out = s.outgoing;
  if (typeof s._requests !== 'object' || s._requests === null || typeof s._writeReqid !== 'number' || !Array.isArray(s._buffer)) return null;
  if (typeof s._maxWriteLen !== 'number' || typeof s._protocol?.channelData !== 'function') return null;
  if (!out || typeof out.id !== 'number' || typeof out.window !== 'number' || typeof out.packetSize !== 'number' || out.packetSize <= 0) return null;
  return s as ChannelInternals;
}

/**
 * The request up to its data:
 *   uint32 length, byte SSH_FXP_WRITE, uint32 id, string handle, uint64 offset, uint32 data length.
 */
function encodeHeader(id: number, handle: Buffer, position: number, dataLength: number): Buffer {
  const header = Buffer.allocUnsafe(4 + 1 + 4 + 4 + handle.length + 8 + 4);
  let p = header.writeUInt32BE(header.length - 4 + dataLength, 0);
  p = header.writeUInt8(SSH_FXP_WRITE, p);
  p = header.writeUInt32BE(id, p);
  p = header.writeUInt32BE(handle.length, p);
  p += handle.copy(header, p);
  p = header.writeBigUInt64BE(BigInt(position), p);
  header.writeUInt32BE(dataLength, p);
  return header;
}

/**
 * Sends one WRITE of `data` at `position`; `cb` gets the server's answer (an Error with the SSH_FX_* `code`), or
 * ssh2's "No response from server" when the channel closes first. `data` must stay unchanged until then.
 */
export function sendWrite(sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number, cb: (err?: Error | null) => void): void {
  const s = internalsOf(sftp);
  // Queued data is always waiting for the window (ssh2 queues only once the window is used up, and arms the drain).
  const queued = s !== null && s._buffer.length > 0 && s._waitWindow;
  const header = 4 + 1 + 4 + 4 + handle.length + 8 + 4;
  const unusual = s === null || s.outgoing.state !== 'open' || data.length === 0 || data.length > s._maxWriteLen;
  if (unusual || (!queued && (s._buffer.length > 0 || s.outgoing.window < header + data.length))) {
    sftp.write(handle, data, 0, data.length, position, (err) => cb(err));
    return;
  }
  // The same sequence ssh2's own requests take ids from; on the wire and in the reply table as unsigned.
  s._writeReqid = (s._writeReqid + 1) & MAX_REQID;
  const id = s._writeReqid >>> 0;
  s._requests[id] = { cb: (err) => cb(err) };
  const pieces = [encodeHeader(id, handle, position, data.length)];
  for (let at = 0; at < data.length; at += s.outgoing.packetSize) pieces.push(data.subarray(at, Math.min(data.length, at + s.outgoing.packetSize)));
  if (queued) {
    s._buffer.push(...pieces);
    return;
  }
  for (const piece of pieces) {
    s.outgoing.window -= piece.length;
    s._protocol.channelData(s.outgoing.id, piece);
  }
}

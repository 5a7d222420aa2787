/**
 * Reads an SSH connection's incoming bytes into one reusable buffer and hands ssh2 whole units only: the
 * identification lines, then whole binary packets (less work per byte at 0 ms RTT).
 *
 * Why: Node reads a socket into a new 64 KiB Buffer per read, and ssh2's AES-GCM decipher copies every packet
 * that straddles two reads into a new Buffer of its own (ssh2/lib/protocol/crypto.js, AESGCMDecipherBinding):
 * a 256 MiB file read made ~380 MiB of short-lived Buffers (every byte once, half the packets twice). V8 frees
 * them only at garbage collections, so the heap kept growing into fresh memory, and on this kind of VM each
 * first touch of a page costs a page fault of ~20 µs: the first large read in a fresh mount process spent
 * twice the CPU of the next one. Reading through
 * `net.connect({ onread })` into one buffer, and handing ssh2 whole packets so it decrypts them in place,
 * removes both kinds of garbage.
 *
 * Framing (RFC 4253 §4.2, §6, §7.3): lines until the one starting "SSH-"; then packets `uint32 length`
 * followed by `length` bytes (no MAC before the first NEWKEYS); after the first SSH_MSG_NEWKEYS the packets of
 * the server→client cipher. Only AES-GCM (OpenSSH PROTOCOL §1.6, RFC 5647 §7.3) leaves the length in clear,
 * followed by a 16-byte tag, and is ssh2's first choice; any other cipher, or a length that cannot be right,
 * switches to `opaque`: every byte is passed on as it comes (copied), and ssh2 does its own framing as before.
 * ssh2 names the cipher in its 'handshake' event only once the host key is verified, which may come after the
 * server's NEWKEYS (the check is asynchronous), so bytes after NEWKEYS wait (`keys`) until it is known: the
 * server sends at most its EXT_INFO before the client's service request, which ssh2 sends after that event.
 *
 * Who may keep what: a delivered chunk is a copy (the receiver may keep it) except in steady state: mode
 * `aead`, the connection set up (allowLending), and no exec channel open (each holds). Then it is
 * a view into the buffer, which is reused: bytes already delivered are overwritten only after at least
 * LENT_BYTES_KEPT (1 MiB) later bytes have arrived. What ssh2 keeps of a packet in that state: the SFTP
 * reply assembler copies every reply it does not lend (sftp-reply-assembler.ts), a DATA reply is copied into its
 * request's buffer before the next packet is parsed, and a re-key keeps the server's KEXINIT only until its
 * KEXDH reply, while the server may send nothing but a few small key-exchange messages (RFC 4253 §7.1). An exec
 * channel's stream keeps its data until someone reads it, hence the holds.
 *
 * State (one JS thread, changed only by the public methods and the drain they start): bytes [start, filled) of
 * `buffer` have arrived and were not delivered yet; they always begin a unit (line or packet).
 */

/** SSH_MSG_NEWKEYS (RFC 4253 §7.3): the next packet is under the new keys. */
const MSG_NEWKEYS = 21;
/** Server→client ciphers whose packet length travels in clear, followed by this many tag bytes. */
const CLEAR_LENGTH_CIPHERS: ReadonlyMap<string, number> = new Map([
  ['aes128-gcm@openssh.com', 16],
  ['aes256-gcm@openssh.com', 16],
]);
/** OpenSSH's PACKET_MAX_SIZE (256 KiB); RFC 4253 §6.1 only requires 35000. A longer "length" is not framing we know. */
const MAX_PACKET_BYTES = 256 * 1024;
/** RFC 4253 §4.2: the identification line is at most 255 characters; lines before it are the server's business. */
const MAX_LINE_BYTES = 8 * 1024;
/** The most one unit takes: a packet with its length field and tag. */
const MAX_UNIT_BYTES = 4 + MAX_PACKET_BYTES + 16;
const BUFFER_BYTES = 2 * 1024 * 1024;
/** One socket read at most (Node's own reads are 64 KiB). */
const MAX_READ_BYTES = 256 * 1024;
/**
 * A lent packet is overwritten only after at least this many later bytes (1 MiB): bytes are overwritten when the
 * reads come round to them again after the tail (under one unit) moved to the front, and a move waits until
 * less than one read's room is left; the packet began at most one read and one unit before the delivery.
 */
export const LENT_BYTES_KEPT = BUFFER_BYTES - 2 * MAX_READ_BYTES - 2 * MAX_UNIT_BYTES;
/** More than this waiting for the cipher's name is not the handshake described above: stop framing. */
const MAX_WAITING_BYTES = 64 * 1024;

export type FramerMode = 'ident' | 'clear' | 'keys' | 'aead' | 'opaque';

export interface FramerStats {
  readonly mode: FramerMode;
  /** Bytes handed on as views of the reused buffer (steady state). */
  readonly lentBytes: number;
  /** Bytes handed on as copies. */
  readonly copiedBytes: number;
}

export class InboundFramer {
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private start = 0;
  private filled = 0;
  private modeValue: FramerMode = 'ident';
  private tagBytes = 0;
  private serverCipher: string | undefined;
  /** Set once the connection is set up (connect.ts): lending starts then, not during the handshake. */
  private lendingAllowed = false;
  /** Open exec channels: their streams keep what they are given. */
  private holds = 0;
  private lentBytes = 0;
  private copiedBytes = 0;

  /** `deliver` gets each run of whole units, in order, synchronously; it must not keep a chunk unless told it is a copy. */
  constructor(private readonly deliver: (chunk: Buffer) => void) {}

  /** Where the next socket read goes (`onread.buffer`). */
  readBuffer(): Buffer {
    return this.buffer.subarray(this.filled, this.filled + MAX_READ_BYTES);
  }

  /** `n` bytes were read into readBuffer() (`onread.callback`). */
  onRead(n: number): void {
    this.filled += n;
    this.drain();
  }

  /**
   * The server→client cipher, from ssh2's 'handshake' event (after each key exchange). Bytes waiting for it
   * go on from a fresh turn of the event loop: after a re-key this is called while ssh2 is still parsing.
   */
  setServerCipher(name: string): void {
    if (this.serverCipher !== undefined && this.serverCipher !== name && this.modeValue === 'aead') {
      // A re-key that changed the cipher: the packets after its NEWKEYS were framed the old way. No server
      // does this (both algorithm lists are the same as the first time), but never guess: stop framing.
      this.modeValue = 'opaque';
    }
    this.serverCipher = name;
    if (this.modeValue === 'keys') {
      this.enterCipherFraming(name);
      setImmediate(() => this.drain());
    }
  }

  /** The connection is set up: from now on chunks may be lent (see the file comment). */
  allowLending(): void {
    this.lendingAllowed = true;
  }

  /** While held, chunks are delivered as copies; returns the release (call it once the channel is closed). */
  hold(): () => void {
    this.holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
    };
  }

  stats(): FramerStats {
    return { mode: this.modeValue, lentBytes: this.lentBytes, copiedBytes: this.copiedBytes };
  }

  // ---- framing ----

  /** Hands on every whole unit that has arrived, following the mode as it changes. */
  private drain(): void {
    for (;;) {
      const mode = this.modeValue;
      const end = this.wholeUnitsEnd();
      const progressed = end > this.start;
      if (progressed) {
        const chunk = this.buffer.subarray(this.start, end);
        this.start = end;
        this.hand(chunk, mode);
      }
      if (!progressed && this.modeValue === mode) break;
    }
    this.makeRoom();
  }

  /** End of the whole units in [start, filled) for the current mode (stopping right after a first NEWKEYS). */
  private wholeUnitsEnd(): number {
    switch (this.modeValue) {
      case 'ident': return this.lineEnd();
      case 'clear': return this.clearPacketsEnd();
      case 'keys': return this.waitForCipher();
      case 'aead': return this.aeadPacketsEnd();
      case 'opaque': return this.filled;
    }
  }

  private lineEnd(): number {
    const newline = this.buffer.indexOf(0x0a, this.start);
    if (newline < 0 || newline >= this.filled) {
      if (this.filled - this.start > MAX_LINE_BYTES) this.modeValue = 'opaque';
      return this.start;
    }
    const end = newline + 1;
    if (this.buffer.toString('latin1', this.start, this.start + 4) === 'SSH-') this.modeValue = 'clear';
    return end;
  }

  private clearPacketsEnd(): number {
    let p = this.start;
    while (this.filled - p >= 4) {
      const length = this.buffer.readUInt32BE(p);
      if (length < 5 || length > MAX_PACKET_BYTES) {
        this.modeValue = 'opaque';
        return p;
      }
      if (this.filled - p < 4 + length) break;
      const type = this.buffer[p + 5];
      p += 4 + length;
      if (type === MSG_NEWKEYS) {
        if (this.serverCipher === undefined) this.modeValue = 'keys';
        else this.enterCipherFraming(this.serverCipher);
        break;
      }
    }
    return p;
  }

  private aeadPacketsEnd(): number {
    let p = this.start;
    while (this.filled - p >= 4) {
      const length = this.buffer.readUInt32BE(p);
      // RFC 5647 §7.2: the encrypted part is a whole number of 16-byte blocks.
      if (length < 16 || length % 16 !== 0 || length > MAX_PACKET_BYTES) {
        this.modeValue = 'opaque';
        return p;
      }
      const total = 4 + length + this.tagBytes;
      if (this.filled - p < total) break;
      p += total;
    }
    return p;
  }

  private waitForCipher(): number {
    if (this.filled - this.start > MAX_WAITING_BYTES) this.modeValue = 'opaque';
    return this.start;
  }

  /** The packets after the first NEWKEYS are those of `cipher`. */
  private enterCipherFraming(cipher: string): void {
    const tag = CLEAR_LENGTH_CIPHERS.get(cipher);
    if (tag === undefined) {
      this.modeValue = 'opaque';
      return;
    }
    this.tagBytes = tag;
    this.modeValue = 'aead';
  }

  // ---- delivery and buffer reuse ----

  /** `framedAs`: the mode the chunk was framed in (the first NEWKEYS ends a clear chunk and changes the mode). */
  private hand(chunk: Buffer, framedAs: FramerMode): void {
    if (framedAs === 'aead' && this.lendingAllowed && this.holds === 0) {
      this.lentBytes += chunk.length;
      this.deliver(chunk);
      return;
    }
    this.copiedBytes += chunk.length;
    this.deliver(Buffer.from(chunk));
  }

  /**
   * Keeps room for one whole read: when less is left, the undelivered tail (under one unit) moves to the front
   * and the oldest bytes are overwritten. Never earlier (not even when everything was delivered): a lent packet
   * must stay intact for the next LENT_BYTES_KEPT bytes (see the file comment).
   */
  private makeRoom(): void {
    if (this.buffer.length - this.filled >= MAX_READ_BYTES) return;
    this.buffer.copyWithin(0, this.start, this.filled);
    this.filled -= this.start;
    this.start = 0;
  }
}

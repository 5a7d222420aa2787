/**
 * The socket reader of SSH connections (fs/ssh/inbound-framer.ts) as a parser, on synthetic streams read in
 * any chunking: the bytes reach the receiver in order and unchanged, in whole lines and packets only; AES-GCM
 * packets are lent from the reused buffer only in steady state (set up, no exec channel open); anything it
 * cannot frame is passed on as it comes. Over a real sshd, with forced re-keys: test/ssh-inbound-sshd.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InboundFramer, LENT_BYTES_KEPT } from '../fs/ssh/inbound-framer.js';

const GCM = 'aes128-gcm@openssh.com';

/** A packet before NEWKEYS: length, padding length, type, payload, padding (RFC 4253 §6). */
function clearPacket(type: number, payloadBytes: number): Buffer {
  const padding = 4;
  const length = 1 + 1 + payloadBytes + padding;
  const out = Buffer.alloc(4 + length);
  out.writeUInt32BE(length, 0);
  out[4] = padding;
  out[5] = type;
  randomBytes(payloadBytes).copy(out, 6);
  return out;
}

/** An AES-GCM packet as it travels: clear length (a multiple of 16), ciphertext, 16-byte tag. */
function gcmPacket(blocks: number): Buffer {
  const out = randomBytes(4 + blocks * 16 + 16);
  out.writeUInt32BE(blocks * 16, 0);
  return out;
}

const IDENT = [Buffer.from('a banner line\r\n'), Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian\r\n')];
const HANDSHAKE = [clearPacket(20, 900), clearPacket(31, 500), clearPacket(21, 0)];

interface Delivery {
  /** The chunk as delivered (a view, if lent). */
  readonly chunk: Buffer;
  /** Its bytes at delivery time. */
  readonly bytes: Buffer;
}

/** Feeds `stream` through readBuffer()/onRead() in pseudo-random read sizes (the seed picks them). */
function feed(framer: InboundFramer, stream: Buffer, seed: number, maxRead: number, beforeRead?: (at: number) => void): void {
  let x = seed;
  for (let p = 0; p < stream.length;) {
    beforeRead?.(p);
    x = (x * 1103515245 + 12345) % 2147483648;
    const into = framer.readBuffer();
    const n = Math.min(1 + (x % maxRead), into.length, stream.length - p);
    stream.copy(into, 0, p, p + n);
    framer.onRead(n);
    p += n;
  }
}

function recorder(): { framer: InboundFramer; deliveries: Delivery[] } {
  const deliveries: Delivery[] = [];
  const framer = new InboundFramer((chunk) => deliveries.push({ chunk, bytes: Buffer.from(chunk) }));
  return { framer, deliveries };
}

/** Splits delivered bytes at packet boundaries and checks each chunk held whole GCM packets only. */
function expectWholeGcmPackets(chunk: Buffer): number {
  let p = 0;
  let count = 0;
  while (p < chunk.length) {
    p += 4 + chunk.readUInt32BE(p) + 16;
    count += 1;
  }
  expect(p).toBe(chunk.length);
  return count;
}

describe('SSH inbound framer', () => {
  it('hands on lines and whole packets in order for any read sizes, then lends GCM packets once set up', () => {
    const data = Array.from({ length: 400 }, (_, i) => gcmPacket(1 + ((i * 37) % 2050)));
    const stream = Buffer.concat([...IDENT, ...HANDSHAKE, ...data]);
    for (const [seed, maxRead] of [[1, 7], [2, 1000], [3, 70_000], [4, 1_000_000]] as const) {
      const { framer, deliveries } = recorder();
      framer.setServerCipher(GCM);
      framer.allowLending();
      feed(framer, stream, seed, maxRead);
      expect(Buffer.concat(deliveries.map((d) => d.bytes)).equals(stream)).toBe(true);
      expect(framer.stats().mode).toBe('aead');
      // The identification lines arrive one by one, each whole; the handshake packets as copies.
      expect(deliveries[0]!.bytes.equals(IDENT[0]!)).toBe(true);
      expect(deliveries[1]!.bytes.equals(IDENT[1]!)).toBe(true);
      const handshakeBytes = HANDSHAKE.reduce((n, b) => n + b.length, 0);
      let seen = IDENT[0]!.length + IDENT[1]!.length;
      let index = 2;
      while (seen < IDENT[0]!.length + IDENT[1]!.length + handshakeBytes) seen += deliveries[index++]!.bytes.length;
      expect(seen).toBe(IDENT[0]!.length + IDENT[1]!.length + handshakeBytes); // NEWKEYS ends a delivery
      const packets = deliveries.slice(index).reduce((n, d) => n + expectWholeGcmPackets(d.bytes), 0);
      expect(packets).toBe(data.length);
      const { lentBytes, copiedBytes } = framer.stats();
      expect(lentBytes).toBe(data.reduce((n, b) => n + b.length, 0));
      expect(copiedBytes).toBe(stream.length - lentBytes);
    }
  });

  it('a lent packet stays intact while the next 1 MiB arrive; copies stay intact for ever', () => {
    const data = Array.from({ length: 300 }, () => gcmPacket(2047)); // ~10 MiB of 32 KiB packets
    const stream = Buffer.concat([...IDENT, ...HANDSHAKE, ...data]);
    const { framer, deliveries } = recorder();
    framer.setServerCipher(GCM);
    framer.allowLending();
    // deliveredAt[i]: how many bytes had arrived when delivery i was made (checked before each read).
    const deliveredAt: number[] = [];
    feed(framer, stream, 5, 400_000, (arrived) => {
      while (deliveredAt.length < deliveries.length) deliveredAt.push(arrived);
      deliveries.forEach((d, i) => {
        if (arrived - deliveredAt[i]! < LENT_BYTES_KEPT) expect(d.chunk.equals(d.bytes)).toBe(true);
      });
    });
    // The buffer was reused: some early lent chunk has been overwritten by now (the test above is not vacuous).
    expect(deliveries.some((d) => !d.chunk.equals(d.bytes))).toBe(true);
    // Deliveries up to the first NEWKEYS were copies: still intact.
    const handshakeBytes = Buffer.concat([...IDENT, ...HANDSHAKE]).length;
    let offset = 0;
    for (const d of deliveries) {
      if (offset >= handshakeBytes) break;
      expect(d.chunk.equals(d.bytes)).toBe(true);
      offset += d.bytes.length;
    }
    expect(offset).toBe(handshakeBytes);
  });

  it('copies while set up is not finished or an exec channel is open', () => {
    const data = Array.from({ length: 50 }, () => gcmPacket(100));
    const { framer, deliveries } = recorder();
    framer.setServerCipher(GCM);
    feed(framer, Buffer.concat([...IDENT, ...HANDSHAKE, ...data.slice(0, 10)]), 6, 5000);
    expect(framer.stats().lentBytes).toBe(0);
    framer.allowLending();
    const release = framer.hold();
    feed(framer, Buffer.concat(data.slice(10, 30)), 7, 5000);
    expect(framer.stats().lentBytes).toBe(0);
    release();
    release(); // releasing twice counts once
    feed(framer, Buffer.concat(data.slice(30)), 8, 5000);
    expect(framer.stats().lentBytes).toBe(data.slice(30).reduce((n, b) => n + b.length, 0));
    expect(deliveries.length).toBeGreaterThan(3);
  });

  it('bytes after NEWKEYS wait for the cipher name, then go on from a fresh turn of the event loop', async () => {
    const data = Array.from({ length: 3 }, () => gcmPacket(4));
    const { framer, deliveries } = recorder();
    feed(framer, Buffer.concat([...IDENT, ...HANDSHAKE, ...data]), 9, 100_000);
    expect(framer.stats().mode).toBe('keys');
    const handedOn = Buffer.concat(deliveries.map((d) => d.bytes)).length;
    expect(handedOn).toBe(Buffer.concat([...IDENT, ...HANDSHAKE]).length);
    const before = deliveries.length;
    framer.setServerCipher(GCM);
    expect(deliveries.length).toBe(before); // nothing synchronously: ssh2 may be in the middle of parsing
    await new Promise((resolve) => setImmediate(resolve));
    expect(deliveries.length).toBeGreaterThan(before);
    expect(Buffer.concat(deliveries.map((d) => d.bytes)).equals(Buffer.concat([...IDENT, ...HANDSHAKE, ...data]))).toBe(true);
    expect(framer.stats().mode).toBe('aead');
  });

  const opaqueCases: [string, (framer: InboundFramer) => void, Buffer][] = [
    ['a cipher whose length is encrypted (chacha20-poly1305)', (f) => f.setServerCipher('chacha20-poly1305@openssh.com'), Buffer.concat([...IDENT, ...HANDSHAKE, randomBytes(100_000)])],
    ['a GCM length that is not a whole number of blocks', (f) => f.setServerCipher(GCM), Buffer.concat([...IDENT, ...HANDSHAKE, gcmPacket(3), Buffer.from([0, 0, 0, 17]), randomBytes(5000)])],
    ['a clear packet longer than any server sends', (f) => f.setServerCipher(GCM), Buffer.concat([...IDENT, Buffer.from([0x7f, 0, 0, 0]), randomBytes(3000)])],
    ['no line end in the first 8 KiB', () => undefined, randomBytes(20_000).fill(0x41)],
  ];
  for (const [name, setup, stream] of opaqueCases) {
    it(`passes everything on unchanged after ${name}`, () => {
      const { framer, deliveries } = recorder();
      setup(framer);
      framer.allowLending();
      feed(framer, stream, 10, 4000);
      expect(framer.stats().mode).toBe('opaque');
      expect(Buffer.concat(deliveries.map((d) => d.bytes)).equals(stream)).toBe(true);
      // Nothing is lent once it cannot frame: every delivery is still intact.
      for (const d of deliveries) expect(d.chunk.equals(d.bytes)).toBe(true);
    });
  }

  it('a re-key that changes the cipher stops the framing', () => {
    const { framer, deliveries } = recorder();
    framer.setServerCipher(GCM);
    framer.allowLending();
    const first = Buffer.concat([...IDENT, ...HANDSHAKE, gcmPacket(10)]);
    feed(framer, first, 11, 3000);
    framer.setServerCipher('chacha20-poly1305@openssh.com');
    const rest = randomBytes(9000);
    feed(framer, rest, 12, 3000);
    expect(framer.stats().mode).toBe('opaque');
    expect(Buffer.concat(deliveries.map((d) => d.bytes)).equals(Buffer.concat([first, rest]))).toBe(true);
  });
});

/**
 * The SFTP reply assembler (fs/ssh/sftp-reply-assembler.ts) as a parser: any chunking of a packet stream
 * reaches ssh2's parser as whole packets; only DATA replies whose request owns a buffer are lent (from its
 * scratch buffer, or from the chunk itself, which the socket reader reuses), every other packet is a copy that
 * stays intact. (Over a real sshd it runs in
 * every SFTP test: fs/ssh/connect.ts installs it on each connection.)
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAssembler } from '../fs/ssh/sftp-reply-assembler.js';

const DATA = 103;
const HANDLE = 102;

function packet(type: number, id: number, body: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32BE(5 + body.length, 0);
  head[4] = type;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, body]);
}

/** Splits `stream` into chunks of pseudo-random sizes (deterministic: the seed picks them). */
function chunks(stream: Buffer, seed: number, max: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let p = 0; p < stream.length;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const size = 1 + (x % max);
    out.push(Buffer.from(stream.subarray(p, p + size))); // each chunk its own memory, like socket reads
    p += size;
  }
  return out;
}

describe('SFTP reply assembler', () => {
  it('passes whole packets for any chunking; packets it does not lend are copies that stay intact', () => {
    const packets = [
      packet(HANDLE, 1, randomBytes(20)),
      packet(DATA, 2, randomBytes(70_000)),
      packet(DATA, 3, randomBytes(10)),
      packet(HANDLE, 4, randomBytes(5000)),
      packet(DATA, 5, randomBytes(100_000)),
      packet(101, 6, randomBytes(3)),
      packet(DATA, 7, randomBytes(40_000)), // a DATA reply whose request brought no buffer: must be a copy
    ];
    const stream = Buffer.concat(packets);
    for (const [seed, max] of [[1, 3], [2, 32_768], [3, 7000], [4, 200_000]] as const) {
      const seen: { packet: Buffer; copyOfIt: Buffer }[] = [];
      const push = createAssembler((chunk) => {
        expect(chunk).not.toBeNull();
        seen.push({ packet: chunk!, copyOfIt: Buffer.from(chunk!) });
        return undefined;
      }, (id) => id !== 7, 256 * 1024);
      for (const chunk of chunks(stream, seed, max)) {
        push(chunk);
        chunk.fill(0xee); // the socket reader reuses its buffer once the chunk has been parsed
      }
      expect(seen.map((s) => s.copyOfIt.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
      seen.forEach((s, i) => {
        const type = packets[i]![4];
        const id = packets[i]!.readUInt32BE(5);
        // Lent DATA replies may be overwritten by later packets; everything else must still hold its bytes.
        if (!(type === DATA && id !== 7)) expect(s.packet.equals(packets[i]!)).toBe(true);
      });
    }
  });

  it('a length ssh2 would reject goes to ssh2 unchanged, which reports it', () => {
    const got: Buffer[] = [];
    const push = createAssembler((chunk) => { got.push(Buffer.from(chunk!)); return undefined; }, () => true, 1000);
    const bad = Buffer.alloc(12);
    bad.writeUInt32BE(5000, 0);
    push(bad.subarray(0, 2));
    push(bad.subarray(2));
    expect(Buffer.concat(got).equals(bad)).toBe(true);
  });

  it('stops where the parser says stop (false), like ssh2 does', () => {
    const calls: number[] = [];
    const push = createAssembler((chunk) => { calls.push(chunk!.readUInt32BE(5)); return false; }, () => true, 1000);
    expect(push(Buffer.concat([packet(HANDLE, 1, Buffer.alloc(1)), packet(HANDLE, 2, Buffer.alloc(1))]))).toBe(false);
    expect(calls).toEqual([1]);
  });

  it('end of stream (null) reaches the parser', () => {
    const got: (Buffer | null)[] = [];
    createAssembler((chunk) => { got.push(chunk); return undefined; }, () => true, 1000)(null);
    expect(got).toEqual([null]);
  });
});

/**
 * The SSH receive window of SFTP channels, sized to the link. ssh2 gives every channel a fixed 2 MiB window
 * (MAX_WINDOW in ssh2/lib/Channel.js) and tops it up only when it falls to 1 MiB; the server may not send more
 * than the window before a CHANNEL_WINDOW_ADJUST (RFC 4254 §5.2). Over a 20 ms link that caps one channel at
 * roughly 1–2 MiB per round trip however many READs are in flight (sshfs#300 is the same limit in another
 * guise), so the window grows with the connection's round trip (bandwidth × delay, as TCP sizes its own).
 *
 * Not larger than that: when the window exceeds what the link holds, a server that outpaces us queues the
 * difference in its own buffers. Measured at 0 ms RTT: with a 16 MiB window, OpenSSH's sshd spent
 * 60–80 % more CPU during a 256 MiB read (its output buffer grew while the mount's first read warmed up), and
 * on 2 cores that CPU came out of the read. We send the same WINDOW_ADJUST message ssh2 sends.
 */
import type { SshConnection } from '../ssh/types.js';

interface ChannelInternals {
  incoming?: { window: number };
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { channelWindowAdjust(id: number, amount: number): void } };
}

/** ssh2's own window: enough when the round trip is short. */
export const MIN_RECEIVE_WINDOW = 2 * 1024 * 1024;
export const MAX_RECEIVE_WINDOW = 16 * 1024 * 1024;
/** The rate one SFTP channel is sized for: at 20 ms this asks for the maximum window. */
const SIZED_FOR_BYTES_PER_MS = 800 * 1024;

/** The window for a connection whose round trip is `roundTripMs`. */
export function receiveWindowFor(roundTripMs: number): number {
  const wanted = Number.isFinite(roundTripMs) ? roundTripMs * SIZED_FOR_BYTES_PER_MS : MAX_RECEIVE_WINDOW;
  return Math.round(Math.min(MAX_RECEIVE_WINDOW, Math.max(MIN_RECEIVE_WINDOW, wanted)));
}

/** Tops the SFTP channel's receive window up to the connection's size once it has fallen below half of it. */
export function topUpReceiveWindow(conn: SshConnection): void {
  const target = receiveWindowFor(conn.roundTripMs);
  const ch = conn.sftp as unknown as ChannelInternals;
  const protocol = ch._client?._protocol;
  if (!ch.incoming || !ch.outgoing || ch.outgoing.state !== 'open' || !protocol) return;
  const amount = target - ch.incoming.window;
  if (amount < target / 2) return; // batch the adjustments, as ssh2 does at half its window
  ch.incoming.window += amount;
  protocol.channelWindowAdjust(ch.outgoing.id, amount);
}

/**
 * A larger SSH receive window for SFTP channels. ssh2 gives every channel a fixed 2 MiB window (MAX_WINDOW
 * in ssh2/lib/Channel.js) and tops it up only when it falls to 1 MiB; the server may not send more than the
 * window before a CHANNEL_WINDOW_ADJUST (RFC 4254 §5.2). Over a 20 ms link that caps one channel at roughly
 * 1–2 MiB per round trip however many READs are in flight (sshfs#300 is the same limit in another guise).
 * We send the same WINDOW_ADJUST message ssh2 sends, keeping the window near `target`. The SFTP channel
 * parses incoming data as it arrives (it is not a buffered stream), so a bigger window costs no memory.
 */
import type { SFTPWrapper } from 'ssh2';

interface ChannelInternals {
  incoming?: { window: number };
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { channelWindowAdjust(id: number, amount: number): void } };
}

export const SFTP_RECEIVE_WINDOW = 16 * 1024 * 1024;

/** Tops the channel's receive window up to `target` once it has fallen below half of it. */
export function topUpReceiveWindow(sftp: SFTPWrapper, target = SFTP_RECEIVE_WINDOW): void {
  const ch = sftp as unknown as ChannelInternals;
  const protocol = ch._client?._protocol;
  if (!ch.incoming || !ch.outgoing || ch.outgoing.state !== 'open' || !protocol) return;
  const amount = target - ch.incoming.window;
  if (amount < target / 2) return; // batch the adjustments, as ssh2 does at half its window
  ch.incoming.window += amount;
  protocol.channelWindowAdjust(ch.outgoing.id, amount);
}

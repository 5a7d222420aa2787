/** Loopback helpers the reference servers (Apache, nginx, php-fpm) share: a free port, waiting for a listener. */
export { freePort } from '../harness/sshd.js';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits until something accepts connections on 127.0.0.1:port or the Unix socket `path` (100 tries, 50 ms
 * apart); false when it never did or `exited()` became true first.
 */
export async function waitForListener(target: number | string, exited: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target);
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return true;
    if (exited()) return false;
    await delay(50);
  }
  return false;
}

/** The pure parts of `up`/`down`: backoff schedule, mount table parsing, child messages, mount arguments. */
import { describe, expect, it } from 'vitest';
import { BACKOFF, nextDelayMs } from '../cli/up/backoff.js';
import { parseMacMountOutput, parseProcMounts } from '../cli/up/mount-table.js';
import { messageOf } from '../cli/up/run-self.js';
import { exitCodeOf, mountArgs } from '../cli/up/up.js';

describe('backoff', () => {
  it('doubles from 1 s up to 30 s and never passes the deadline', () => {
    const now = 0;
    const far = 10 * 60_000;
    expect([0, 1, 2, 3, 4, 5, 6, 9].map((attempt) => nextDelayMs(attempt, now, far)))
      .toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(nextDelayMs(3, 10_000, 12_500)).toBe(2500);
    expect(nextDelayMs(0, 5_000, 5_000)).toBeUndefined();
    expect(BACKOFF.maxMs).toBe(30_000);
  });

  it('a whole schedule for --wait 60 sums to at most 60 s', () => {
    let now = 0;
    const deadline = 60_000;
    const delays: number[] = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      const delay = nextDelayMs(attempt, now, deadline);
      if (delay === undefined) break;
      delays.push(delay);
      now += delay;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 29000]);
  });
});

describe('mount tables', () => {
  it('parses /proc/self/mounts with octal escapes', () => {
    const text = [
      'proc /proc proc rw,nosuid 0 0',
      'deploy@h:/var/www /home/u/remote\\040site fuse.devmount rw,nosuid 0 0',
      'x /tmp/tab\\011and\\134slash tmpfs rw 0 0',
      '',
    ].join('\n');
    expect([...parseProcMounts(text)]).toEqual(['/proc', '/home/u/remote site', '/tmp/tab\tand\\slash']);
  });

  it('parses macOS mount(8) output', () => {
    const text = [
      '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)',
      'devmount@macfuse0 on /Users/u/remote (site) (macfuse, nodev, nosuid, synchronous, mounted by u)',
      '',
    ].join('\n');
    expect([...parseMacMountOutput(text)]).toEqual(['/', '/Users/u/remote (site)']);
  });
});

describe('child process messages', () => {
  it('prefers devmount\'s own one-line message', () => {
    expect(messageOf('connecting…\ndevmount: authentication failed for root@h\n')).toBe('authentication failed for root@h');
  });
  it('after a crash, the error line, not the Node.js version footer', () => {
    const crash = 'file:///x.js:1\n  throw e;\n\nTypeError: boom is not a function\n    at f (file:///x.js:1:1)\n\nNode.js v20.20.2\n';
    expect(messageOf(crash)).toBe('TypeError: boom is not a function');
  });
  it('else the last line', () => {
    expect(messageOf('a\nb\n\n')).toBe('b');
    expect(messageOf('')).toBe('');
  });
});

describe('mount arguments and exit codes', () => {
  it('builds the mount command from a config entry', () => {
    expect(mountArgs({ name: 's', remote: 'u@h:/w', mountpoint: '/m', port: 2222, options: 'ro,reconnect', serve: undefined }))
      .toEqual(['mount', 'u@h:/w', '/m', '-p', '2222', '-o', 'ro,reconnect']);
    expect(mountArgs({ name: 's', remote: 'h:', mountpoint: '/m', port: undefined, options: undefined, serve: undefined }))
      .toEqual(['mount', 'h:', '/m']);
  });
  it('exits with the first failure in config order', () => {
    expect(exitCodeOf([{ code: 0 }, { code: 5 }, { code: 4 }])).toBe(5);
    expect(exitCodeOf([{ code: 0 }, { code: 0 }])).toBe(0);
    expect(exitCodeOf([])).toBe(0);
  });
});

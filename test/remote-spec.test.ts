import { describe, expect, it } from 'vitest';
import { parseRemoteSpec, RemoteSpecError } from '../fs/remote-spec.js';
import { translateError } from '../cli/translate-error.js';
import { ExitCode } from '../cli/exit-codes.js';

const valid: Record<string, { user?: string; host: string; path: string }> = {
  'deploy@example.com:/var/www': { user: 'deploy', host: 'example.com', path: '/var/www' },
  'example.com:/var/www': { host: 'example.com', path: '/var/www' },
  'example.com:': { host: 'example.com', path: '' },
  'deploy@example.com:': { user: 'deploy', host: 'example.com', path: '' },
  'host:relative/dir': { host: 'host', path: 'relative/dir' },
  'user@[::1]:/path': { user: 'user', host: '::1', path: '/path' },
  '[fe80::1%eth0]:': { host: 'fe80::1%eth0', path: '' },
  'me@corp.com@host:/srv': { user: 'me@corp.com', host: 'host', path: '/srv' },
  'host:/path/with:colon@and-at': { host: 'host', path: '/path/with:colon@and-at' },
  'myalias:/srv/www': { host: 'myalias', path: '/srv/www' },
  '10.0.0.5:/x': { host: '10.0.0.5', path: '/x' },
};

const invalid: Record<string, RegExp> = {
  'example.com': /no ":"/,
  '': /no ":"/,
  ':/var/www': /host is empty/,
  '@host:/x': /user before "@" is empty/,
  '::1:/path': /host is empty/,
  './local:dir': /local path/,
  '-oProxyCommand=evil:/x': /cannot start with "-"/,
  'user@[example.com]:/x': /not an IPv6 address/,
  'us er@host:/x': /not a valid user name/,
};

describe('parseRemoteSpec', () => {
  for (const [spec, expected] of Object.entries(valid)) {
    it(`parses ${JSON.stringify(spec)}`, () => {
      expect(parseRemoteSpec(spec)).toEqual(expected);
    });
  }
  for (const [spec, why] of Object.entries(invalid)) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      let caught: unknown;
      try {
        parseRemoteSpec(spec);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RemoteSpecError);
      expect((caught as Error).message).toMatch(why);
      expect((caught as Error).message).toContain('expected [user@]host:[path]');
      const userError = translateError(caught);
      expect(userError.exitCode).toBe(ExitCode.usage);
      expect(userError.message).not.toContain('\n');
    });
  }
});

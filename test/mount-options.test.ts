/** The `-o` parser shared by mount, serve, up and backup: spellings, defaults, errors, the SSH part. */
import { describe, expect, test } from 'vitest';
import {
  MOUNT_OPTION_DEFAULTS, parseOptionList, resolveMountCommandOptions, SUPPORTED_OPTIONS, toSshOverrides, type MountOptions,
} from '../cli/mount-options.js';
import { UserError } from '../cli/user-error.js';
import { ExitCode } from '../cli/exit-codes.js';

const accepted: Array<[string[], Partial<MountOptions>]> = [
  [['Port=2222'], { port: 2222 }],
  [['port=2222'], { port: 2222 }], // ssh_config keywords are case-insensitive
  [['IdentityFile=/k/a,IdentityFile=/k/b'], { identityFiles: ['/k/a', '/k/b'] }],
  [['UserKnownHostsFile=/tmp/kh'], { knownHostsFile: '/tmp/kh' }],
  [['StrictHostKeyChecking=accept-new'], { strictHostKeyChecking: 'accept-new' }],
  [['StrictHostKeyChecking=no'], { strictHostKeyChecking: 'no' }],
  [['ServerAliveInterval=15', 'ServerAliveCountMax=3'], { serverAliveInterval: 15, serverAliveCountMax: 3 }],
  [['ConnectTimeout=5'], { connectTimeout: 5 }],
  [['noreconnect'], { reconnect: false }],
  [['noreconnect,reconnect'], { reconnect: true }], // later options win, as in mount(8)
  [['cache=no'], { cache: false }],
  [['dir_cache=no'], { cache: false }],
  [['cache_timeout=5'], { cacheTimeout: 5, dcacheTimeout: 5, negativeTimeout: 5 }],
  [['dcache_timeout=60,cache_timeout=5'], { cacheTimeout: 5, dcacheTimeout: 60, negativeTimeout: 5 }],
  [['negative_timeout=0.5'], { negativeTimeout: 0.5 }],
  [['attr_timeout=0,entry_timeout=0'], { attrTimeout: 0, entryTimeout: 0 }],
  [['auto_cache'], { autoCache: true }],
  [['idmap=user'], { idmap: 'user' }],
  [['uid=1000,gid=100,umask=022'], { uid: 1000, gid: 100, umask: 0o022 }],
  [['ro'], { readOnly: true }],
  [['allow_other,follow_symlinks'], { allowOther: true, followSymlinks: true }],
  [[''], { containSymlinks: true, transformSymlinks: false }], // containment on by default (sshfs 3.7.6)
  [['no_contain_symlinks'], { containSymlinks: false }],
  [['no_contain_symlinks,contain_symlinks'], { containSymlinks: true }], // the last one wins
  [['contain_symlinks', 'no_contain_symlinks'], { containSymlinks: false }],
  [['transform_symlinks'], { transformSymlinks: true, containSymlinks: true }],
  [['max_conns=4'], { maxConns: 4 }],
  [['op_timeout=90'], { opTimeout: 90 }],
  [['', ' ro ,,'], { readOnly: true }], // empty items are ignored
];

describe('parseOptionList accepts the sshfs and ssh spellings', () => {
  for (const [list, expected] of accepted) {
    test(`-o ${list.join(' -o ')}`, () => {
      const parsed = parseOptionList(list);
      expect(parsed).toMatchObject(expected);
      expect(Object.isFrozen(parsed)).toBe(true);
    });
  }
});

const refused: Array<[string, RegExp]> = [
  ['kernel_magic', /unknown option -o kernel_magic: supported are .*max_conns=N/],
  ['Port=0', /Port=0: expected a whole number from 1 to 65535/],
  ['Port=http', /Port=http/],
  ['cache=maybe', /cache=maybe: expected yes or no/],
  ['cache_timeout=-1', /cache_timeout=-1: expected a number of seconds/],
  ['umask=8', /umask=8: expected octal/],
  ['idmap=file', /idmap=file: expected user or none/],
  ['ro=yes', /ro takes no value/],
  ['IdentityFile', /IdentityFile needs a value/],
  ['StrictHostKeyChecking=maybe', /StrictHostKeyChecking=maybe/],
  ['max_conns=0', /max_conns=0/],
];

describe('parseOptionList refuses bad options with a usage error', () => {
  for (const [option, message] of refused) {
    test(`-o ${option}`, () => {
      let caught: unknown;
      try {
        parseOptionList([option]);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(UserError);
      expect((caught as UserError).exitCode).toBe(ExitCode.usage);
      expect((caught as UserError).message).toMatch(message);
    });
  }
});

test('defaults: reconnect and cache on, sshfs cache timeouts, 1 s kernel timeouts', () => {
  expect(parseOptionList([])).toEqual(MOUNT_OPTION_DEFAULTS);
  expect(MOUNT_OPTION_DEFAULTS).toMatchObject({ reconnect: true, cache: true, cacheTimeout: 20, attrTimeout: undefined, entryTimeout: undefined, opTimeout: 30, maxConns: 2, idmap: 'none' });
});

test('every documented option is listed in SUPPORTED_OPTIONS', () => {
  for (const name of ['Port=N', 'IdentityFile=PATH', 'reconnect', 'noreconnect', 'cache_timeout=N', 'idmap=user|none', 'op_timeout=N']) {
    expect(SUPPORTED_OPTIONS).toContain(name);
  }
});

test('-p wins over -o Port=, and the flags are resolved once', () => {
  const opts = resolveMountCommandOptions({ option: ['Port=2222'], port: '2200', foreground: true, logFormat: 'json' });
  expect(opts).toMatchObject({ port: 2200, foreground: true, debug: false, logFormat: 'json', passwordStdin: false });
  expect(Object.isFrozen(opts)).toBe(true);
  expect(() => resolveMountCommandOptions({ port: '70000' })).toThrow(/-p 70000/);
  expect(() => resolveMountCommandOptions({ logFormat: 'xml' })).toThrow(/--log-format xml/);
});

test('toSshOverrides carries only what was given, in ssh_config units', () => {
  expect(toSshOverrides(parseOptionList([]))).toEqual({});
  expect(toSshOverrides(parseOptionList(['Port=2222,IdentityFile=/k,UserKnownHostsFile=/kh,StrictHostKeyChecking=yes,ServerAliveInterval=5,ServerAliveCountMax=2,ConnectTimeout=7']))).toEqual({
    port: 2222, identityFiles: ['/k'], knownHostsFile: '/kh', strictHostKeyChecking: 'yes', serverAliveInterval: 5, serverAliveCountMax: 2, connectTimeout: 7,
  });
});

test('-d implies -f, as in sshfs (libfuse debug output needs a terminal)', () => {
  expect(resolveMountCommandOptions({ debug: true })).toMatchObject({ debug: true, foreground: true });
  expect(resolveMountCommandOptions({})).toMatchObject({ debug: false, foreground: false });
});

test('relative key paths are made absolute (a daemon changes to /); ~ is left for the SSH layer', () => {
  const opts = parseOptionList(['IdentityFile=keys/id,IdentityFile=~/.ssh/id,UserKnownHostsFile=kh']);
  expect(opts.identityFiles).toEqual([`${process.cwd()}/keys/id`, '~/.ssh/id']);
  expect(opts.knownHostsFile).toBe(`${process.cwd()}/kh`);
});

/**
 * schema/config.schema.json (shipped for editors) and cli/config/validate.ts (what devmount runs) must agree:
 * every example config in the README, and a corpus of broken ones, validate the same way with both. ajv (a
 * devDependency) is the reference JSON Schema validator.
 */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ConfigValidationError, MOUNTPOINT_PATTERN, NAME_PATTERN, REMOTE_PATTERN, validateConfig } from '../cli/config/validate.js';

const schema = JSON.parse(await readFile(new URL('../schema/config.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv({ allErrors: true, strict: true });
const schemaValidates = ajv.compile(schema);

function validatorAccepts(config: unknown): boolean {
  try {
    validateConfig(config);
    return true;
  } catch (err) {
    if (err instanceof ConfigValidationError) return false;
    throw err;
  }
}

async function readmeExamples(): Promise<unknown[]> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- section:autostart -->');
  const end = readme.indexOf('<!-- /section:autostart -->');
  const section = readme.slice(start, end);
  return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? '') as unknown);
}

const ISSUE_EXAMPLE = {
  mounts: {
    site: {
      remote: 'deploy@example.com:/var/www/site', mountpoint: '~/remote/site', port: 22,
      options: 'IdentityFile=~/.ssh/id_ed25519,reconnect', serve: { port: 8080, php: true },
    },
  },
};

const base = { remote: 'deploy@example.com:/var/www/site', mountpoint: '~/remote/site' };
const valid: ReadonlyArray<readonly [string, unknown]> = [
  ['the issue example', ISSUE_EXAMPLE],
  ['no mounts', { mounts: {} }],
  ['$schema key', { $schema: './config.schema.json', mounts: {} }],
  ['minimal mount', { mounts: { site: base } }],
  ['home directory remote', { mounts: { a: { remote: 'host:', mountpoint: '~' } } }],
  ['IPv6 remote', { mounts: { a: { remote: 'me@[::1]:/srv', mountpoint: '/mnt/a' } } }],
  ['serve without keys', { mounts: { a: { ...base, serve: {} } } }],
  ['name with dash and digit', { mounts: { '2nd-site_b': base } }],
  ['port 65535', { mounts: { a: { ...base, port: 65535 } } }],
];
const invalid: ReadonlyArray<readonly [string, unknown]> = [
  ['not an object', ['mounts']],
  ['null', null],
  ['missing mounts', {}],
  ['unknown top-level key', { mounts: {}, extra: 1 }],
  ['mounts is an array', { mounts: [] }],
  ['mount is a string', { mounts: { a: 'host:/x' } }],
  ['missing mountpoint', { mounts: { a: { remote: 'h:/x' } } }],
  ['missing remote', { mounts: { a: { mountpoint: '/x' } } }],
  ['unknown mount key', { mounts: { a: { ...base, mountpiont: '/x' } } }],
  ['port as string', { mounts: { a: { ...base, port: '22' } } }],
  ['port 0', { mounts: { a: { ...base, port: 0 } } }],
  ['port 65536', { mounts: { a: { ...base, port: 65536 } } }],
  ['port fraction', { mounts: { a: { ...base, port: 22.5 } } }],
  ['remote without colon', { mounts: { a: { ...base, remote: 'example.com/var/www' } } }],
  ['remote with space in host', { mounts: { a: { ...base, remote: 'exa mple.com:/x' } } }],
  ['relative mountpoint', { mounts: { a: { ...base, mountpoint: 'remote/site' } } }],
  ['~user mountpoint', { mounts: { a: { ...base, mountpoint: '~bob/site' } } }],
  ['options not a string', { mounts: { a: { ...base, options: ['ro'] } } }],
  ['serve is true', { mounts: { a: { ...base, serve: true } } }],
  ['serve.php string', { mounts: { a: { ...base, serve: { php: 'yes' } } } }],
  ['serve unknown key', { mounts: { a: { ...base, serve: { host: '0.0.0.0' } } } }],
  ['serve.port too big', { mounts: { a: { ...base, serve: { port: 99999 } } } }],
  ['name with space', { mounts: { 'my site': base } }],
  ['name with dot', { mounts: { 'a.b': base } }],
  ['name starting with dash', { mounts: { '-a': base } }],
  ['$schema not a string', { $schema: 1, mounts: {} }],
];

describe('config schema and validator agree', () => {
  it('the README has example configs, and both accept each one', async () => {
    const examples = await readmeExamples();
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      expect(schemaValidates(example), JSON.stringify(ajv.errors)).toBe(true);
      expect(validatorAccepts(example)).toBe(true);
    }
  });

  for (const [what, config] of valid) {
    it(`both accept: ${what}`, () => {
      expect(schemaValidates(config), JSON.stringify(ajv.errors)).toBe(true);
      expect(validatorAccepts(config)).toBe(true);
    });
  }

  for (const [what, config] of invalid) {
    it(`both reject: ${what}`, () => {
      expect(schemaValidates(config)).toBe(false);
      expect(validatorAccepts(config)).toBe(false);
    });
  }

  it('the schema uses the validator\'s patterns', () => {
    const s = schema as {
      properties: { mounts: { propertyNames: { pattern: string } } };
      definitions: { mount: { properties: { remote: { pattern: string }; mountpoint: { pattern: string } } } };
    };
    // RegExp#source escapes "/", which JSON needs not: compare both as compiled by the same constructor.
    const same = (pattern: string, re: RegExp): void => { expect(new RegExp(pattern).source).toBe(re.source); };
    same(s.properties.mounts.propertyNames.pattern, NAME_PATTERN);
    same(s.definitions.mount.properties.remote.pattern, REMOTE_PATTERN);
    same(s.definitions.mount.properties.mountpoint.pattern, MOUNTPOINT_PATTERN);
  });

  it('only devmount checks the option names inside "options" (a schema cannot know them)', () => {
    const config = { mounts: { a: { ...base, options: 'reconnect,turbo' } } };
    expect(schemaValidates(config)).toBe(true);
    expect(validatorAccepts(config)).toBe(false);
  });
});

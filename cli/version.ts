import { readFile } from 'node:fs/promises';

// Read once at start-up from our own package.json, so --version cannot drift from it. Async like every other
// file access in this process: it may end up serving a FUSE mount, where a synchronous call can deadlock.
const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION: string = pkg.version;

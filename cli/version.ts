import { readFileSync } from 'node:fs';

// Read once at start-up from our own package.json (never on a mount), so --version cannot drift from it.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION: string = pkg.version;

/**
 * The ceiling bench:serve measures devmount against: one Node thread answering every request with the same cached
 * buffer (node:http, no routing, no file access, no log), the headers devmount sends for the page precomputed.
 * Usage: node bare-node-server.js FILE PORT. Prints "listening" once it accepts connections.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';

const [file, port] = process.argv.slice(2);
if (file === undefined || port === undefined) {
  process.stderr.write('usage: bare-node-server FILE PORT\n');
  process.exit(2);
}
const body = await readFile(file);
const { mtime } = await stat(file);
const head = Object.freeze([
  'Content-Type', 'text/html; charset=utf-8',
  'Content-Length', String(body.length),
  'ETag', `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`,
  'Last-Modified', mtime.toUTCString(),
  'Cache-Control', 'no-cache',
]);
const server = createServer((req, res) => {
  res.writeHead(200, head as string[]);
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A 100 MB multipart upload through the real CLI (`devmount serve --php`, FastCGI pool by default): the script
// receives every byte, and the server process's peak RSS (VmHWM) grows far less than the body, so the body was
// streamed to php-cgi, not buffered.
const SIZE = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 'u');
const BOUNDARY = 'devmount-boundary-7d1';

async function peakRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

describe('100 MB upload to PHP', () => {
  let dir: string;
  let child: ChildProcess;
  let origin: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'devmount-upload-'));
    await writeFile(path.join(dir, 'upload.php'), `<?php
$f = $_FILES['big'] ?? null;
if ($f === null) { http_response_code(400); echo json_encode(['error' => 'no file', 'files' => $_FILES]); exit; }
echo json_encode(['size' => $f['size'], 'error' => $f['error'], 'md5' => md5_file($f['tmp_name'])]);`);
    child = spawn(process.execPath, ['bin/devmount.js', 'serve', dir, '--port', '0', '--no-livereload', '--php'], { stdio: ['ignore', 'pipe', 'pipe'] });
    origin = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
        if (match) resolve(match[0]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('streams the body to php-cgi without buffering it', async () => {
    const warm = await fetch(`${origin}/upload.php`);
    expect(warm.status).toBe(400);
    const before = await peakRssKiB(child.pid ?? 0);
    const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="big"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
    const md5 = createHash('md5');
    const body = Readable.from((function* () {
      yield head;
      for (let sent = 0; sent < SIZE; sent += CHUNK.length) {
        md5.update(CHUNK);
        yield CHUNK;
      }
      yield tail;
    })());
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(`${origin}/upload.php`, {
        method: 'POST',
        headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': head.length + SIZE + tail.length },
      }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      body.pipe(req);
    });
    expect(JSON.parse(answer)).toEqual({ size: SIZE, error: 0, md5: md5.digest('hex') });
    const after = await peakRssKiB(child.pid ?? 0);
    // Buffering would add at least the body's 100 MiB to the peak; streaming stays within a few socket buffers
    // plus the chunks already sent that the collector has not freed yet (up to 42 MiB seen in a full suite on a
    // loaded 2-core machine, where collections come late), so the bound sits between the two.
    expect(after - before).toBeLessThan(64 * 1024);
  });
});

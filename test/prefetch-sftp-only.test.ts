/**
 * A server without a shell (ForceCommand internal-sftp) makes the metadata prefetch fall
 * back to the READDIR walk, and the whole mount test suite still passes. test/mount-cli.test.ts reads
 * DEVMOUNT_TEST_SFTP_ONLY=1 and starts its sshd with `sftpOnly`; this file runs that suite in a child
 * vitest so both servers are covered on every CI run.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

test('the mount test suite passes against an SFTP-only server', async () => {
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [VITEST, 'run', 'test/mount-cli.test.ts', '--reporter=verbose'], {
      cwd: ROOT,
      env: { ...process.env, DEVMOUNT_TEST_SFTP_ONLY: '1', CI: '1' },
      timeout: 150_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      // vitest colours its summary even without a terminal: strip the ANSI escapes (ECMA-48 SGR) before matching.
      const output = `${stdout}\n${stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output });
    });
  });
  expect(result.output).toMatch(/Tests\s+\d+ passed/);
  expect(result.output).not.toMatch(/Tests\s.*(failed|skipped|todo)/);
  expect(result.code, result.output.slice(-4000)).toBe(0);
}, 160_000);

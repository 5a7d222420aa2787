/**
 * The TTY prompter in a real pseudo-terminal (util-linux `script`): secrets are not echoed, backspace edits,
 * visible questions are answered; no prompter without a TTY. And `--password-stdin` reads the first line.
 * Runs the compiled module (dist/), like the CLI tests: `npx tsc -p .` first.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { readPasswordFromStdin } from '../cli/password-stdin.js';
import { createTtyPrompter } from '../cli/prompter.js';
import { UserError } from '../cli/user-error.js';

const prompterModule = fileURLToPath(new URL('../dist/cli/prompter.js', import.meta.url));

const program = `
const { createTtyPrompter } = await import(${JSON.stringify(prompterModule)});
const p = createTtyPrompter();
if (!p) { console.log('NO-PROMPTER'); process.exit(0); }
const secret = await p.secret('Password: ');
const answer = await p.ask('Continue (yes/no)? ');
console.log('RESULT ' + Buffer.from(JSON.stringify({ secret, answer })).toString('hex'));
`;

/** Runs the program in a pty; each input is typed once the output ends with its prompt. */
async function inPty(inputs: Array<[prompt: string, typed: string]>): Promise<{ output: string; result: unknown }> {
  const dir = await mkdtemp(join(tmpdir(), 'devmount-pty-'));
  try {
    const file = join(dir, 'prompt.mjs');
    await writeFile(file, program);
    return await runInPty(file, inputs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runInPty(file: string, inputs: Array<[prompt: string, typed: string]>): Promise<{ output: string; result: unknown }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', `node ${file}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const pending = [...inputs];
    const timer = setTimeout(() => { child.kill(); reject(new Error(`pty program stuck; output so far: ${output}`)); }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const next = pending[0];
      if (next && output.includes(next[0])) {
        pending.shift();
        child.stdin.write(next[1]);
      }
    });
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(timer);
      child.stdin.destroy();
      const hex = /RESULT ([0-9a-f]+)/.exec(output)?.[1];
      resolve({ output, result: hex ? JSON.parse(Buffer.from(hex, 'hex').toString()) : undefined });
    });
  });
}

describe('TTY prompter', () => {
  it('is absent when stdin or stderr is not a terminal', () => {
    expect(createTtyPrompter(new PassThrough() as unknown as NodeJS.ReadStream, process.stderr)).toBeUndefined();
  });

  it('reads a secret without echo (backspace edits) and a visible answer, in a real pty', async () => {
    const { output, result } = await inPty([['Password: ', 'hunx\u007fter2 \r'], ['Continue (yes/no)? ', 'yes\r']]);
    expect(result).toEqual({ secret: 'hunter2 ', answer: 'yes' });
    expect(output).not.toContain('hunter2');
    expect(output).not.toContain('hunx');
  });
});

describe('--password-stdin', () => {
  it('takes the first line, without its CR/LF but keeping spaces', async () => {
    expect(await readPasswordFromStdin(Readable.from([' pass', ' word \r\nsecond line\n']))).toBe(' pass word ');
    expect(await readPasswordFromStdin(Readable.from(['no newline at all']))).toBe('no newline at all');
  });

  it('empty stdin → usage error', async () => {
    let caught: unknown;
    try {
      await readPasswordFromStdin(Readable.from(['\n']));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).exitCode).toBe(ExitCode.usage);
  });
});

/**
 * The person at the terminal, for host key confirmation, passwords and key passphrases. Questions go to
 * stderr (stdout may be piped), answers come from stdin; secrets are read in raw mode without echo, like
 * ssh's readpassphrase(3). Only one question at a time: parallel connections queue up.
 */
import { createInterface } from 'node:readline';
import type { Prompter } from '../fs/ssh/types.js';
import { UserError } from './user-error.js';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = '\u007f';
const CTRL_H = '\b';
const CTRL_U = '\u0015';

/** undefined when stdin or stderr is not a terminal: then nothing may prompt (scripts, cron, daemons). */
export function createTtyPrompter(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Prompter | undefined {
  if (!input.isTTY || !output.isTTY) return undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work, work);
    queue = result.catch(() => undefined); // a failed question must not block the next one; its caller sees the error
    return result;
  };
  return Object.freeze({
    ask: (question: string) => serialised(() => askVisible(input, output, question)),
    secret: (question: string) => serialised(() => askHidden(input, output, question)),
  });
}

function askVisible(input: NodeJS.ReadStream, output: NodeJS.WriteStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input, output, terminal: true });
    let answered = false;
    rl.once('SIGINT', () => {
      rl.close();
      reject(new UserError('interrupted', 'interrupted'));
    });
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    // Ctrl-D closes the interface without an answer: treat it as an empty one (a "no").
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

function askHidden(input: NodeJS.ReadStream, output: NodeJS.WriteStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Echo off before the question appears, as readpassphrase(3) does: a fast typist (or a script reacting to
    // the prompt) must not get characters echoed in the gap.
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    output.write(question);
    input.setEncoding('utf8');
    input.resume();
    let answer = '';
    const finish = (err?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === CTRL_D) return finish();
        if (ch === CTRL_C) return finish(new UserError('interrupted', 'interrupted'));
        if (ch === BACKSPACE || ch === CTRL_H) answer = answer.slice(0, -1);
        else if (ch === CTRL_U) answer = '';
        else answer += ch;
      }
    };
    input.on('data', onData);
  });
}

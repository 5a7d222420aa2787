/**
 * The connect timeout (ConnectTimeout) as one budget for TCP connect + SSH handshake + authentication, with
 * the clock stopped while a person is answering a prompt: a slow typist must not cause a "timeout".
 */
import type { Prompter } from './types.js';

export class Deadline {
  readonly #budgetMs: number;
  readonly #onExpire: () => void;
  #spentMs = 0;
  #runningSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pauses = 0;
  #done = false;

  constructor(budgetMs: number, onExpire: () => void) {
    this.#budgetMs = budgetMs;
    this.#onExpire = onExpire;
    this.#run();
  }

  /** Runs `work` with the clock stopped (prompts may nest, e.g. several connections asking at once). */
  async paused<T>(work: () => Promise<T>): Promise<T> {
    this.#pause();
    try {
      return await work();
    } finally {
      this.#resume();
    }
  }

  clear(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): void {
    if (this.#done) return;
    this.#runningSince = Date.now();
    this.#timer = setTimeout(() => {
      this.#done = true;
      this.#onExpire();
    }, Math.max(0, this.#budgetMs - this.#spentMs));
  }

  #pause(): void {
    if (this.#pauses++ > 0 || this.#done) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#runningSince !== undefined) this.#spentMs += Date.now() - this.#runningSince;
    this.#runningSince = undefined;
  }

  #resume(): void {
    if (--this.#pauses > 0) return;
    this.#run();
  }
}

/** A prompter whose questions stop the deadline's clock. */
export function pausingPrompter(prompter: Prompter | undefined, deadline: Deadline): Prompter | undefined {
  if (prompter === undefined) return undefined;
  return {
    ask: (question) => deadline.paused(() => prompter.ask(question)),
    secret: (question) => deadline.paused(() => prompter.secret(question)),
  };
}

/** Bytes written by the application but not yet acknowledged by the server, across all handles. */
export class DirtyBudget {
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get current(): number {
    return this.bytes;
  }

  add(n: number): void {
    this.bytes += n;
  }

  release(n: number): void {
    this.bytes -= n;
  }

  over(): boolean {
    return this.bytes > this.maxBytes;
  }
}

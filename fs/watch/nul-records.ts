/**
 * Splits a byte stream into NUL-terminated records (inotifywait `%0`, `find -printf …\0`): file names may
 * contain newlines, never NUL. Bytes of an unfinished record are kept until the next chunk.
 */
export class NulRecordSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** Returns the complete records in `chunk` (decoded as UTF-8). */
  push(chunk: Buffer): string[] {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const records: string[] = [];
    let start = 0;
    for (let i = data.indexOf(0, start); i !== -1; i = data.indexOf(0, start)) {
      records.push(data.toString('utf8', start, i));
      start = i + 1;
    }
    this.pending = data.subarray(start);
    return records;
  }
}

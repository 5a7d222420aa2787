/**
 * Where a start of `devmount serve user@host:/path` spends its time: named marks in milliseconds since the process
 * began (`performance.now()` counts from the process's time origin, Node's perf_hooks documentation), so the
 * share of Node's own start-up and module loading is in the figures too. The marks are logged as one record
 * (`start-up phases`, with the wall-clock time the process began) when the server listens; the first page's
 * own time is its access-log record. A slow start thus reads from the serve log (docs/performance.md, "Where a
 * start's time goes").
 */

export interface StartTimelineLog {
  info(obj: object, msg: string): void;
}

export interface StartTimeline {
  /** Records `phase` now; a phase marked twice keeps its first time. */
  readonly mark: (phase: string) => void;
  /** Logs every mark so far as one record. */
  report(log: StartTimelineLog): void;
}

const roundMs = (ms: number): number => Math.round(ms);

export function createStartTimeline(): StartTimeline {
  const marks = new Map<string, number>();
  return Object.freeze({
    mark(phase: string) {
      if (!marks.has(phase)) marks.set(phase, roundMs(performance.now()));
    },
    report(log: StartTimelineLog) {
      const processStartedAt = new Date(performance.timeOrigin).toISOString();
      log.info({ processStartedAt, msSinceProcessStart: Object.fromEntries(marks) }, 'start-up phases');
    },
  });
}

/**
 * Runs one CGI-style script for a request and writes its response: builds the environment, streams the request
 * body in and the response out, enforces the timeout, lets the script run on (its output discarded) when the
 * client goes away, logs its stderr with the request id, and reports a local redirect (RFC 3875 §6.2.2) to the caller, which re-dispatches.
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../middleware.js';
import { buildCgiEnv, type CgiScriptFacts } from './env.js';
import type { ScriptExecution, ScriptExecutor } from './executor.js';
import { readCgiResponseHead } from './response-head.js';
import { sendErrorPage } from './error-page.js';
import { spoolBody, type SpooledBody } from './spool.js';
import { publicServerOf } from '../site-url.js';
import { requestBodyOf } from '../request-body.js';

export type RunScriptOutcome =
  | { readonly kind: 'answered' }
  | { readonly kind: 'local-redirect'; readonly location: string };

export interface RunScriptOptions {
  readonly executor: ScriptExecutor;
  readonly timeoutMs: number;
  /** SERVER_SOFTWARE given to scripts (env.ts). */
  readonly serverSoftware: string;
  /** --follow-symlinks: a script reached through a symlink that leads outside the root may run. */
  readonly followSymlinks: boolean;
}

export interface ErrorDocumentFacts {
  readonly status: number;
  readonly url: string;
}

function hasBody(ctx: RequestContext): boolean {
  if (ctx.locals.has('localRedirects')) return false;
  const { headers } = ctx.req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

export async function runScript(ctx: RequestContext, script: CgiScriptFacts,
  options: RunScriptOptions): Promise<RunScriptOutcome> {
  const { req } = ctx;
  const socket = req.socket;
  const server = publicServerOf(ctx);
  const redirected = ctx.locals.has('localRedirects');
  const errorDocument = ctx.locals.get('errorDocument');
  const extra: Record<string, string> = { ...ctx.locals.get('cgiExtraEnv') };
  // Apache runs an ErrorDocument script with the original status and URL in REDIRECT_STATUS/REDIRECT_URL.
  if (errorDocument !== undefined) extra.REDIRECT_URL = errorDocument.url;
  const env = buildCgiEnv({
    // §6.2.2: a local redirect is re-dispatched as a GET without the original body.
    method: redirected ? 'GET' : (req.method ?? 'GET'),
    requestUri: ctx.rawTarget,
    query: ctx.query,
    headers: redirected ? { ...req.headers, 'content-length': undefined, 'content-type': undefined } : req.headers,
    httpVersion: req.httpVersion,
    remoteAddress: socket.remoteAddress ?? '127.0.0.1',
    remotePort: socket.remotePort ?? 0,
    serverName: server.serverName,
    serverPort: server.serverPort,
    https: server.https,
    serverSoftware: options.serverSoftware,
    requestId: ctx.id,
  }, script, extra);
  if (errorDocument !== undefined) env.REDIRECT_STATUS = String(errorDocument.status);

  let body: Readable | null = hasBody(ctx) ? requestBodyOf(ctx) : null;
  let spooled: SpooledBody | null = null;
  if (body !== null && req.headers['content-length'] === undefined) {
    try {
      spooled = await spoolBody(req);
    } catch (err) {
      ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'request body lost while spooling');
      sendErrorPage(ctx, 400, 'Request body incomplete', 'The chunked request body could not be read completely.');
      return { kind: 'answered' };
    }
    env.CONTENT_LENGTH = String(spooled.length);
    body = spooled.open();
  }
  try {
    return await execute(ctx, script, options, env, body);
  } finally {
    await spooled?.remove();
  }
}

/** Above this, a response that has already arrived is streamed anyway rather than copied into one buffer. */
const MAX_SINGLE_WRITE_BYTES = 1024 * 1024;

/**
 * Reads what of the body has already arrived: everything the current socket read delivered has passed through
 * the stream chain (process.nextTick hops) before setImmediate runs, so `complete` says whether the script had
 * finished by then. Never waits for a slow script: a streaming response (flush(), long polling) goes on streaming.
 */
function takeArrivedBody(body: Readable): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (complete: boolean): void => {
      clearImmediate(timer);
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      if (!complete) body.pause();
      resolve({ chunks, complete });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_SINGLE_WRITE_BYTES) finish(false);
    };
    const onEnd = (): void => finish(true);
    // The error stays on the destroyed stream: the pipeline that follows reports it.
    const onError = (): void => finish(false);
    const timer = setImmediate(() => finish(false));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    // readCgiResponseHead hands the body over paused, and a paused stream does not flow for a new 'data' listener.
    body.resume();
  });
}

async function execute(ctx: RequestContext, script: CgiScriptFacts, options: RunScriptOptions,
  env: Record<string, string>, body: Readable | null): Promise<RunScriptOutcome> {
  const { res } = ctx;
  const errorDocument = ctx.locals.get('errorDocument');
  const execution = options.executor.execute({
    scriptFilename: script.scriptFilename,
    env,
    body,
    ini: ctx.locals.get('phpIni'),
    onStderr: (line) => ctx.log.warn({ script: script.scriptName, stderr: line }, 'script stderr'),
  });
  let timedOut = false;
  // The timeout bounds the script, not the response: it stays armed after the client left (below), until the
  // script has finished, so no worker is held longer than --php-timeout.
  const timer = setTimeout(() => {
    timedOut = true;
    execution.abort(`timed out after ${options.timeoutMs} ms`);
  }, options.timeoutMs);
  void execution.finished.then(() => clearTimeout(timer));
  let clientLeft = false;
  const onClose = (): void => {
    if (res.writableFinished) return;
    clientLeft = true;
    // As under nginx + php-fpm, a client that goes away stops the script only where PHP would: the FastCGI
    // connection is closed (executor.ts clientGone), the script stops at its next write unless it called
    // ignore_user_abort(true) (DokuWiki's lib/exe/taskrunner.php sends a 1×1 GIF, then indexes), and a CGI process
    // per request runs on. What output still comes is read and thrown away; --php-timeout bounds it all.
    ctx.log.info({ script: script.scriptName }, 'client went away; the script stops at its next output unless it ignores user aborts');
    execution.clientGone?.();
    execution.stdout.resume();
  };
  res.on('close', onClose);
  try {
    let head;
    try {
      head = await readCgiResponseHead(execution.stdout, outputCompleteOf(execution));
    } catch (err) {
      // The client left before the headers came and the executor closed the script's connection: no answer is
      // owed, and the script ends (or runs on) as it would under nginx.
      if (clientLeft) return { kind: 'answered' };
      execution.abort('unusable response');
      const message = err instanceof Error ? err.message : String(err);
      ctx.log.error({ script: script.scriptName, err: message, timedOut }, 'script failed');
      if (timedOut) {
        sendErrorPage(ctx, 504, 'Script timed out', `${script.scriptName} did not answer within ${options.timeoutMs} ms and was stopped.`);
      } else {
        sendErrorPage(ctx, 502, 'Script failed', `${script.scriptName}: ${message}`);
      }
      return { kind: 'answered' };
    }
    if (head.kind === 'local-redirect' && head.location !== null) {
      head.body.resume();
      await execution.finished;
      return { kind: 'local-redirect', location: head.location };
    }
    if (res.destroyed) {
      // The client left before the script's headers came: nobody to answer; the rest is discarded.
      head.body.resume();
      return { kind: 'answered' };
    }
    for (const [name, value] of head.headers) res.appendHeader(name, value);
    for (const [name, value] of ctx.headers) res.setHeader(name, value);
    res.statusCode = !head.statusGiven && errorDocument !== undefined ? errorDocument.status : head.status;
    if (head.reason !== null) res.statusMessage = head.reason;
    try {
      const early = head.completeBody !== null ? { chunks: [head.completeBody], complete: true } : await takeArrivedBody(head.body);
      if (early.complete) {
        // The whole response is already here (php-cgi writes a small page, its END_REQUEST included, in one go):
        // end() with the body sends head and body in one write with a Content-Length, instead of a chunked
        // head+chunk write and a separate terminating write that wakes the client twice.
        res.end(early.chunks.length === 1 ? early.chunks[0] : Buffer.concat(early.chunks));
      } else {
        for (const chunk of early.chunks) res.write(chunk);
        await streamBody(head.body, res);
      }
    } catch (err) {
      // The script was killed mid-body (timeout) or its output broke; the status line is already sent, so the
      // only thing left to do is to record it.
      ctx.log.warn({ script: script.scriptName, err: err instanceof Error ? err.message : String(err), timedOut },
        'script response interrupted');
      res.destroy();
    }
    return { kind: 'answered' };
  } finally {
    res.off('close', onClose);
  }
}

/** The executor's own word on whether its output has all arrived (executor.ts), else "not known yet". */
function outputCompleteOf(execution: ScriptExecution): () => boolean {
  return execution.outputComplete === undefined ? () => false : () => execution.outputComplete?.() === true;
}

/**
 * Copies the script's body to the response. Unlike stream.pipeline, a response that closes early (the client
 * left) does not destroy the script's stdout: it is unpiped and left flowing, so the script's output is drained
 * (and discarded) until the script ends. Rejects when the script's output fails.
 */
function streamBody(body: Readable, res: RequestContext['res']): Promise<void> {
  if (res.destroyed) {
    body.resume();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      body.off('end', onEnd);
      body.off('error', onError);
      res.off('close', onResClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onEnd = (): void => done();
    const onError = (err: Error): void => done(err);
    const onResClose = (): void => {
      body.unpipe(res);
      body.resume();
      done();
    };
    body.once('end', onEnd);
    body.once('error', onError);
    res.once('close', onResClose);
    body.pipe(res);
  });
}

/**
 * Forwards one HTTP request to an upstream and streams the answer back, both directions with backpressure
 * (pipeline), and one WebSocket (or any Upgrade) connection by splicing the two sockets after the upstream's
 * 101. Hop-by-hop headers are dropped (RFC 9110 §7.6.1); X-Forwarded-For/-Proto/-Host tell the upstream who asked.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ProxyRoute } from './routes.js';
import { upstreamTarget } from './routes.js';

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  // Connection may name further hop-by-hop fields.
  const named = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export function forwardedHeaders(req: IncomingMessage, route: ProxyRoute, keepUpgrade: boolean): OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers);
  const clientIp = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior === undefined || prior === '' ? clientIp : `${String(prior)}, ${clientIp}`;
  headers['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
  if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host;
  // The upstream sees its own name, as most dev servers expect (virtual hosts, Vite's host check).
  headers.host = route.target.host;
  if (keepUpgrade && req.headers.upgrade !== undefined) {
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade;
  }
  return headers;
}

/** Sends req upstream; resolves with the upstream response, or rejects with the connection error. */
export function openUpstream(req: IncomingMessage, route: ProxyRoute, target: string, upgrade: boolean): { request: ReturnType<typeof httpRequest> } {
  const send = route.target.protocol === 'https:' ? httpsRequest : httpRequest;
  const request = send({
    protocol: route.target.protocol,
    hostname: route.target.hostname.replace(/^\[|\]$/g, ''),
    port: route.target.port === '' ? undefined : Number(route.target.port),
    method: req.method,
    path: target,
    headers: forwardedHeaders(req, route, upgrade),
  });
  return { request };
}

/** `body` is what goes up: the client's request stream, or a replacement made by a middleware (request-body.ts). */
export async function forwardRequest(req: IncomingMessage, body: Readable, res: import('node:http').ServerResponse, route: ProxyRoute,
  rawTarget: string, onUpstreamDown: (err: Error) => void): Promise<void> {
  const { request } = openUpstream(req, route, upstreamTarget(route, rawTarget), false);
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  // The client going away cancels the upstream request (and so the upstream's work).
  res.once('close', () => { if (!res.writableFinished) request.destroy(); });
  pipeline(body, request).catch(() => {
    // The request body failed (client aborted, or upstream closed early); `responded` carries the outcome.
  });
  let upstream: IncomingMessage;
  try {
    upstream = await responded;
  } catch (err) {
    onUpstreamDown(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  res.statusCode = upstream.statusCode ?? 502;
  if (upstream.statusMessage) res.statusMessage = upstream.statusMessage;
  for (const [name, value] of Object.entries(withoutHopByHop(upstream.headers))) {
    if (value !== undefined) res.setHeader(name, value);
  }
  try {
    await pipeline(upstream, res);
  } catch {
    // Either side went away mid-body; the status is already sent, so closing both is all that is left.
    res.destroy();
    request.destroy();
  }
}

function statusLine(status: number, message: string): string {
  return `HTTP/1.1 ${status} ${message}\r\n`;
}

/** Splices a client Upgrade request to the upstream. */
export function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: ProxyRoute,
  onError: (err: Error) => void): void {
  const { request } = openUpstream(req, route, upstreamTarget(route, req.url ?? '/'), true);
  socket.on('error', () => request.destroy());
  request.on('upgrade', (upstreamRes: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    let header = statusLine(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage ?? 'Switching Protocols');
    for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) header += `${upstreamRes.rawHeaders[i]}: ${upstreamRes.rawHeaders[i + 1]}\r\n`;
    socket.write(`${header}\r\n`);
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  request.on('response', (upstreamRes: IncomingMessage) => {
    // The upstream refused the upgrade with an ordinary answer: relay it and close.
    let header = statusLine(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '');
    for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) {
      const name = upstreamRes.rawHeaders[i] ?? '';
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      header += `${name}: ${upstreamRes.rawHeaders[i + 1]}\r\n`;
    }
    socket.write(`${header}Connection: close\r\n\r\n`);
    upstreamRes.pipe(socket);
  });
  request.on('error', (err) => {
    onError(err);
    const body = `502 Bad Gateway: upstream ${route.target.origin} is not reachable (${err.message})\n`;
    socket.end(`${statusLine(502, 'Bad Gateway')}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  request.end();
}

import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { lazy, meter } from '../metrics.js';

/** Seconds a client is told to wait before retrying against a server that is draining. */
const DRAIN_RETRY_AFTER_SECONDS = 1;
/** Answered by the probes themselves during a drain (`/ready` says `shutting_down`). */
const PROBES = new Set(['/health', '/ready']);

/** RED per route, for every host and every route it serves (OpenTelemetry HTTP semantics). */
const requestDuration = lazy(() =>
  meter().createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests',
    advice: {
      explicitBucketBoundaries: [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60,
      ],
    },
  }),
);

/**
 * The HTTP server every host uses. Errors Fastify raises before routing (an undecodable URL, a
 * bad header) get the API's error envelope too, and so do requests refused while it drains:
 * from `close()` on, a request arriving on a connection still open is answered 503
 * `SERVICE_UNAVAILABLE` with `Retry-After` and `Connection: close` (Fastify's own answer is a
 * plain `{"error":"Service Unavailable"}`), while the requests already running finish.
 */
export function createHttpApp(
  opts: { logger?: Logger; bodyLimit?: number; trustProxy?: boolean | string[] } = {},
): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger | undefined,
    // Request lines are not logged: usage is recorded as events, errors by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    // Off unless configured: a client must not choose the address per-IP limits count.
    trustProxy: opts.trustProxy ?? false,
    return503OnClosing: false,
    // Requests Node's parser refuses (a malformed header, headers too large) never reach Fastify's
    // routing: answered here, in the envelope too, instead of Fastify's raw default.
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, _req, reply) => {
      (reply as unknown as { code(n: number): { send(b: unknown): void } })
        .code(400)
        .send({ success: false, error: { code: 'VALIDATION_ERROR', message: err.message } });
    },
  }) as unknown as FastifyInstance;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    requestDuration().record(reply.elapsedTime / 1000, {
      'http.request.method': req.method,
      'http.response.status_code': reply.statusCode,
      // Unmatched requests (404s for any path) carry no route: one series, not one per path.
      ...(route ? { 'http.route': route } : {}),
    });
  });
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!draining || PROBES.has(req.url.split('?')[0]!)) return;
    return reply
      .code(503)
      .header('connection', 'close')
      .header('retry-after', String(DRAIN_RETRY_AFTER_SECONDS))
      .send({
        success: false,
        error: { code: 'SERVICE_UNAVAILABLE', message: 'the server is shutting down; try again' },
      });
  });
  return app;
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'PAYLOAD_TOO_LARGE',
    'request headers too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'TIMEOUT', 'request not received in time'],
};

function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    'VALIDATION_ERROR',
    'malformed HTTP request (request line or headers)',
  ];
  const body = JSON.stringify({ success: false, error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

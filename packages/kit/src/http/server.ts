import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';

/**
 * The HTTP server every host uses. Errors Fastify raises before routing (an undecodable URL, a
 * bad header) get the API's error envelope too.
 */
export function createHttpApp(
  opts: { logger?: Logger; bodyLimit?: number; trustProxy?: boolean | string[] } = {},
): FastifyInstance {
  return Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger | undefined,
    // Request lines are not logged: usage is recorded as events, errors by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    // Off unless configured: a client must not choose the address per-IP limits count.
    trustProxy: opts.trustProxy ?? false,
    frameworkErrors: (err, _req, reply) => {
      (reply as unknown as { code(n: number): { send(b: unknown): void } })
        .code(400)
        .send({ success: false, error: { code: 'VALIDATION_ERROR', message: err.message } });
    },
  }) as unknown as FastifyInstance;
}

import type { ErrorCode } from '@chartwright/contracts';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  databaseUnavailable,
  isDatabaseUnavailable,
  ServiceError,
} from '@chartwright/kit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';

export const STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  INVALID_TOKEN: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION_ERROR: 400,
  RATE_LIMIT_EXCEEDED: 429,
  QUOTA_EXCEEDED: 402,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPSTREAM_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/**
 * An error answered to the client as `{success: false, error: {code, message, details?}}`: the
 * kit's `ServiceError`, the same class the services answer with, so one path maps both.
 */
export const ApiError = ServiceError;
export type ApiError = ServiceError;

export const sendError = (reply: FastifyReply, code: ErrorCode, message: string, details?: unknown) => {
  // Every 503 says when to come back: a client's retry loop needs no guess.
  if (code === 'SERVICE_UNAVAILABLE' && !reply.hasHeader('retry-after'))
    reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
  return reply
    .code(STATUS[code])
    .send({ success: false, error: details === undefined ? { code, message } : { code, message, details } });
};

/** Fastify's own 4xx errors, by code, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR',
  FAST_JWT_EXPIRED: 'INVALID_TOKEN',
};

/** Answers every error as the envelope. */
export function apiErrorHandler(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  // The gateway's own database lost (a restart, a failover): 503 with Retry-After, not 500.
  const err = isDatabaseUnavailable(error) ? (databaseUnavailable() as unknown as FastifyError) : error;
  if (err instanceof ServiceError) {
    if (STATUS[err.code] >= 500) req.log.warn({ err }, 'downstream service error');
    // A service that knows when to come back (an upstream's rate or daily limit) says so.
    const retry = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retry === 'number' && retry > 0) reply.header('retry-after', String(Math.ceil(retry)));
    return sendError(reply, err.code, err.message, err.details);
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'request';
    return sendError(
      reply,
      'VALIDATION_ERROR',
      `invalid ${where}: ${err.validation.map((v) => `${fieldOf(v.instancePath)} ${v.message}`).join('; ')}`,
      err.validation.map((v) => ({ field: fieldOf(v.instancePath), in: where, message: v.message })),
    );
  }
  if (isResponseSerializationError(err)) {
    req.log.error({ err }, 'response did not match its schema');
    return sendError(reply, 'INTERNAL', 'internal error');
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return sendError(reply, mapped, err.message);
  const status = err.statusCode ?? 500;
  if (status === 429) return sendError(reply, 'RATE_LIMIT_EXCEEDED', err.message || 'too many requests');
  if (status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 401
        ? 'UNAUTHORIZED'
        : status === 403
          ? 'FORBIDDEN'
          : status === 404
            ? 'NOT_FOUND'
            : status === 413
              ? 'PAYLOAD_TOO_LARGE'
              : status === 415
                ? 'UNSUPPORTED_MEDIA_TYPE'
                : 'VALIDATION_ERROR';
    return reply.code(status).send({ success: false, error: { code, message: err.message } });
  }
  req.log.error({ err }, 'unhandled error');
  return sendError(reply, 'INTERNAL', 'internal error');
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
  );
}

const fieldOf = (instancePath: string) => instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)';

import { z } from 'zod';

/** Error codes of the REST API (design document, "Error Response"). */
export const ErrorCode = z.enum([
  'UNAUTHORIZED',
  'INVALID_TOKEN',
  'FORBIDDEN',
  'NOT_FOUND',
  'VALIDATION_ERROR',
  'RATE_LIMIT_EXCEEDED',
  'QUOTA_EXCEEDED',
  'CONFLICT',
  'IDEMPOTENCY_KEY_REUSED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UPSTREAM_ERROR',
  'SERVICE_UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ApiError = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ApiError = z.infer<typeof ApiError>;

/** `{success: false, error: {code, message, details?}}` */
export const ErrorResponse = z.object({
  success: z.literal(false),
  error: ApiError,
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** `{success: true, data}` */
export const successResponse = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), data });

/**
 * What every DELETE answers: the envelope with what was deleted, plus the design document's
 * `message` for clients written against it.
 */
export const DeletedResponse = z.object({
  success: z.literal(true),
  data: z.object({ id: z.uuid(), deleted: z.literal(true) }),
  message: z.string(),
});
export type DeletedResponse = z.infer<typeof DeletedResponse>;

export const Pagination = z.object({
  total: z.number().int().nonnegative(),
  limit: z.number().int().positive(),
  offset: z.number().int().nonnegative(),
  hasMore: z.boolean(),
});
export type Pagination = z.infer<typeof Pagination>;

/** Query parameters for paged lists; `limit` defaults to 50 and is capped at 100. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type PageQuery = z.infer<typeof PageQuery>;

export const QuotaCounter = z.object({
  used: z.number().int().nonnegative(),
  /** `null` means unlimited (enterprise). */
  limit: z.number().int().nonnegative().nullable(),
  remaining: z.number().int().nonnegative().nullable(),
});
export type QuotaCounter = z.infer<typeof QuotaCounter>;

export const Uuid = z.uuid();

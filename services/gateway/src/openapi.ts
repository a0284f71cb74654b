import { type ErrorCode, ErrorResponse } from '@chartwright/contracts';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { STATUS } from './errors.js';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * Error codes this route answers beyond those its shape implies (see `errorStatuses`), e.g.
     * `['FORBIDDEN']` for a route that checks a role or a signature. Documentation only.
     */
    errors?: readonly ErrorCode[];
    /**
     * The route honours `Prefer: respond-async`: its 202 carries `Location` (and
     * `Preference-Applied`). Documentation only.
     */
    respondAsync?: boolean;
    /** The route may answer 302 to another location (an image still on chart-img.com's CDN). */
    redirects?: boolean;
  }
}

type Json = Record<string, unknown>;
type Operation = Json & {
  operationId?: string;
  parameters?: Json[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, Json>;
  security?: unknown[];
};

const ERROR_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  402: 'QuotaExceeded',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'IdempotencyKeyReused',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'UpstreamError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid (`details` lists each field, where it is and what is wrong).',
  401: 'No credentials, or an unknown, revoked or expired token or API key.',
  402: "The plan's monthly quota is used up.",
  403: 'The credentials do not allow this (a role, an API key where a login token is needed, a bad link signature).',
  404: 'No such resource, or it belongs to another user.',
  409: 'A conflict with existing state, or a request with this `Idempotency-Key` still in progress (retry after `Retry-After`).',
  413: 'The body is larger than the limit.',
  415: 'The body is not `application/json`.',
  422: 'This `Idempotency-Key` was used with a different request.',
  429: 'Too many requests in this window; retry after `Retry-After` seconds.',
  500: 'An unexpected error.',
  502: 'An upstream (the chart renderer, the model API, market data) failed.',
  503: 'A dependency is unavailable for a moment; retry after `Retry-After` seconds.',
  504: 'A service or an upstream did not answer in time.',
};

/** Statuses whose answer says when to come back. */
const RETRY_AFTER = new Set([409, 429, 502, 503]);

const CODES_BY_STATUS = new Map<number, ErrorCode[]>();
for (const [code, status] of Object.entries(STATUS) as [ErrorCode, number][])
  CODES_BY_STATUS.set(status, [...(CODES_BY_STATUS.get(status) ?? []), code]);

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { $ref: '#/components/headers/RateLimit-Limit' },
  'RateLimit-Remaining': { $ref: '#/components/headers/RateLimit-Remaining' },
  'RateLimit-Reset': { $ref: '#/components/headers/RateLimit-Reset' },
};

const components = {
  schemas: {
    ErrorResponse: z.toJSONSchema(ErrorResponse, { target: 'draft-2020-12', io: 'output' }),
  },
  headers: {
    'RateLimit-Limit': {
      description: 'Requests allowed in the current window (the tightest limit that applies).',
      schema: { type: 'integer' },
    },
    'RateLimit-Remaining': {
      description: 'Requests left in the current window.',
      schema: { type: 'integer' },
    },
    'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
    'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
    Location: {
      description: 'Where to follow the accepted work (poll it with GET).',
      schema: { type: 'string' },
    },
    'Preference-Applied': {
      description: '`respond-async` when the request asked for it with `Prefer`.',
      schema: { type: 'string' },
    },
  },
  parameters: {
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Makes the POST safe to retry: the same key with the same request replays the first answer for 24 hours; ' +
        'with another request it is 422; while the first attempt runs it is 409.',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
    },
    Prefer: {
      name: 'Prefer',
      in: 'header',
      required: false,
      description: '`respond-async`: answer 202 at once with a `Location`, without waiting for the result.',
      schema: { type: 'string', examples: ['respond-async'] },
    },
  },
  responses: Object.fromEntries(
    Object.entries(ERROR_NAMES).map(([status, name]) => [
      name,
      {
        description: `${ERROR_DESCRIPTIONS[Number(status)]} Codes: ${(
          CODES_BY_STATUS.get(Number(status)) ?? []
        )
          .map((c) => `\`${c}\``)
          .join(', ')}.`,
        ...(RETRY_AFTER.has(Number(status)) || Number(status) === 429
          ? {
              headers: {
                'Retry-After': { $ref: '#/components/headers/Retry-After' },
                ...(Number(status) === 429 ? RATE_LIMIT_HEADERS : {}),
              },
            }
          : {}),
        // The envelope, with the codes this status carries (a client can narrow on them).
        content: {
          'application/json': {
            schema: {
              allOf: [
                { $ref: '#/components/schemas/ErrorResponse' },
                {
                  type: 'object',
                  properties: {
                    error: {
                      type: 'object',
                      properties: { code: { enum: CODES_BY_STATUS.get(Number(status)) ?? [] } },
                    },
                  },
                },
              ],
            },
          },
        },
      },
    ]),
  ),
};

const TAGS: Record<string, string> = {
  auth: 'Accounts: sign up and log in for a JWT.',
  user: 'The caller: profile, quota and usage.',
  'api-keys': 'API keys for server-to-server use (`X-API-Key`).',
  admin: 'Administration (admin role only).',
  charts: 'Chart generation, history and images.',
  templates: 'Saved chart configurations.',
  analyses: 'AI analyses of charts: trend, signals and levels.',
  webhooks: 'Webhook endpoints, their deliveries and retries.',
  notifications: 'Mail preferences and unsubscribe links.',
  outcomes: 'How signals played out on the bars after their charts, and scorecards.',
  backtests: 'Durable jobs that replay an analyst over history: trades, scorecard, baselines, equity curve.',
  files: 'Files behind signed, expiring links.',
  exports: 'Downloads: chart and analysis reports (PDF, SVG, PNG, JSON) and CSV histories.',
};

const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted' };

/** Methods whose body Fastify reads (a DELETE's too, when it has a content type). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error statuses a route can answer, from its shape: every route may be rate limited (429),
 * fail (500) or lose a dependency (503); input makes 400; credentials 401; path parameters 404;
 * a body 413 and 415; an authenticated POST takes an `Idempotency-Key` (400, 409, 422); the
 * generation and analysis limits go with the monthly quota and an upstream (402, 502); calls to
 * the services may time out (504). `schema.errors` adds what the shape does not tell.
 */
function errorStatuses(method: string, url: string, schema: Json, bucket: unknown): number[] {
  const secured = !(Array.isArray(schema.security) && schema.security.length === 0);
  const statuses = new Set([429, 500, 503]);
  const hasInput = ['body', 'querystring', 'params', 'headers'].some((k) => schema[k] !== undefined);
  if (hasInput || (secured && method === 'POST')) statuses.add(400);
  if (secured) statuses.add(401).add(504);
  if (url.includes(':') || url.includes('*')) statuses.add(404);
  if (BODY_METHODS.has(method)) statuses.add(413).add(415);
  if (secured && method === 'POST') statuses.add(409).add(422);
  if (bucket === 'generate' || bucket === 'analyse') statuses.add(402).add(502);
  for (const code of (schema.errors as ErrorCode[] | undefined) ?? []) statuses.add(STATUS[code]);
  return [...statuses].sort((a, b) => a - b);
}

/**
 * A stable `operationId` for a route that names none: the method and the path, e.g.
 * `GET /v1/charts/:id/image` → `getChartsByIdImage`.
 */
export function deriveOperationId(method: string, url: string): string {
  const pascal = (s: string) =>
    s
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('');
  const parts = url
    .split('/')
    .filter((s) => s && s !== 'v1')
    .map((s) => (s.startsWith(':') ? `By${pascal(s.slice(1))}` : s === '*' ? 'ByPath' : pascal(s)));
  return method.toLowerCase() + parts.join('');
}

/** Per route: the zod schemas as JSON Schema, plus what `finishDocument` turns into references. */
const transform: FastifyDynamicSwaggerOptions['transform'] = (input) => {
  const out = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]) as {
    schema: Json;
    url: string;
  };
  const { route } = input;
  out.schema ??= {};
  const schema = out.schema;
  if (schema.hide) return out;
  const method = String(Array.isArray(route.method) ? route.method[0] : route.method).toUpperCase();
  const secured = !(Array.isArray(schema.security) && schema.security.length === 0);
  schema.operationId ??= deriveOperationId(method, route.url);
  const response = (schema.response ?? {}) as Json;
  // A route answering something other than JSON lists its media types in `produces`: its 200 is
  // that content; its errors stay JSON.
  const produces = schema.produces as string[] | undefined;
  if (produces?.length && !response[200])
    response[200] = {
      description: produces.includes('text/event-stream')
        ? 'A stream of Server-Sent Events'
        : `The content (${produces.join(', ')})`,
      content: Object.fromEntries(
        produces.map((type) => [
          type,
          {
            // A JSON download (an export) is a JSON document; text and binary are strings.
            schema: type.startsWith('application/json')
              ? { type: 'object' }
              : type.startsWith('text/')
                ? { type: 'string' }
                : { type: 'string', format: 'binary' },
          },
        ]),
      ),
    };
  delete schema.produces;
  if (schema.redirects)
    response[302] = {
      description: 'Found: the content is at `Location`',
      headers: { Location: { type: 'string', description: 'Where the content is.' } },
      type: 'null',
    };
  delete schema.redirects;
  // None at all: @fastify/swagger documents a plain 200.
  if (Object.keys(response).length) schema.response = response;
  schema['x-cw-errors'] = errorStatuses(method, route.url, schema, route.config?.rateLimitBucket);
  schema['x-cw-parameters'] = [
    ...(secured && method === 'POST' ? ['IdempotencyKey'] : []),
    ...(schema.respondAsync ? ['Prefer'] : []),
  ];
  if (schema.respondAsync) schema['x-cw-respond-async'] = true;
  delete schema.respondAsync;
  // No body is read as `{}` (see plugins/input.ts): a body that `{}` satisfies is optional.
  const body = (input.schema as { body?: unknown } | undefined)?.body;
  if (body instanceof z.ZodType && body.safeParse({}).success) schema['x-cw-optional-body'] = true;
  delete schema.errors;
  return out;
};

const NAMED_WILDCARD = 'path';

/** The whole document: components, error responses and headers by reference, servers and tags. */
function finishDocument({ openapiObject }: { openapiObject: Json }): Json {
  const doc = openapiObject as Json & {
    paths?: Record<string, Record<string, Operation>>;
    components?: Json;
  };
  const paths: Record<string, Record<string, Operation>> = {};
  const usedTags = new Set<string>();
  for (const [rawPath, ops] of Object.entries(doc.paths ?? {})) {
    // Fastify's wildcard `*` is not a valid parameter name: it becomes `{path}`.
    const path = rawPath.replace('{*}', `{${NAMED_WILDCARD}}`);
    paths[path] = ops;
    for (const op of Object.values(ops)) {
      for (const p of op.parameters ?? []) if (p.in === 'path' && p.name === '*') p.name = NAMED_WILDCARD;
      for (const t of (op.tags as string[] | undefined) ?? []) usedTags.add(t);
      op.responses ??= {};
      const responses = op.responses;
      for (const [status, res] of Object.entries(responses)) {
        if (!status.startsWith('2')) continue;
        if (res.description === 'Default Response') res.description = SUCCESS[status] ?? 'Success';
        res.headers = {
          ...RATE_LIMIT_HEADERS,
          ...(status === '202' && op['x-cw-respond-async']
            ? {
                Location: { $ref: '#/components/headers/Location' },
                'Preference-Applied': { $ref: '#/components/headers/Preference-Applied' },
              }
            : {}),
          ...(res.headers as Json | undefined),
        };
      }
      for (const status of (op['x-cw-errors'] as number[] | undefined) ?? [])
        responses[status] ??= { $ref: `#/components/responses/${ERROR_NAMES[status]}` };
      delete op['x-cw-errors'];
      delete op['x-cw-respond-async'];
      const extra = ((op['x-cw-parameters'] as string[] | undefined) ?? []).map((name) => ({
        $ref: `#/components/parameters/${name}`,
      }));
      if (extra.length) op.parameters = [...(op.parameters ?? []), ...extra];
      delete op['x-cw-parameters'];
      if (op['x-cw-optional-body'] && op.requestBody) op.requestBody.required = false;
      delete op['x-cw-optional-body'];
    }
  }
  const existing = (doc.components ?? {}) as Record<string, Json | undefined>;
  return {
    ...doc,
    tags: [...usedTags].sort().map((name) => (TAGS[name] ? { name, description: TAGS[name] } : { name })),
    paths,
    components: {
      ...existing,
      schemas: { ...existing.schemas, ...components.schemas },
      responses: { ...existing.responses, ...components.responses },
      headers: { ...existing.headers, ...components.headers },
      parameters: { ...existing.parameters, ...components.parameters },
    },
  };
}

/** `@fastify/swagger` options of the REST API. */
export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chartwright API',
        version: '1.0.0',
        description:
          'Trading charts and AI chart analysis. Errors: `{success: false, error: {code, message, details?}}`.',
        license: { name: 'Proprietary', identifier: 'LicenseRef-Chartwright' },
      },
      servers: [{ url: '/', description: 'The server this document was fetched from' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearerAuth: [] }, { apiKey: [] }],
    },
    transform,
    transformObject: finishDocument as FastifyDynamicSwaggerOptions['transformObject'],
  };
}

/** Marks every route of `scope` public (`security: []`) unless it says otherwise. */
export function publicRoutes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: route.schema?.security ?? [] };
  });
}

import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * Text PostgreSQL cannot store: NUL, and UTF-16 surrogates without their pair (jsonb rejects the
 * escape, text columns the byte). Caught here they are a 400 naming the field, not a 500 later.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what is refused
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const MAX_DEPTH = 64;

/**
 * The first unstorable string or key in `value` (its path, e.g. `studies.0.name`, and what is
 * wrong), or a value nested deeper than any request needs (which would also be costly to walk).
 */
export function unstorableField(
  value: unknown,
  path = '',
  depth = 0,
): { field: string; problem: string } | undefined {
  if (typeof value === 'string')
    return UNSTORABLE.test(value)
      ? { field: path, problem: 'contains a NUL character or an unpaired UTF-16 surrogate' }
      : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return { field: path, problem: `is nested more than ${MAX_DEPTH} levels deep` };
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key))
      return { field: at, problem: 'contains a NUL character or an unpaired UTF-16 surrogate' };
    const found = unstorableField(item, at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * What every API request goes through before validation: bodies up to `bodyLimit` bytes, JSON
 * only (anything else is 415), no body read as `{}`, and no unstorable text.
 */
export function registerInputRules(app: FastifyInstance, opts: { bodyLimit: number }): void {
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= opts.bodyLimit;
  });
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text === '') return done(null, undefined);
    parseJson(req, text, done);
  });
  app.addHook('preValidation', async (req) => {
    // No body (or an empty JSON one) is an empty object: a request whose fields are all optional
    // works bare, and one that needs fields gets told which.
    if (req.body === undefined && BODY_METHODS.has(req.method)) req.body = {};
    const parts = { body: req.body, querystring: req.query, params: req.params } as const;
    for (const [where, value] of Object.entries(parts)) {
      const found = unstorableField(value);
      if (found === undefined) continue;
      const field = found.field || where;
      throw new ApiError('VALIDATION_ERROR', `invalid ${where}: ${field} ${found.problem}`, [
        { field, in: where, message: found.problem },
      ]);
    }
  });
}

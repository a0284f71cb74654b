import { ObjectStoreError, verifyObjectSignature } from '@chartwright/object-store';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { RouteDeps } from './deps.js';

// Loose on purpose: a missing or malformed signature is a 403, not a validation error.
const SignedQuery = z.object({
  expires: z.string().max(32).optional(),
  signature: z.string().max(128).optional(),
});

/**
 * `GET /v1/files/*`: an object behind a signed, expiring link (see `signObjectUrl`). No token:
 * the signature is the permission, so a chart image can be embedded in a chat or a page.
 */
export async function fileRoutes(app: FastifyInstance, ctx: GatewayContext, _deps: RouteDeps): Promise<void> {
  const signing = ctx.signing;
  if (!signing) {
    ctx.logger.warn('no signing settings: /v1/files is not served');
    return;
  }
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/files/*',
    {
      schema: {
        tags: ['files'],
        operationId: 'getFile',
        produces: ['image/png', 'image/svg+xml', 'application/pdf', 'text/csv'],
        errors: ['FORBIDDEN'],
        summary: 'Fetch a file through a signed link',
        description:
          'The `url` of a chart is a link to this route, signed and valid until `expires`. ' +
          'Answers the file itself; 403 for a bad or expired signature, 404 when the file is gone.',
        security: [],
        params: z.object({ '*': z.string() }),
        querystring: SignedQuery,
      },
    },
    async (req, reply) => {
      const key = req.params['*'];
      const check = verifyObjectSignature({
        key,
        expires: req.query.expires,
        signature: req.query.signature,
        secret: signing.secret,
      });
      if (!check.ok)
        throw new ApiError(
          'FORBIDDEN',
          check.reason === 'expired' ? 'this link has expired' : 'invalid link signature',
        );

      let object: Awaited<ReturnType<typeof ctx.objects.get>>;
      try {
        object = await ctx.objects.get(key);
      } catch (err) {
        if (err instanceof ObjectStoreError && err.code === 'INVALID_KEY')
          throw new ApiError('NOT_FOUND', 'no such file');
        req.log.error({ err, key }, 'object store read failed');
        throw new ApiError('SERVICE_UNAVAILABLE', 'file storage is unavailable');
      }
      if (!object) throw new ApiError('NOT_FOUND', 'no such file');

      reply
        .header('content-type', object.contentType)
        .header('cache-control', `private, max-age=${check.remainingSeconds}`)
        .header('x-content-type-options', 'nosniff')
        // An SVG served from the API's origin must not run scripts there.
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
      if (object.size > 0) reply.header('content-length', object.size);
      return reply.send(object.body);
    },
  );
}

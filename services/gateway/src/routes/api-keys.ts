import {
  ApiKey,
  CreateApiKeyRequest,
  CreatedApiKey,
  DeletedResponse,
  successResponse,
} from '@chartwright/contracts';
import { newId } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-keys.js';
import { forgetCallers, requireLogin } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';

const MAX_KEYS_PER_USER = 50;

export async function apiKeyRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const toDto = (k: {
    id: string;
    name: string;
    prefix: string;
    created_at: Date;
    last_used_at: Date | null;
  }): ApiKey => ({
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    createdAt: k.created_at.toISOString(),
    lastUsedAt: k.last_used_at?.toISOString() ?? null,
  });

  r.post(
    '/v1/api-keys',
    {
      config: { secretResponse: true },
      schema: {
        tags: ['api-keys'],
        operationId: 'createApiKey',
        errors: ['FORBIDDEN'],
        summary: 'Create an API key (the key is shown only in this answer)',
        body: CreateApiKeyRequest,
        response: { 201: successResponse(z.object({ apiKey: CreatedApiKey })) },
      },
    },
    async (req, reply) => {
      const caller = requireLogin(req);
      const count = await ctx.db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', caller.id)
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_KEYS_PER_USER)
        throw new ApiError('CONFLICT', `at most ${MAX_KEYS_PER_USER} active API keys`);
      const { key, hash, prefix } = generateApiKey();
      const row = await ctx.db
        .insertInto('api_keys')
        .values({
          id: newId(),
          user_id: caller.id,
          name: req.body.name,
          prefix,
          key_hash: hash,
          last_used_at: null,
          revoked_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return reply.code(201).send({ success: true, data: { apiKey: { ...toDto(row), key } } });
    },
  );

  r.get(
    '/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        operationId: 'listApiKeys',
        errors: ['FORBIDDEN'],
        summary: "The caller's active API keys",
        response: { 200: successResponse(z.object({ apiKeys: z.array(ApiKey) })) },
      },
    },
    async (req) => {
      const caller = requireLogin(req);
      const rows = await ctx.db
        .selectFrom('api_keys')
        .selectAll()
        .where('user_id', '=', caller.id)
        .where('revoked_at', 'is', null)
        .orderBy('created_at', 'desc')
        .execute();
      return { success: true as const, data: { apiKeys: rows.map(toDto) } };
    },
  );

  r.delete(
    '/v1/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        operationId: 'revokeApiKey',
        errors: ['FORBIDDEN'],
        summary: 'Revoke an API key, at once',
        params: z.object({ id: z.uuid() }),
        response: { 200: DeletedResponse },
      },
    },
    async (req) => {
      const caller = requireLogin(req);
      const event = ctx.events.apiKeyRevoked({ userId: caller.id, keyId: req.params.id });
      // Stored with the update in one statement, and sent once written.
      const revoked = await ctx.events.saveWith(
        ctx.db,
        (qc) =>
          qc
            .updateTable('api_keys')
            .set({ revoked_at: new Date() })
            .where('id', '=', req.params.id)
            .where('user_id', '=', caller.id)
            .where('revoked_at', 'is', null)
            .returning('id'),
        event,
      );
      // Another user's key is "not found": its existence is not revealed.
      if (!revoked) throw new ApiError('NOT_FOUND', 'API key not found');
      // Refused from now on, here and (through the epoch, or the event) on every replica.
      await forgetCallers(ctx, { keyId: req.params.id });
      return {
        success: true as const,
        data: { id: req.params.id, deleted: true as const },
        message: 'API key revoked',
      };
    },
  );
}

import {
  ChartTemplate,
  CreateTemplateRequest,
  DeletedResponse,
  successResponse,
  TemplateCreate,
  TemplateDelete,
  TemplateGet,
  TemplateList,
  TemplateListQuery,
  TemplateListResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';

const TIMEOUT_MS = 10_000;
const TemplateParams = z.object({ id: z.uuid() });

/** Saved, named chart configs; `POST /v1/charts/generate` takes one as `templateId`. */
export async function templateRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/templates',
    {
      schema: {
        tags: ['templates'],
        operationId: 'createTemplate',
        summary: 'Save a chart config under a name',
        body: CreateTemplateRequest,
        response: { 201: successResponse(z.object({ template: ChartTemplate })) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const template = await callRpc(
        ctx.bus,
        TemplateCreate,
        { userId: caller.id, ...req.body },
        { timeoutMs: TIMEOUT_MS },
      );
      return reply.code(201).send({ success: true, data: { template } });
    },
  );

  r.get(
    '/v1/templates',
    {
      schema: {
        tags: ['templates'],
        operationId: 'listTemplates',
        summary: "The caller's templates, newest first",
        querystring: TemplateListQuery,
        response: { 200: successResponse(TemplateListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        TemplateList,
        { userId: caller.id, ...req.query },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/templates/:id',
    {
      schema: {
        tags: ['templates'],
        operationId: 'getTemplate',
        summary: 'A template',
        params: TemplateParams,
        response: { 200: successResponse(z.object({ template: ChartTemplate })) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const template = await callRpc(
        ctx.bus,
        TemplateGet,
        { userId: caller.id, templateId: req.params.id },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data: { template } };
    },
  );

  r.delete(
    '/v1/templates/:id',
    {
      schema: {
        tags: ['templates'],
        operationId: 'deleteTemplate',
        summary: 'Delete a template (charts made from it stay)',
        params: TemplateParams,
        response: { 200: DeletedResponse },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      await callRpc(
        ctx.bus,
        TemplateDelete,
        { userId: caller.id, templateId: req.params.id },
        { timeoutMs: TIMEOUT_MS },
      );
      return {
        success: true as const,
        data: { id: req.params.id, deleted: true as const },
        message: 'Template deleted successfully',
      };
    },
  );
}

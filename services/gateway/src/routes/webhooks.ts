import {
  CreatedWebhook,
  CreateWebhookRequest,
  DeliveryGet,
  DeliveryList,
  DeliveryListQuery,
  DeliveryListResponse,
  DeliveryRetry,
  RotatedSecret,
  successResponse,
  UpdateWebhookRequest,
  Webhook,
  WebhookCreate,
  WebhookDelete,
  WebhookDelivery,
  WebhookDeliveryDetail,
  WebhookGet,
  WebhookList,
  WebhookRotateSecret,
  WebhookTest,
  WebhookUpdate,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';

const TIMEOUT_MS = 10_000;
/** A test or retry waits for its attempt, which may take the endpoint's full 15 s. */
const ATTEMPT_TIMEOUT_MS = 25_000;
const WebhookParams = z.object({ id: z.uuid() });
const DeliveryParams = WebhookParams.extend({ deliveryId: z.uuid() });
const tags = ['webhooks'];

/**
 * Webhook endpoints and their deliveries, kept by notification-service. Every call names the
 * caller, whose endpoints alone it sees: another user's id is 404.
 */
export async function webhookRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/webhooks',
    {
      // The answer holds the secret: never kept for an idempotent replay.
      config: { secretResponse: true },
      schema: {
        tags,
        operationId: 'createWebhook',
        summary: 'Register an endpoint (the secret is shown once)',
        description:
          'Deliveries are POSTs of `{type, timestamp, data}` signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A 2xx within 15 s is success; otherwise retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h. https only; hosts on private, loopback, link-local, CGNAT or multicast addresses are refused.',
        body: CreateWebhookRequest,
        response: { 201: successResponse(CreatedWebhook) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        WebhookCreate,
        { userId: caller.id, ...req.body },
        { timeoutMs: TIMEOUT_MS },
      );
      return reply.code(201).send({ success: true, data });
    },
  );

  r.get(
    '/v1/webhooks',
    {
      schema: {
        tags,
        operationId: 'listWebhooks',
        summary: "The caller's endpoints (never their secrets)",
        response: { 200: successResponse(z.object({ webhooks: z.array(Webhook) })) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      return {
        success: true as const,
        data: await callRpc(ctx.bus, WebhookList, { userId: caller.id }, { timeoutMs: TIMEOUT_MS }),
      };
    },
  );

  r.get(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        operationId: 'getWebhook',
        summary: 'An endpoint',
        params: WebhookParams,
        response: { 200: successResponse(Webhook) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        WebhookGet,
        { userId: caller.id, webhookId: req.params.id },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.patch(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        operationId: 'updateWebhook',
        summary: 'Change an endpoint (enabling it again restarts its failure clock)',
        params: WebhookParams,
        body: UpdateWebhookRequest,
        response: { 200: successResponse(Webhook) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        WebhookUpdate,
        { userId: caller.id, webhookId: req.params.id, ...req.body },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        operationId: 'deleteWebhook',
        summary: 'Delete an endpoint; nothing pending is sent to it afterwards',
        params: WebhookParams,
        response: { 200: z.object({ success: z.literal(true), message: z.string() }) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      await callRpc(
        ctx.bus,
        WebhookDelete,
        { userId: caller.id, webhookId: req.params.id },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, message: 'Webhook deleted successfully' };
    },
  );

  r.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      config: { secretResponse: true },
      schema: {
        tags,
        operationId: 'rotateWebhookSecret',
        summary: 'A new secret; for 24 h deliveries carry signatures by both',
        params: WebhookParams,
        response: { 200: successResponse(RotatedSecret) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        WebhookRotateSecret,
        { userId: caller.id, webhookId: req.params.id },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.post(
    '/v1/webhooks/:id/test',
    {
      schema: {
        tags,
        operationId: 'testWebhook',
        summary: 'Send a `webhook.test` event now; answers its delivery after the attempt',
        params: WebhookParams,
        response: { 200: successResponse(z.object({ delivery: WebhookDelivery })) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const delivery = await callRpc(
        ctx.bus,
        WebhookTest,
        { userId: caller.id, webhookId: req.params.id },
        { timeoutMs: ATTEMPT_TIMEOUT_MS },
      );
      return { success: true as const, data: { delivery } };
    },
  );

  r.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: "An endpoint's deliveries, newest first",
        params: WebhookParams,
        querystring: DeliveryListQuery,
        response: { 200: successResponse(DeliveryListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        DeliveryList,
        { userId: caller.id, webhookId: req.params.id, ...req.query },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/webhooks/:id/deliveries/:deliveryId',
    {
      schema: {
        tags,
        operationId: 'getWebhookDelivery',
        summary: 'A delivery with each attempt: time, status code, duration, first 1 KB of the answer',
        params: DeliveryParams,
        response: { 200: successResponse(z.object({ delivery: WebhookDeliveryDetail })) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const delivery = await callRpc(
        ctx.bus,
        DeliveryGet,
        { userId: caller.id, webhookId: req.params.id, deliveryId: req.params.deliveryId },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data: { delivery } };
    },
  );

  r.post(
    '/v1/webhooks/:id/deliveries/:deliveryId/retry',
    {
      schema: {
        tags,
        operationId: 'retryWebhookDelivery',
        summary: 'Send a delivery again now; answers it after the attempt',
        params: DeliveryParams,
        response: { 200: successResponse(z.object({ delivery: WebhookDelivery })) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const delivery = await callRpc(
        ctx.bus,
        DeliveryRetry,
        { userId: caller.id, webhookId: req.params.id, deliveryId: req.params.deliveryId },
        { timeoutMs: ATTEMPT_TIMEOUT_MS },
      );
      return { success: true as const, data: { delivery } };
    },
  );
}

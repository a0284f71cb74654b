import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request produced, for the usage ledger; set by the routes that produce it. */
    usage?: { chartsGenerated?: number; analysesPerformed?: number; tokensUsed?: number };
  }
}

/**
 * Reports each authenticated request as `usage.recorded` after the answer is sent, so the
 * ledger never slows a request. A lost report is logged, not retried: it is a metric.
 */
export function registerUsageReporting(app: FastifyInstance, ctx: GatewayContext): void {
  app.addHook('onResponse', async (req, reply) => {
    const caller = req.caller;
    if (!caller) return;
    const endpoint = req.routeOptions.url ?? 'unknown';
    ctx.events
      .usageRecorded({
        userId: caller.id,
        endpoint: endpoint.slice(0, 200),
        method: req.method,
        statusCode: reply.statusCode,
        durationMs: Math.max(0, reply.elapsedTime),
        chartsGenerated: req.usage?.chartsGenerated ?? 0,
        analysesPerformed: req.usage?.analysesPerformed ?? 0,
        tokensUsed: req.usage?.tokensUsed ?? 0,
        at: new Date().toISOString(),
      })
      .catch((err) => req.log.warn({ err }, 'usage event not published'));
  });
}

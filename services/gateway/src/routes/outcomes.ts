import {
  AnalysisOutcome,
  OutcomeGet,
  OutcomeScorecard,
  OutcomeScorecardByModel,
  Scorecard,
  ScorecardByModel,
  ScorecardQuery,
  successResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireAdmin, requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';

const SCORECARD_NOTE =
  'Counts agree: wins + losses + expired = resolved − noTrade; `avgR` is the mean `rMultiple` of the ' +
  'resolved trades that filled. Only analyses of real market data are followed (synthetic bars have no future).';

/** Outcomes of analyses and scorecards (outcome-service). */
export async function outcomeRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    '/v1/analyses/:id/outcome',
    {
      schema: {
        tags: ['outcomes'],
        summary: "How an analysis' signal played out on the bars after its chart",
        description:
          '`status` is `open` until the trade ends or its horizon passes, then `won`, `lost` or `expired`; ' +
          'a NEUTRAL analysis (or levels on the wrong side) is `no_trade`. 404 for an analysis that is not ' +
          "the caller's, not completed, or made on synthetic bars.",
        params: z.object({ id: z.uuid() }),
        response: { 200: successResponse(AnalysisOutcome) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(ctx.bus, OutcomeGet, { analysisId: req.params.id, userId: caller.id });
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/scorecard',
    {
      schema: {
        tags: ['outcomes'],
        summary: "The scorecard of the caller's followed analyses",
        description: SCORECARD_NOTE,
        querystring: ScorecardQuery,
        response: { 200: successResponse(Scorecard) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(ctx.bus, OutcomeScorecard, { ...req.query, userId: caller.id });
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/admin/scorecard',
    {
      schema: {
        tags: ['admin', 'outcomes'],
        summary: "Every user's followed analyses, one scorecard per model (admin only)",
        description: SCORECARD_NOTE,
        querystring: ScorecardQuery.omit({ model: true }),
        response: { 200: successResponse(ScorecardByModel) },
        errors: ['FORBIDDEN'],
      },
    },
    async (req) => {
      requireAdmin(req);
      const data = await callRpc(ctx.bus, OutcomeScorecardByModel, req.query);
      return { success: true as const, data };
    },
  );
}

import { OutcomeGet, OutcomeScorecard, OutcomeScorecardByModel } from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Outcomes } from './outcomes.js';

/** Each request/reply contract outcome-service answers, and the use case that answers it. */
export const handlers = (outcomes: Outcomes): RpcRoute[] => [
  handle(OutcomeGet, (req) => outcomes.get(req.analysisId, req.userId)),
  handle(OutcomeScorecard, (req) => outcomes.scorecard(req)),
  handle(OutcomeScorecardByModel, (req) => outcomes.scorecardByModel(req)),
];

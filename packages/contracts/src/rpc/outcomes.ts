import { z } from 'zod';
import { AnalysisOutcome, Scorecard, ScorecardByModel, ScorecardQuery } from '../rest/outcomes.js';
import { defineRpc } from './index.js';

/** The outcome of one of the user's analyses (NOT_FOUND: not theirs, not completed, or not followed). */
export const OutcomeGet = defineRpc(
  'svc.outcome.get',
  z.object({ analysisId: z.uuid(), userId: z.uuid() }),
  AnalysisOutcome,
);

/** The scorecard of the user's followed analyses, filtered. */
export const OutcomeScorecard = defineRpc(
  'svc.outcome.scorecard',
  ScorecardQuery.extend({ userId: z.uuid() }),
  Scorecard,
);

/** Every user's followed analyses, one scorecard per model (the gateway checks the caller is an admin). */
export const OutcomeScorecardByModel = defineRpc(
  'svc.outcome.scorecard_by_model',
  ScorecardQuery.omit({ model: true }),
  ScorecardByModel,
);

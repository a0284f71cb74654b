import { z } from 'zod';
import { defineEvent } from '../envelope.js';
import { AnalysisMetadata, AnalysisResult, Recommendation, TradingStyle } from '../rest/analysis.js';
import { ChartConfig, Interval } from '../rest/chart-config.js';
import { Confluence, MultiTimeframeItem, MultiTimeframeStatus } from '../rest/multi-timeframe.js';
import { OutcomeStatus } from '../rest/outcomes.js';

export const Plan = z.enum(['free', 'pro', 'enterprise']);
export type Plan = z.infer<typeof Plan>;

export const Role = z.enum(['user', 'admin']);
export type Role = z.infer<typeof Role>;

export const QuotaKind = z.enum(['charts', 'analyses']);
export type QuotaKind = z.infer<typeof QuotaKind>;

const Id = z.uuid();

export const UserRegistered = defineEvent(
  'user.registered',
  1,
  z.object({ userId: Id, email: z.email(), name: z.string().nullable(), plan: Plan, role: Role }),
  'A user signed up. quota-service creates their quota row.',
);

/**
 * Someone signed up with an address that has no verified account yet: the mail with this link
 * proves they own it. The token is single-use and short-lived; the gateway keeps only its hash.
 * (It travels on USERS, which only the gateway and notification-service may read.)
 */
export const UserVerificationRequested = defineEvent(
  'user.verification_requested',
  1,
  z.object({
    userId: Id,
    email: z.email(),
    name: z.string().nullable(),
    token: z.string().min(20),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
  'A sign-up needs its address confirmed. notification-service mails the link (GET /v1/auth/verify?token=…).',
);

/**
 * A sign-up named an address that already has an account. The answer to the caller is the same as
 * for a new address (no enumeration); the owner is told by mail instead.
 */
export const UserSignupAttempted = defineEvent(
  'user.signup_attempted',
  1,
  z.object({ userId: Id, email: z.email() }),
  'Someone tried to sign up with the address of an existing account. notification-service tells its owner.',
);

export const UserPlanChanged = defineEvent(
  'user.plan_changed',
  1,
  z.object({ userId: Id, previousPlan: Plan, plan: Plan, changedBy: Id.nullable() }),
  "A user's plan changed. New limits apply at once; this month's usage is kept.",
);

export const UserApiKeyRevoked = defineEvent(
  'user.api_key_revoked',
  1,
  z.object({ userId: Id, keyId: Id }),
  'A user revoked one of their API keys. Gateways drop it from their caches; it is refused at once.',
);

/**
 * The bars a chart was drawn from: the visible ones (`from`..`to`, `count` of them) and the
 * `warmUp` bars before them that settled its indicators. An analysis of the chart reads exactly
 * these bars, whatever market data its own service is set up with.
 */
export const BarWindow = z.object({
  /** Where the bars came from, e.g. `binance`, `file:BTCUSDT.csv`, `synthetic`. */
  source: z.string(),
  synthetic: z.boolean(),
  /** The generator's seed, for synthetic bars (they are re-created, not stored). */
  seed: z.number().int().nonnegative().nullable(),
  /** Open time of the first visible bar. */
  from: z.iso.datetime({ offset: true }),
  /** Open time of the last bar. */
  to: z.iso.datetime({ offset: true }),
  /** Visible bars. */
  count: z.number().int().positive(),
  /** Bars before `from` used only to compute indicators. */
  warmUp: z.number().int().nonnegative(),
});
export type BarWindow = z.infer<typeof BarWindow>;

export const ChartGenerated = defineEvent(
  'chart.generated',
  1,
  z.object({
    chartId: Id,
    userId: Id,
    /** The quota reservation this chart consumed; committed on this event. */
    reservationId: Id.nullable(),
    symbol: z.string(),
    interval: Interval,
    config: ChartConfig,
    renderer: z.enum(['builtin', 'chart-img']),
    /** The bars the built-in renderer drew; null when chart-img.com drew the chart. */
    bars: BarWindow.nullable().default(null),
    /** Where the image is now: our object store key, or an external URL to copy. */
    objectKey: z.string().nullable(),
    /** Size and sha256 of the stored object, when `objectKey` is set. */
    size: z.number().int().nonnegative().nullable(),
    sha256: z.string().length(64).nullable(),
    contentType: z.string(),
    externalUrl: z.url().nullable(),
    format: z.enum(['png', 'svg']),
    width: z.number().int(),
    height: z.number().int(),
    synthetic: z.boolean(),
    generatedAt: z.iso.datetime({ offset: true }),
    expiresAt: z.iso.datetime({ offset: true }).nullable(),
  }),
  'A chart was rendered and saved.',
);

export const ChartStored = defineEvent(
  'chart.stored',
  1,
  z.object({
    chartId: Id,
    userId: Id,
    objectKey: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().length(64),
    contentType: z.string(),
  }),
  'A chart image was copied to permanent storage.',
);

export const ChartDeleted = defineEvent(
  'chart.deleted',
  1,
  z.object({ chartId: Id, userId: Id, objectKeys: z.array(z.string()) }),
  'A chart was deleted: its analyses and image objects are removed by their owners.',
);

export const AnalysisRequested = defineEvent(
  'analysis.requested',
  1,
  z.object({
    analysisId: Id,
    chartId: Id,
    userId: Id,
    reservationId: Id.nullable(),
    prompt: z.string().nullable(),
    tradingStyle: TradingStyle,
    includeRiskManagement: z.boolean(),
    confidenceThreshold: z.number().int().min(1).max(10).nullable(),
  }),
  'A user asked for an AI analysis of a chart; analysis workers pick it up.',
);

export const AnalysisProgressed = defineEvent(
  'analysis.progressed',
  1,
  z.object({
    analysisId: Id,
    chartId: Id,
    userId: Id,
    status: z.enum(['downloading', 'analysing']),
    at: z.iso.datetime({ offset: true }),
  }),
  'An analysis reached a step (its image is being downloaded, the analyst is reading it). Advisory: ' +
    'sent straight after the step is saved, not through the outbox, so one may be missing.',
);

export const AnalysisCompleted = defineEvent(
  'analysis.completed',
  1,
  z.object({
    analysisId: Id,
    chartId: Id,
    userId: Id,
    reservationId: Id.nullable(),
    symbol: z.string(),
    interval: Interval,
    result: AnalysisResult,
    metadata: AnalysisMetadata,
    completedAt: z.iso.datetime({ offset: true }),
    /** The style the analysis was asked for (null from producers before it was added). */
    tradingStyle: TradingStyle.nullable().default(null),
    /** The bars the analyst read, when it read bars: outcome tracking follows the bars after them. */
    bars: BarWindow.nullable().default(null),
  }),
  'An analysis finished with a grounded trading signal. Public contract for internal teams.',
);

export const AnalysisFailed = defineEvent(
  'analysis.failed',
  1,
  z.object({
    analysisId: Id,
    chartId: Id,
    userId: Id,
    reservationId: Id.nullable(),
    code: z
      .string()
      .describe(
        'Machine-readable cause: UPSTREAM_ERROR, RATE_LIMITED, INVALID_OUTPUT, AUTH, INVALID_INPUT (the ' +
          'analyst), TIMEOUT, IMAGE_UNAVAILABLE, IMAGE_TOO_LARGE, MARKET_DATA_UNAVAILABLE, CHART_NOT_FOUND, ' +
          'CHART_DELETED, ABANDONED (nobody could finish it), INTERNAL. New codes may appear.',
      ),
    reason: z.string().describe('What happened, for people.'),
    failedAt: z.iso.datetime({ offset: true }),
  }),
  'An analysis failed; its quota reservation is released. Public contract for internal teams.',
);

export const AnalysisOutcomeResolved = defineEvent(
  'analysis.outcome_resolved',
  1,
  z.object({
    analysisId: Id,
    userId: Id,
    symbol: z.string(),
    interval: Interval,
    recommendation: Recommendation,
    status: OutcomeStatus.exclude(['open']),
    filledAt: z.iso.datetime({ offset: true }).nullable(),
    exitAt: z.iso.datetime({ offset: true }).nullable(),
    exitPrice: z.number().nullable(),
    rMultiple: z.number().nullable(),
    barsHeld: z.number().int().nullable(),
    model: z.string(),
    resolvedAt: z.iso.datetime({ offset: true }),
  }),
  'The signal of a completed analysis played out on the bars after its chart: won, lost, expired, or no trade (NEUTRAL). Sent once per analysis by outcome-service.',
);

export const AnalysisMultiTimeframeCompleted = defineEvent(
  'analysis.multi_timeframe_completed',
  1,
  z.object({
    runId: Id,
    userId: Id,
    symbol: z.string(),
    status: MultiTimeframeStatus.exclude(['running']),
    items: z.array(MultiTimeframeItem),
    confluence: Confluence,
    completedAt: z.iso.datetime({ offset: true }),
  }),
  "Every analysis of a multi-timeframe run is final (completed or failed) and their confluence is known: the lowest interval's direction, how many intervals agree, and its levels when all agree. Sent once per run by analysis-service.",
);

export const AnalysisBacktestProgressed = defineEvent(
  'analysis.backtest_progressed',
  1,
  z.object({
    backtestId: Id,
    userId: Id,
    status: z.enum(['queued', 'running']),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    at: z.iso.datetime({ offset: true }),
  }),
  'A backtest took more steps (throttled: about one event a second per backtest). Advisory: sent ' +
    'straight after the steps are saved, not through the outbox, so one may be missing.',
);

export const AnalysisBacktestFinished = defineEvent(
  'analysis.backtest_finished',
  1,
  z.object({
    backtestId: Id,
    userId: Id,
    status: z.enum(['completed', 'failed', 'cancelled']),
    /** The analyses quota reserved up front for it; settled to `analysesUsed`. */
    reservationId: Id.nullable(),
    /** Analyses to charge: 1 for the built-in analyst (0 if no step ran), one per step done with a model. */
    analysesUsed: z.number().int().nonnegative(),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    error: z.object({ code: z.string(), reason: z.string() }).nullable(),
    at: z.iso.datetime({ offset: true }),
  }),
  'A backtest completed, failed or was cancelled; quota-service charges the analyses it used and gives the rest of its reservation back.',
);

export const UsageRecorded = defineEvent(
  'usage.recorded',
  1,
  z.object({
    userId: Id,
    endpoint: z.string().max(200),
    method: z.string().max(10),
    statusCode: z.number().int(),
    durationMs: z.number().nonnegative(),
    chartsGenerated: z.number().int().nonnegative().default(0),
    analysesPerformed: z.number().int().nonnegative().default(0),
    tokensUsed: z.number().int().nonnegative().default(0),
    at: z.iso.datetime({ offset: true }),
  }),
  'The gateway served a request for a user (the api_usage ledger).',
);

export const QuotaThresholdReached = defineEvent(
  'quota.threshold_reached',
  1,
  z.object({
    userId: Id,
    plan: Plan,
    resource: QuotaKind,
    /** Percent of the monthly limit now used: 80 or 100. */
    threshold: z.union([z.literal(80), z.literal(100)]),
    used: z.number().int().nonnegative(),
    limit: z.number().int().positive(),
    /** First instant (UTC) of the month it applies to. */
    periodStart: z.iso.datetime({ offset: true }),
    resetAt: z.iso.datetime({ offset: true }),
    reachedAt: z.iso.datetime({ offset: true }),
  }),
  'Usage of a monthly quota reached 80 % or 100 % of its limit; sent once per user, resource, threshold and month.',
);

export const UsageBatchRecorded = defineEvent(
  'usage.batch_recorded',
  1,
  z.object({
    userId: Id,
    endpoint: z.string().max(200),
    method: z.string().max(10),
    statusCode: z.number().int(),
    /** Requests this batch stands for (each one a ledger request). */
    count: z.number().int().positive(),
    durationMsSum: z.number().nonnegative(),
    durationMsMax: z.number().nonnegative(),
    chartsGenerated: z.number().int().nonnegative().default(0),
    analysesPerformed: z.number().int().nonnegative().default(0),
    tokensUsed: z.number().int().nonnegative().default(0),
    /** First and last request of the batch (same UTC day). */
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
  }),
  'The gateway served `count` requests for a user with the same endpoint, method and status within about a second (the api_usage ledger). Replaces one usage.recorded per request.',
);

/** Every event definition, for documentation and validation by type. */
export const EVENTS = [
  UserRegistered,
  UserVerificationRequested,
  UserSignupAttempted,
  UserPlanChanged,
  UserApiKeyRevoked,
  ChartGenerated,
  ChartStored,
  ChartDeleted,
  AnalysisRequested,
  AnalysisProgressed,
  AnalysisCompleted,
  AnalysisFailed,
  AnalysisOutcomeResolved,
  AnalysisMultiTimeframeCompleted,
  AnalysisBacktestProgressed,
  AnalysisBacktestFinished,
  UsageRecorded,
  QuotaThresholdReached,
  UsageBatchRecorded,
] as const;

export type AnyEventDefinition = (typeof EVENTS)[number];
export const eventByType = new Map<string, AnyEventDefinition>(EVENTS.map((e) => [e.type, e]));

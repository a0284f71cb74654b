import {
  AnalysisBacktestFinished,
  AnalysisCompleted,
  AnalysisFailed,
  ChartGenerated,
  UsageBatchRecorded,
  UsageRecorded,
  UserPlanChanged,
  UserRegistered,
} from '@chartwright/contracts';
import { type ConsumerGroup, on } from '@chartwright/kit';
import { type Quotas, USERS_CONSUMER } from './quotas.js';

/** The events quota-service consumes, by durable consumer. */
export const consumers = (quotas: Quotas): ConsumerGroup[] => [
  {
    spec: { stream: 'USERS', durable: USERS_CONSUMER, filterSubject: 'user.>' },
    routes: [
      on(UserRegistered, (e) => quotas.registered(e.id, e.data.userId, e.data.plan)),
      on(UserPlanChanged, (e) => quotas.planChanged(e.id, e.data.userId, e.data.plan, new Date(e.time))),
    ],
  },
  // A reservation is committed by the success event of the flow that made it, released by its failure.
  {
    spec: { stream: 'CHARTS', durable: 'quota-charts', filterSubject: ChartGenerated.type },
    routes: [on(ChartGenerated, (e) => quotas.commit(e.data.reservationId).then(() => undefined))],
  },
  {
    spec: { stream: 'ANALYSES', durable: 'quota-analyses', filterSubject: 'analysis.>' },
    routes: [
      on(AnalysisCompleted, (e) => quotas.analysisCompleted(e.id, e.data)),
      on(AnalysisFailed, (e) => quotas.release(e.data.reservationId).then(() => undefined)),
      on(AnalysisBacktestFinished, (e) =>
        quotas.settle(e.data.reservationId, e.data.analysesUsed).then(() => undefined),
      ),
    ],
  },
  {
    spec: { stream: 'USAGE', durable: 'quota-usage', filterSubject: UsageRecorded.type, concurrency: 4 },
    routes: [on(UsageRecorded, (e) => quotas.recordUsage(e.id, e.data))],
  },
  // The gateway's batches: one row per batch, standing for `count` requests.
  {
    spec: {
      stream: 'USAGE',
      durable: 'quota-usage-batches',
      filterSubject: UsageBatchRecorded.type,
      concurrency: 4,
    },
    routes: [on(UsageBatchRecorded, (e) => quotas.recordUsageBatch(e.id, e.data))],
  },
];

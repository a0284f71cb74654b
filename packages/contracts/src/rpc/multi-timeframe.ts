import { z } from 'zod';
import { ChartGenerated } from '../events/index.js';
import { GenerateChartResponse } from '../rest/charts.js';
import { PageQuery } from '../rest/common.js';
import {
  MAX_TIMEFRAMES,
  MultiTimeframeListResponse,
  MultiTimeframeRequest,
  MultiTimeframeResponseData,
  MultiTimeframeRun,
} from '../rest/multi-timeframe.js';
import { defineRpc, WorkKey } from './index.js';

const Caller = z.object({ userId: z.uuid() });

/**
 * Charts made together or not at all: the charts quota for all of them is reserved at once
 * (QUOTA_EXCEEDED if it cannot cover them), every chart is drawn, and the charts are saved with
 * their `chart.generated` events in one transaction. Any failure leaves no chart and no quota used.
 * Chart i of a keyed set runs under `${idempotencyKey}:${i}`.
 */
export const ChartGenerateSet = defineRpc(
  'svc.chart.generate_set',
  Caller.extend({
    requests: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_TIMEFRAMES),
    idempotencyKey: WorkKey,
  }),
  z.object({
    charts: z.array(GenerateChartResponse),
    /**
     * What each chart's `chart.generated` says, so the caller knows the charts before the events
     * reach it. Empty when the set was made earlier (an idempotent repeat): the events were sent then.
     */
    generated: z.array(ChartGenerated.data).default([]),
  }),
);

/**
 * A multi-timeframe run: reserves the analyses quota for every interval, has chart-service make
 * the charts (`svc.chart.generate_set`), and queues one analysis per chart. Answers at once with
 * the running run; `analysis.multi_timeframe_completed` follows when every analysis is final.
 */
export const MultiTimeframeCreate = defineRpc(
  'svc.analysis.multi_timeframe_create',
  Caller.extend({ request: MultiTimeframeRequest, idempotencyKey: WorkKey }),
  MultiTimeframeResponseData,
);

export const MultiTimeframeGet = defineRpc(
  'svc.analysis.multi_timeframe_get',
  Caller.extend({ runId: z.uuid() }),
  MultiTimeframeRun,
);

export const MultiTimeframeList = defineRpc(
  'svc.analysis.multi_timeframe_list',
  Caller.extend(PageQuery.shape),
  MultiTimeframeListResponse,
);

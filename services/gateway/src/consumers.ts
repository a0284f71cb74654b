import {
  AnalysisBacktestFinished,
  AnalysisBacktestProgressed,
  AnalysisCompleted,
  AnalysisFailed,
  AnalysisMultiTimeframeCompleted,
  AnalysisProgressed,
  UserApiKeyRevoked,
  UserPlanChanged,
} from '@chartwright/contracts';
import { on, type Subscription, watchEvents } from '@chartwright/kit';
import type { GatewayContext } from './context.js';

/**
 * The events the gateway follows. Every replica sees every one (a watch, not a queue group): a
 * wait or a progress stream on any replica learns of an analysis's outcome, and every replica's
 * principal cache drops the callers a plan change or a key revocation affects.
 */
export async function startConsumers(ctx: GatewayContext): Promise<Subscription[]> {
  const watch = ctx.analyses;
  return [
    await watchEvents(
      ctx.bus,
      {
        stream: 'ANALYSES',
        filterSubject: 'analysis.>',
        onGap: () => {
          void watch.catchUp();
          ctx.multiTimeframe.catchUp();
          void ctx.backtests.catchUp();
        },
      },
      [
        on(AnalysisBacktestProgressed, (e) => ctx.backtests.progressed(e.data)),
        on(AnalysisBacktestFinished, (e) => ctx.backtests.finished(e.data)),
        on(AnalysisProgressed, (e) => watch.progressed(e.data)),
        on(AnalysisCompleted, (e) => watch.completed(e.data)),
        on(AnalysisFailed, (e) => watch.failed(e.data)),
        on(AnalysisMultiTimeframeCompleted, (e) => ctx.multiTimeframe.completed(e.data.runId)),
      ],
      ctx.logger,
    ),
    await watchEvents(
      ctx.bus,
      {
        stream: 'USERS',
        filterSubject: 'user.>',
        // Invalidations may have been missed: cached callers are resolved again.
        onGap: () => ctx.principals.clear(),
      },
      [
        on(UserPlanChanged, (e) => ctx.principals.dropUser(e.data.userId)),
        on(UserApiKeyRevoked, (e) => ctx.principals.dropKey(e.data.keyId)),
      ],
      ctx.logger,
    ),
  ];
}

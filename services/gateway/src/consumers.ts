import { AnalysisCompleted, AnalysisFailed, AnalysisProgressed } from '@chartwright/contracts';
import { on, type Subscription, watchEvents } from '@chartwright/kit';
import type { AnalysisWatch } from './analysis-watch.js';
import type { GatewayContext } from './context.js';

/**
 * The events the gateway follows. Every replica sees every analysis event (a watch, not a queue
 * group), so a wait or a progress stream on any replica learns of the outcome.
 */
export async function startConsumers(ctx: GatewayContext, watch: AnalysisWatch): Promise<Subscription[]> {
  return [
    await watchEvents(
      ctx.bus,
      {
        stream: 'ANALYSES',
        filterSubject: 'analysis.>',
        onGap: () => void watch.catchUp(),
      },
      [
        on(AnalysisProgressed, (e) => watch.progressed(e.data)),
        on(AnalysisCompleted, (e) => watch.completed(e.data)),
        on(AnalysisFailed, (e) => watch.failed(e.data)),
      ],
      ctx.logger,
    ),
  ];
}

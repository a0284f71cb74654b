import {
  AnalysisBacktestFinished,
  AnalysisBacktestProgressed,
  AnalysisCompleted,
  AnalysisFailed,
  AnalysisMultiTimeframeCompleted,
  AnalysisProgressed,
  AnalysisRequested,
  type DataOf,
} from '@chartwright/contracts';
import {
  type Logger,
  type MessageBus,
  makeEvent,
  type OutboxRelay,
  publishEvent,
  ServiceEvents,
} from '@chartwright/kit';
import type { z } from 'zod';

export const SERVICE = 'analysis-service';

/** The one place analysis-service builds its events; storing and sending come from `ServiceEvents`. */
export class AnalysisEvents extends ServiceEvents {
  constructor(
    relay: OutboxRelay,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
  ) {
    super(relay);
  }

  requested(data: z.input<typeof AnalysisRequested.data>) {
    return makeEvent(AnalysisRequested, data, { source: SERVICE, subject: data.analysisId });
  }

  completed(data: z.input<typeof AnalysisCompleted.data>) {
    return makeEvent(AnalysisCompleted, data, { source: SERVICE, subject: data.analysisId });
  }

  failed(data: DataOf<typeof AnalysisFailed>) {
    return makeEvent(AnalysisFailed, data, { source: SERVICE, subject: data.analysisId });
  }

  multiTimeframeCompleted(data: z.input<typeof AnalysisMultiTimeframeCompleted.data>) {
    return makeEvent(AnalysisMultiTimeframeCompleted, data, { source: SERVICE, subject: data.runId });
  }

  /**
   * `analysis.progressed`, sent at once without the outbox: progress is advisory (the outcome
   * events are not), so a lost one only makes a progress stream skip a step.
   */
  progressed(data: DataOf<typeof AnalysisProgressed>): void {
    const event = makeEvent(AnalysisProgressed, data, { source: SERVICE, subject: data.analysisId });
    publishEvent(this.bus, event).catch((err) =>
      this.logger.warn({ err, analysisId: data.analysisId }, 'progress event not sent'),
    );
  }

  backtestFinished(data: DataOf<typeof AnalysisBacktestFinished>) {
    return makeEvent(AnalysisBacktestFinished, data, { source: SERVICE, subject: data.backtestId });
  }

  /** `analysis.backtest_progressed`, sent at once without the outbox: advisory, like `progressed`. */
  backtestProgressed(data: DataOf<typeof AnalysisBacktestProgressed>): void {
    const event = makeEvent(AnalysisBacktestProgressed, data, { source: SERVICE, subject: data.backtestId });
    publishEvent(this.bus, event).catch((err) =>
      this.logger.warn({ err, backtestId: data.backtestId }, 'backtest progress event not sent'),
    );
  }
}

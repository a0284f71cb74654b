import { AnalysisOutcomeResolved } from '@chartwright/contracts';
import { makeEvent, ServiceEvents } from '@chartwright/kit';
import type { z } from 'zod';

export const SERVICE = 'outcome-service';

/** The one place outcome-service builds its events; storing and sending come from `ServiceEvents`. */
export class OutcomeEvents extends ServiceEvents {
  resolved(data: z.input<typeof AnalysisOutcomeResolved.data>) {
    return makeEvent(AnalysisOutcomeResolved, data, { source: SERVICE, subject: data.analysisId });
  }
}

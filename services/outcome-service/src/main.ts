// First, so the OpenTelemetry instrumentations patch pg, http… as they load (when tracing is on).
import '@chartwright/kit/instrument';

const { runStandalone } = await import('@chartwright/kit');
const { SERVICE, startOutcomeService } = await import('./index.js');

await runStandalone(SERVICE, startOutcomeService, 3006);

// First, so the OpenTelemetry instrumentations patch pg, http… as they load (when tracing is on).
import '@chartwright/kit/instrument';

const { runStandalone } = await import('@chartwright/kit');
const { SERVICE, startStorageService } = await import('./index.js');

await runStandalone(SERVICE, startStorageService, 3003);

// First, so the OpenTelemetry instrumentations patch pg, http… as they load (when tracing is on).
import '@chartwright/kit/instrument';

const { runStandalone } = await import('@chartwright/kit');
const { SERVICE, startNotificationService } = await import('./index.js');

await runStandalone(SERVICE, startNotificationService, 3005);

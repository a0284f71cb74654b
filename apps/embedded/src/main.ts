// First, so the OpenTelemetry instrumentations patch pg, http… as they load (when tracing is on).
import '@chartwright/kit/instrument';
import path from 'node:path';

const { preparePGliteDir, runHost } = await import('@chartwright/kit');

// Every service in one process. Without DATABASE_URL / NATS_URL / S3 settings it runs on PGlite
// under DATA_DIR, the in-process bus and a folder as object store.

// Creating a fresh PGlite cluster takes seconds: start it while the services' modules load.
if (!process.env.DATABASE_URL) {
  preparePGliteDir(path.resolve(process.env.DATA_DIR || '.data', 'pglite')).catch(() => undefined);
}

const [gateway, chart, analysis, storage, quota, notification, outcome] = await Promise.all([
  import('@chartwright/gateway'),
  import('@chartwright/chart-service'),
  import('@chartwright/analysis-service'),
  import('@chartwright/storage-service'),
  import('@chartwright/quota-service'),
  import('@chartwright/notification-service'),
  import('@chartwright/outcome-service'),
]);

await runHost({
  name: 'chartwright',
  factories: [
    quota.startQuotaService,
    notification.startNotificationService,
    outcome.startOutcomeService,
    storage.startStorageService,
    chart.startChartService,
    analysis.startAnalysisService,
    gateway.startGateway,
  ],
  defaultPort: 3000,
  defaultHost: '127.0.0.1',
  embedded: true,
});

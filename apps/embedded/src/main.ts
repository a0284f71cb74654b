import { startAnalysisService } from '@chartwright/analysis-service';
import { startChartService } from '@chartwright/chart-service';
import { startGateway } from '@chartwright/gateway';
import { runHost } from '@chartwright/kit';
import { startQuotaService } from '@chartwright/quota-service';
import { startStorageService } from '@chartwright/storage-service';

// Every service in one process. Without DATABASE_URL / NATS_URL / S3 settings it runs on PGlite
// under DATA_DIR, the in-process bus and a folder as object store.
await runHost({
  name: 'chartwright',
  factories: [startQuotaService, startStorageService, startChartService, startAnalysisService, startGateway],
  defaultPort: 3000,
  defaultHost: '127.0.0.1',
  embedded: true,
});

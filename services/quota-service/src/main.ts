import { runStandalone } from '@chartwright/kit';
import { SERVICE, startQuotaService } from './index.js';

await runStandalone(SERVICE, startQuotaService, 3004);

import { runStandalone } from '@chartwright/kit';
import { SERVICE, startChartService } from './index.js';

await runStandalone(SERVICE, startChartService, 3001);

import { runStandalone } from '@chartwright/kit';
import { SERVICE, startAnalysisService } from './index.js';

await runStandalone(SERVICE, startAnalysisService, 3002);

import { runStandalone } from '@chartwright/kit';
import { SERVICE, startOutcomeService } from './index.js';

await runStandalone(SERVICE, startOutcomeService, 3006);

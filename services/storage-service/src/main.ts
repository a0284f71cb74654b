import { runStandalone } from '@chartwright/kit';
import { SERVICE, startStorageService } from './index.js';

await runStandalone(SERVICE, startStorageService, 3003);

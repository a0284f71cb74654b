import { runStandalone } from '@chartwright/kit';
import { SERVICE, startGateway } from './index.js';

await runStandalone(SERVICE, startGateway, 3000);

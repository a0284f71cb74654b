import { runStandalone } from '@chartwright/kit';
import { SERVICE, startNotificationService } from './index.js';

await runStandalone(SERVICE, startNotificationService, 3005);

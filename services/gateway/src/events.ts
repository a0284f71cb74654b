import {
  type DataOf,
  UsageBatchRecorded,
  UserApiKeyRevoked,
  UserPlanChanged,
  UserRegistered,
  UserSignupAttempted,
  UserVerificationRequested,
} from '@chartwright/contracts';
import { makeEvent, ServiceEvents } from '@chartwright/kit';

export const SERVICE = 'gateway';

/** The one place the gateway builds its events; storing and sending come from `ServiceEvents`. */
export class GatewayEvents extends ServiceEvents {
  userRegistered(data: DataOf<typeof UserRegistered>) {
    return makeEvent(UserRegistered, data, { source: SERVICE, subject: data.userId });
  }

  verificationRequested(data: DataOf<typeof UserVerificationRequested>) {
    return makeEvent(UserVerificationRequested, data, { source: SERVICE, subject: data.userId });
  }

  signupAttempted(data: DataOf<typeof UserSignupAttempted>) {
    return makeEvent(UserSignupAttempted, data, { source: SERVICE, subject: data.userId });
  }

  planChanged(data: DataOf<typeof UserPlanChanged>) {
    return makeEvent(UserPlanChanged, data, { source: SERVICE, subject: data.userId });
  }

  apiKeyRevoked(data: DataOf<typeof UserApiKeyRevoked>) {
    return makeEvent(UserApiKeyRevoked, data, { source: SERVICE, subject: data.userId });
  }

  /** One batch of the usage ledger (`plugins/usage.ts` adds requests up into batches). */
  usageBatchRecorded(data: DataOf<typeof UsageBatchRecorded>) {
    return makeEvent(UsageBatchRecorded, data, { source: SERVICE, subject: data.userId });
  }
}

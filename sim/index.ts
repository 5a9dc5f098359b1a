/**
 * Public API of the backend simulator: start one server, its option/handle/stats/fault types,
 * the hardware profiles and the pure timing model (reusable by a virtual-time benchmark).
 */
export { startSimulator } from './server.ts';
export { registerWithGateway } from './register.ts';
export type { Registration, RegistrationOptions } from './register.ts';
export type { PriorityOrder, SimulatorHandle, SimulatorOptions } from './types.ts';
export { SCHEDULING_POLICIES } from './slots.ts';
export type { SchedulingPolicy } from './slots.ts';
export { metricsText } from './metrics.ts';
export type { SimFaults } from './faults.ts';
export { simFaultsSchema } from './faults.ts';
export type { AbortedCall, RecordedRequest, SimStats } from './stats.ts';
export { PROFILES, SIM_PROFILES, SIM_ROLES, getProfile, isProfileName } from './profiles.ts';
export type { SimProfile, SimProfileName, SimRole } from './profiles.ts';
export {
  REQUEST_KINDS, firstTokenMs, hasFreeSlot, interTokenMs, kvBlockCount, kvBytes, kvTransferMs, prefillMs, realMs, requestTimeline,
} from './model.ts';
export type { FirstTokenBreakdown, FirstTokenInput, RequestKind, Timeline, TimelineInput } from './model.ts';
export { classifyRequest } from './kv-transfer.ts';
export type { KvTransferParams } from './kv-transfer.ts';
export { mulberry32, hashString } from './prng.ts';
export type { Random } from './prng.ts';

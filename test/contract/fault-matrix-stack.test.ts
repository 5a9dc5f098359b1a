/**
 * The fault matrix (test/contract/fault-scenarios.ts) on the synthesized stack: non-streamed
 * requests on the Step Functions executor (the state machine run locally behind the gateway's
 * Lambda bundle). The store cells run on the in-process target only: the functions build their
 * own store clients.
 */
import { describeFaultMatrix } from './fault-scenarios.ts';
import { startStackFaultTarget } from './fault-targets.ts';

describeFaultMatrix('json', 'step-functions', { withStore: true, targets: 1 }, startStackFaultTarget);

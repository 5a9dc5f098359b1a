/**
 * The fault matrix (test/contract/fault-scenarios.ts), non-streamed requests, on the in-process executor over
 * the Node adapter, with store faults at the SDK boundary. One file per lane, each with its own
 * gateway, simulators and store, so the lanes run side by side.
 */
import { describeFaultMatrix } from './fault-scenarios.ts';
import { startInProcessFaultTarget } from './fault-targets.ts';

describeFaultMatrix('json', 'in-process', { withStore: true, targets: 4 }, startInProcessFaultTarget);

/**
 * Everything the gateway core is built from. Adapters (Lambda, local HTTP) assemble it once per
 * process; the core holds no global state.
 */
import type { SplitserveConfig } from './config.ts';
import type { PlanExecutor } from './executor.ts';
import type { RequestDrain } from './drain.ts';
import type { OverloadGuard } from './overload-guard.ts';
import type { GatewayLogger } from './logger.ts';
import type { StepDeps } from './plan-steps.ts';
import type { WorkerRoutesDeps } from './worker-registration.ts';
import type { Admission, KeyResolver, OpenRequests, RequestMetrics, UsageMeter } from './ports.ts';

/** Dependencies of {@link createGateway}. */
export interface GatewayDeps {
  readonly config: SplitserveConfig;
  /** What the plan steps call backends with. */
  readonly steps: StepDeps;
  /** Runs non-streaming plans (in-process, or the Step Functions state machine). */
  readonly executor: PlanExecutor;
  readonly keys: KeyResolver;
  readonly admission: Admission;
  /** Places each request at a tier under overload (a fallback tier, or a 429) before it is admitted. */
  readonly overload: OverloadGuard;
  readonly meter: UsageMeter;
  readonly logger: GatewayLogger;
  /** In-flight requests, refused and ended when the instance stops. */
  readonly drain: RequestDrain;
  /** Per-request metrics; none when absent (local runs log instead). */
  readonly metrics?: RequestMetrics;
  /** Markers of requests being served (crash safety of metering); none when absent. */
  readonly openRequests?: OpenRequests;
  /** The worker registration routes' store and shared secret; none: those routes answer 404. */
  readonly workers?: WorkerRoutesDeps;
}

/**
 * One {@link RequestMetrics} over several: the EMF emitter and, on a local runtime, the
 * process's aggregate behind `/metrics` and `/status`.
 */
import type { RequestMetrics } from './ports.ts';

/**
 * The sinks given, as one: undefined when there is none, the sink itself when there is one.
 *
 * @example
 * const metrics = fanOutMetrics([new EmfRequestMetrics(), localAggregate]);
 */
export function fanOutMetrics(sinks: ReadonlyArray<RequestMetrics | undefined>): RequestMetrics | undefined {
  const present = sinks.filter((s): s is RequestMetrics => s !== undefined);
  if (present.length <= 1) return present[0];
  return {
    record: (usage, facts) => {
      for (const sink of present) sink.record(usage, facts);
    },
    refused: (refusal) => {
      for (const sink of present) sink.refused(refusal);
    },
    backendError: (failure) => {
      for (const sink of present) sink.backendError(failure);
    },
  };
}

/**
 * The stack's alarms (docs/deploy.md, "Alarms"):
 * - SLO burn rate per tier with an SLO, multi-window as in the Google SRE workbook (chapter
 *   "Alerting on SLOs"): the error budget is `1 − objective`; the burn rate over a window is
 *   `(1 − SloAttained/SloJudged) / budget`; a page fires when both a long and a short window burn
 *   faster than the factor (1 h and 5 min above 14.4: 2% of a 30-day budget in an hour; 6 h and
 *   30 min above 6: 5% in six hours). Each window is an alarm without actions; a composite alarm
 *   ANDs the pair and notifies.
 * - A pool with no healthy endpoint: PoolHealthyEndpoints' maximum over every instance below 1
 *   for 3 minutes in a row.
 * Actions go to the SNS topic the config names (`alarms.topicArn`) or creates (`alarms.createTopic`).
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, AlarmRule, ComparisonOperator, CompositeAlarm, MathExpression, TreatMissingData, type AlarmBase } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { TierName } from '../lambda/core/config.ts';
import type { DeployConfig } from './deploy-config.ts';
import { catalogueMetric } from './catalogue-metrics.ts';

/** The objective of a tier without `slo.objective` when the config has no `alarms.objective`. */
export const DEFAULT_SLO_OBJECTIVE = 0.99;

/** One multi-window burn-rate condition: both windows must burn faster than `factor`. */
export interface BurnRateWindow {
  /** Name used in alarm names (`fast`, `slow`). */
  readonly name: string;
  readonly long: Duration;
  readonly short: Duration;
  readonly factor: number;
}

/** The SRE workbook's two paging conditions for a 30-day budget. */
export const BURN_RATE_WINDOWS: readonly BurnRateWindow[] = [
  { name: 'fast', long: Duration.hours(1), short: Duration.minutes(5), factor: 14.4 },
  { name: 'slow', long: Duration.hours(6), short: Duration.minutes(30), factor: 6 },
];

/** PoolHealthyEndpoints below 1 for this many one-minute periods in a row raises the pool alarm. */
export const POOL_UNHEALTHY_MINUTES = 3;

/** A tier's SLO line and objective. */
export interface TierSlo {
  readonly tier: TierName;
  readonly ttftMs: number;
  readonly objective: number;
}

/**
 * The tiers that have an SLO, with their objective (`slo.objective`, else `alarms.objective`,
 * else {@link DEFAULT_SLO_OBJECTIVE}).
 *
 * @example
 * tierSlos(config) // [{ tier: 'priority', ttftMs: 300, objective: 0.99 }, ...]
 */
export function tierSlos(config: DeployConfig): TierSlo[] {
  return Object.entries(config.tiers).flatMap(([tier, t]) =>
    t?.slo ? [{ tier: tier as TierName, ttftMs: t.slo.ttftMs, objective: t.slo.objective ?? config.alarms?.objective ?? DEFAULT_SLO_OBJECTIVE }] : [],
  );
}

/** The pools whose health the gateway checks against endpoints, static or registered (not simulated, not Bedrock). */
export function monitoredPools(config: DeployConfig): Array<{ pool: string; role: string }> {
  return Object.entries(config.pools)
    .filter(([, p]) => (p.endpoints !== undefined || p.registration !== undefined) && p.protocol !== 'bedrock')
    .map(([pool, p]) => ({ pool, role: p.role }));
}

/**
 * The burn rate of a tier's SLO over `window`, as a metric math expression.
 *
 * @example
 * burnRate({ tier: 'priority', ttftMs: 300, objective: 0.99 }, Duration.hours(1)) // (1 - attained / judged) / 0.01
 */
export function burnRate(slo: TierSlo, window: Duration): MathExpression {
  const budget = Number((1 - slo.objective).toFixed(6));
  return new MathExpression({
    expression: `(1 - attained / judged) / ${budget}`,
    usingMetrics: {
      attained: catalogueMetric('sloAttained', { tier: slo.tier }, { statistic: 'Sum', period: window }),
      judged: catalogueMetric('sloJudged', { tier: slo.tier }, { statistic: 'Sum', period: window }),
    },
    period: window,
    label: `${slo.tier} SLO burn rate over ${window.toHumanString()}`,
  });
}

/** Properties of {@link SplitserveAlarms}. */
export interface SplitserveAlarmsProps {
  /** The deploy config: tiers' SLOs, pools, and `alarms` (topic, objective). */
  readonly config: DeployConfig;
}

/**
 * Burn-rate and pool-health alarms, and their topic.
 *
 * @example
 * const alarms = new SplitserveAlarms(this, 'Alarms', { config });
 */
export class SplitserveAlarms extends Construct {
  /** The topic alarm and OK notifications go to; absent when the config names none. */
  public readonly topic: ITopic | undefined;
  /** The alarms that notify: burn-rate composites and pool-health alarms. */
  public readonly alarms: readonly AlarmBase[];

  constructor(scope: Construct, id: string, props: SplitserveAlarmsProps) {
    super(scope, id);
    const { config } = props;
    this.topic = this.topicOf(config);
    const notifying: AlarmBase[] = [];
    // Names an on-call engineer reads in a page: the stack, the tier or pool, the condition.
    const name = (...parts: string[]) => [Stack.of(this).stackName, ...parts].join('-');

    for (const slo of tierSlos(config)) {
      for (const w of BURN_RATE_WINDOWS) {
        const windowAlarm = (window: Duration, which: 'Long' | 'Short') =>
          new Alarm(this, `${slo.tier}-${w.name}-${which}`, {
            alarmName: name(slo.tier, w.name, 'burn-rate', which.toLowerCase()),
            alarmDescription: `splitserve ${slo.tier}: SLO budget burning faster than ${w.factor}x over ${window.toHumanString()} (objective ${slo.objective}). Part of the ${w.name} burn-rate alarm.`,
            metric: burnRate(slo, window),
            threshold: w.factor,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          });
        const long = windowAlarm(w.long, 'Long');
        const short = windowAlarm(w.short, 'Short');
        notifying.push(
          new CompositeAlarm(this, `${slo.tier}-${w.name}-BurnRate`, {
            compositeAlarmName: name(slo.tier, w.name, 'burn-rate'),
            alarmDescription:
              `splitserve ${slo.tier}: the SLO's error budget (objective ${slo.objective}) burns faster than ${w.factor}x over both ` +
              `${w.long.toHumanString()} and ${w.short.toHumanString()}: at this pace a 30-day budget lasts ${Math.round((30 * 24) / w.factor)} hours.`,
            alarmRule: AlarmRule.allOf(long, short),
          }),
        );
      }
    }

    for (const { pool, role } of monitoredPools(config)) {
      notifying.push(
        new Alarm(this, `${pool}-NoHealthyEndpoint`, {
          alarmName: name('pool', pool, 'no-healthy-endpoint'),
          alarmDescription: `splitserve pool ${pool}: no healthy endpoint seen by any function instance for ${POOL_UNHEALTHY_MINUTES} minutes (health checks failing or breakers open).`,
          metric: catalogueMetric('poolHealthyEndpoints', { pool, role }, { statistic: 'Maximum', period: Duration.minutes(1) }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: POOL_UNHEALTHY_MINUTES,
          datapointsToAlarm: POOL_UNHEALTHY_MINUTES,
          // No data means no instance ran (no traffic), not a dead pool.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    if (this.topic) {
      const action = new SnsAction(this.topic);
      for (const alarm of notifying) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    this.alarms = notifying;
  }

  private topicOf(config: DeployConfig): ITopic | undefined {
    const options = config.alarms;
    if (options?.topicArn !== undefined) return Topic.fromTopicArn(this, 'Topic', options.topicArn);
    if (!options?.createTopic) return undefined;
    const topic = new Topic(this, 'Topic', { displayName: 'splitserve alarms', enforceSSL: true });
    for (const email of options.emails) topic.addSubscription(new EmailSubscription(email));
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names, thresholds and states, no data; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would cost $1/month for nothing to protect.',
    });
    return topic;
  }
}

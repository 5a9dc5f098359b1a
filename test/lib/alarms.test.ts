/**
 * The alarms (lib/alarms.ts) synthesized on their own stack: multi-window burn-rate alarms per
 * tier with an SLO (thresholds, periods, the objective's budget, SNS actions on the composites
 * only), the no-healthy-endpoint alarm per pool, and the topic: named, created, or none.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { METRICS, METRICS_NAMESPACE } from '../../lambda/core/metric-catalogue.ts';
import { BURN_RATE_WINDOWS, POOL_UNHEALTHY_MINUTES, SplitserveAlarms, tierSlos } from '../../lib/alarms.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:oncall';

const base = {
  pools: {
    'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['https://prefill.example.com'] },
    'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: ['https://decode.example.com'] },
    sim: { protocol: 'openai', simulate: { profile: 'gpu-aggregated' } },
    bedrock: { protocol: 'bedrock', region: 'us-east-1', modelIds: { m: 'meta.llama3-1-8b-instruct-v1:0' } },
  },
  models: { m: { pools: ['trn-prefill', 'cs3-decode', 'sim', 'bedrock'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, slo: { ttftMs: 300, tpotMs: 5, objective: 0.999 }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'sim' }, slo: { ttftMs: 1000, tpotMs: 50 }, fallback: 'flex' },
    flex: { route: { mode: 'bedrock', pool: 'bedrock' } },
  },
};

function synth(alarms: unknown) {
  const stack = new Stack(new App(), 'AlarmsTest');
  const config = toDeployConfig(parseConfig({ ...base, ...(alarms === undefined ? {} : { alarms }) }));
  const construct = new SplitserveAlarms(stack, 'Alarms', { config });
  return { stack, construct, template: Template.fromStack(stack), config };
}

type Props = Record<string, any>;
const ofType = (t: Template, type: string): Array<[string, Props]> =>
  Object.entries(t.findResources(type)).map(([id, r]) => [id, (r as { Properties: Props }).Properties]);

describe('burn-rate alarms', () => {
  const { template, config } = synth({ topicArn: TOPIC, objective: 0.98 });
  const alarms = ofType(template, 'AWS::CloudWatch::Alarm');
  const burn = alarms.filter(([, p]) => p.Metrics !== undefined);

  it('take each tier\'s objective: its own slo.objective, else alarms.objective', () => {
    expect(tierSlos(config)).toEqual([
      { tier: 'priority', ttftMs: 300, objective: 0.999 },
      { tier: 'default', ttftMs: 1000, objective: 0.98 },
    ]);
  });

  it('watch both windows of both conditions per tier with an SLO: 1 h and 5 min above 14.4, 6 h and 30 min above 6', () => {
    expect(BURN_RATE_WINDOWS.map((w) => [w.long.toSeconds(), w.short.toSeconds(), w.factor])).toEqual([
      [3600, 300, 14.4],
      [21600, 1800, 6],
    ]);
    expect(burn).toHaveLength(2 * 2 * 2);
    const seen = burn.map(([, p]) => {
      const expr = p.Metrics.find((m: Props) => m.Expression !== undefined);
      const attained = p.Metrics.find((m: Props) => m.Id === 'attained').MetricStat;
      const judged = p.Metrics.find((m: Props) => m.Id === 'judged').MetricStat;
      expect(attained.Metric).toMatchObject({ Namespace: METRICS_NAMESPACE, MetricName: METRICS.sloAttained.name });
      expect(judged.Metric).toMatchObject({ Namespace: METRICS_NAMESPACE, MetricName: METRICS.sloJudged.name });
      expect(attained.Stat).toBe('Sum');
      expect(attained.Period).toBe(judged.Period);
      expect(p.ComparisonOperator).toBe('GreaterThanThreshold');
      expect(p.EvaluationPeriods).toBe(1);
      expect(p.TreatMissingData).toBe('notBreaching');
      expect(p.AlarmActions).toBeUndefined(); // the composite notifies
      return `${attained.Metric.Dimensions[0].Value} ${attained.Period} ${p.Threshold} ${expr.Expression}`;
    });
    expect(seen.sort()).toEqual(
      [
        'default 1800 6 (1 - attained / judged) / 0.02',
        'default 21600 6 (1 - attained / judged) / 0.02',
        'default 300 14.4 (1 - attained / judged) / 0.02',
        'default 3600 14.4 (1 - attained / judged) / 0.02',
        'priority 1800 6 (1 - attained / judged) / 0.001',
        'priority 21600 6 (1 - attained / judged) / 0.001',
        'priority 300 14.4 (1 - attained / judged) / 0.001',
        'priority 3600 14.4 (1 - attained / judged) / 0.001',
      ].sort(),
    );
  });

  it('page through a composite per condition that ANDs its two windows and notifies the topic', () => {
    const composites = ofType(template, 'AWS::CloudWatch::CompositeAlarm');
    expect(composites).toHaveLength(2 * 2);
    expect(composites.map(([, p]) => p.AlarmName).sort()).toEqual([
      'AlarmsTest-default-fast-burn-rate',
      'AlarmsTest-default-slow-burn-rate',
      'AlarmsTest-priority-fast-burn-rate',
      'AlarmsTest-priority-slow-burn-rate',
    ]);
    for (const [id, p] of composites) {
      expect(p.AlarmActions, id).toEqual([TOPIC]);
      expect(p.OKActions, id).toEqual([TOPIC]);
      const rule = JSON.stringify(p.AlarmRule);
      expect(rule, id).toMatch(/^"?\{?.*ALARM\(.*\) AND ALARM\(.*\)/);
      const refs = [...rule.matchAll(/"Fn::GetAtt":\["([^"]+)","Arn"\]/g)].map((m) => m[1]!);
      expect(refs, id).toHaveLength(2);
      const [tier, condition] = id.match(/^Alarms(priority|default)(fast|slow)/)!.slice(1);
      for (const ref of refs) expect(ref, id).toMatch(new RegExp(`^Alarms${tier}${condition}(Long|Short)`));
    }
  });
});

describe('pool health alarm', () => {
  const { template } = synth({ topicArn: TOPIC });

  it('fires when no instance sees a healthy endpoint for 3 minutes, for each pool with endpoints', () => {
    const pools = ofType(template, 'AWS::CloudWatch::Alarm').filter(([, p]) => p.MetricName === METRICS.poolHealthyEndpoints.name);
    expect(pools.map(([, p]) => p.AlarmName)).toEqual(['AlarmsTest-pool-trn-prefill-no-healthy-endpoint', 'AlarmsTest-pool-cs3-decode-no-healthy-endpoint']);
    expect(pools.map(([, p]) => p.Dimensions)).toEqual([
      [{ Name: 'pool', Value: 'trn-prefill' }, { Name: 'role', Value: 'prefill' }],
      [{ Name: 'pool', Value: 'cs3-decode' }, { Name: 'role', Value: 'decode' }],
    ]);
    for (const [, p] of pools) {
      expect(p).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: POOL_UNHEALTHY_MINUTES,
        DatapointsToAlarm: POOL_UNHEALTHY_MINUTES,
        TreatMissingData: 'notBreaching',
        AlarmActions: [TOPIC],
        OKActions: [TOPIC],
      });
    }
  });
});

describe('the alarm topic', () => {
  it('is created, TLS-only, with the e-mail subscriptions, when asked', () => {
    const { template, construct, stack } = synth({ createTopic: true, emails: ['oncall@example.com'] });
    expect(construct.topic).toBeDefined();
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const topicId = ofType(template, 'AWS::SNS::Topic')[0]![0];
    for (const [id, p] of ofType(template, 'AWS::CloudWatch::CompositeAlarm')) expect(p.AlarmActions, id).toEqual([{ Ref: topicId }]);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('is absent without an alarms block: the alarms exist without actions', () => {
    const { template, construct } = synth(undefined);
    expect(construct.topic).toBeUndefined();
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(ofType(template, 'AWS::CloudWatch::CompositeAlarm')).toHaveLength(4);
    for (const [id, p] of [...ofType(template, 'AWS::CloudWatch::CompositeAlarm'), ...ofType(template, 'AWS::CloudWatch::Alarm')]) expect(p.AlarmActions, id).toBeUndefined();
  });

  it('rejects a topic both named and created, and e-mails without a created topic', () => {
    expect(() => synth({ topicArn: TOPIC, createTopic: true })).toThrow(/alarms\.createTopic: give either "topicArn" or "createTopic", not both/);
    expect(() => synth({ emails: ['a@example.com'] })).toThrow(/alarms\.emails: "emails" subscribe to a created topic/);
    expect(() => synth({ topicArn: 'oncall' })).toThrow(/alarms\.topicArn: expected an SNS topic ARN/);
  });
});

/**
 * The operations dashboard (lib/dashboard.ts) synthesized on its own stack: its widgets name the
 * catalogue's metrics (lambda/core/metric-catalogue.ts) with the config's tiers and pools, draw
 * each tier's SLO line, and graph the functions' and state machine's AWS metrics.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { METRICS, METRICS_NAMESPACE } from '../../lambda/core/metric-catalogue.ts';
import { SplitserveAlarms } from '../../lib/alarms.ts';
import { catalogueMetric } from '../../lib/catalogue-metrics.ts';
import { OperationsDashboard } from '../../lib/dashboard.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';

const config = toDeployConfig(
  parseConfig({
    pools: {
      'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['https://prefill.example.com'] },
      'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: ['https://decode.example.com'] },
      gpu: { protocol: 'openai', endpoints: ['https://gpu.example.com'] },
    },
    models: { m: { pools: ['trn-prefill', 'cs3-decode', 'gpu'] } },
    tiers: {
      priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, slo: { ttftMs: 300, tpotMs: 5, objective: 0.995 }, fallback: 'default' },
      default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 1000, tpotMs: 50 }, fallback: 'flex' },
      flex: { route: { mode: 'aggregated', pool: 'gpu' } },
    },
    alarms: { objective: 0.99 },
  }),
);

interface Widget {
  readonly type: string;
  readonly properties: {
    readonly title?: string;
    readonly metrics?: unknown[][];
    readonly annotations?: { horizontal?: Array<{ value: number; label: string }> };
    readonly alarms?: unknown[];
  };
}

let widgets: Widget[];

beforeAll(() => {
  const stack = new Stack(new App(), 'DashboardTest');
  const fn = (name: string) => LambdaFunction.fromFunctionName(stack, name, `splitserve-${name}`);
  const stateMachine = StateMachine.fromStateMachineName(stack, 'Plan', 'splitserve-plan');
  const alarms = new SplitserveAlarms(stack, 'Alarms', { config });
  new OperationsDashboard(stack, 'Dashboard', { config, functions: { gateway: fn('gateway'), decode: fn('decode') }, stateMachine, alarms: alarms.alarms });
  const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
  // The body is an Fn::Join of JSON text and tokens (region, alarm ARNs): tokens become strings.
  const text = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, any>;
    if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(text).join(o['Fn::Join'][0]);
    return `<${JSON.stringify(o).replace(/"/g, "'")}>`;
  };
  widgets = (JSON.parse(text(dashboard!.Properties.DashboardBody)) as { widgets: Widget[] }).widgets;
});

const titled = (pattern: RegExp) => {
  const found = widgets.filter((w) => pattern.test(w.properties.title ?? ''));
  expect(found.length, String(pattern)).toBeGreaterThan(0);
  return found;
};

/** Every metric row of the widgets as JSON, for searching names and dimensions. */
const rowsOf = (ws: Widget[]) => ws.flatMap((w) => (w.properties.metrics ?? []).map((row) => JSON.stringify(row)));

describe('the operations dashboard', () => {
  it('graphs TTFT p50 and p99 of each tier from the catalogue, with the tier\'s slo.ttftMs as a horizontal line', () => {
    for (const [tier, ttftMs] of [['priority', 300], ['default', 1000]] as const) {
      const [widget] = titled(new RegExp(`^TTFT, ${tier} tier`));
      const rows = widget!.properties.metrics!;
      expect(rows).toEqual([
        [METRICS_NAMESPACE, METRICS.ttft.name, 'tier', tier, expect.objectContaining({ stat: 'p50' })],
        [METRICS_NAMESPACE, METRICS.ttft.name, 'tier', tier, expect.objectContaining({ stat: 'p99' })],
      ]);
      expect(widget!.properties.annotations!.horizontal).toEqual([expect.objectContaining({ value: ttftMs, label: `SLO ttftMs ${ttftMs}` })]);
    }
    const [flex] = titled(/^TTFT, flex tier/);
    expect(flex!.properties.annotations?.horizontal ?? []).toEqual([]);
  });

  it('computes SLO attainment as SloAttained / SloJudged per tier, against each objective', () => {
    const [widget] = titled(/^SLO attainment/);
    const rows = rowsOf([widget!]);
    expect(rows.some((r) => r.includes('100 * attained_priority / judged_priority'))).toBe(true);
    for (const tier of ['priority', 'default']) {
      expect(rows.some((r) => r.includes(`"${METRICS.sloAttained.name}","tier","${tier}"`)), tier).toBe(true);
      expect(rows.some((r) => r.includes(`"${METRICS.sloJudged.name}","tier","${tier}"`)), tier).toBe(true);
    }
    expect(rows.some((r) => r.includes('"flex"'))).toBe(false);
    expect(widget!.properties.annotations!.horizontal!.map((a) => a.value).sort()).toEqual([99, 99.5]);
  });

  it('graphs error, fallback and backend error rates, pool health and refusals by reason from the catalogue', () => {
    const errors = rowsOf(titled(/^Error rate/));
    expect(errors.some((r) => r.includes(`{${METRICS_NAMESPACE},tier,route,outcome} MetricName=\\"${METRICS.requests.name}\\" tier=\\"priority\\" outcome=\\"error\\"`))).toBe(true);
    const fallbacks = rowsOf(titled(/^Fallback rate/));
    expect(fallbacks.some((r) => r.includes(`"${METRICS.fallbacks.name}","tier","default"`))).toBe(true);
    expect(rowsOf(titled(/^Backend errors/)).join()).toContain(`{${METRICS_NAMESPACE},pool,class} MetricName=\\"${METRICS.backendErrors.name}\\"`);
    expect(rowsOf(titled(/^Pool health/)).join()).toContain(`{${METRICS_NAMESPACE},pool,role} MetricName=\\"${METRICS.poolHealthyEndpoints.name}\\"`);
    expect(rowsOf(titled(/^Refused/)).join()).toContain(`{${METRICS_NAMESPACE},tier,reason} MetricName=\\"${METRICS.refused.name}\\"`);
  });

  it('graphs the functions\' concurrency and throttles and the state machine\'s failures and timeouts', () => {
    const concurrency = rowsOf(titled(/^Lambda concurrency/)).join();
    // An imported function's name is a token over its ARN: the ARN ends with the name.
    for (const name of ['splitserve-gateway', 'splitserve-decode']) expect(concurrency).toMatch(new RegExp(`"AWS/Lambda","ConcurrentExecutions","FunctionName","[^"]*:function:${name}'`));
    expect(rowsOf(titled(/^Lambda throttles/)).join()).toMatch(/"AWS\/Lambda","Throttles","FunctionName","[^"]*:function:splitserve-gateway'/);
    const sfn = rowsOf(titled(/^Step Functions/)).join();
    expect(sfn).toContain('"AWS/States","ExecutionsFailed"');
    expect(sfn).toContain('"AWS/States","ExecutionsTimedOut"');
  });

  it('shows the notifying alarms: two burn-rate alarms per tier with an SLO, one per monitored pool', () => {
    const [status] = widgets.filter((w) => w.type === 'alarm');
    expect(status!.properties.alarms).toHaveLength(2 * 2 + 3);
  });
});

describe('catalogueMetric', () => {
  it('refuses dimensions the catalogue does not publish the metric with', () => {
    expect(() => catalogueMetric('ttft', { tier: 'priority', route: 'aggregated' }, { statistic: 'p99' })).toThrow(/TimeToFirstToken is published with dimensions \[tier\]/);
    expect(() => catalogueMetric('poolHealthyEndpoints', { pool: 'gpu' }, { statistic: 'Maximum' })).toThrow(/\[pool, role\]/);
  });
});

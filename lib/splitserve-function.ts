/**
 * The one way splitserve builds a Lambda function: Node.js on arm64, bundled locally by esbuild
 * into a minified ES module, AWS SDK clients taken from the runtime (the Bedrock client, and the
 * tracer with `-c traceCalls=true`, from layers), Powertools configured through the environment,
 * X-Ray active tracing (the invocation traced by the service; subsegments of each call only with
 * `-c traceCalls=true`,
 * lambda/handlers/tracing.ts), logs in a log group with a retention.
 */
import { Duration, Token, Validations } from 'aws-cdk-lib';
import { Architecture, type Runtime, Tracing, LoggingFormat } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, LogLevel as EsbuildLogLevel } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { LAMBDA_ENV_LIMIT_BYTES } from './deploy-config.ts';
import { moduleLayer } from './module-layer.ts';
import type { FunctionNetwork } from './network.ts';
import { NODE_RUNTIME } from './runtime.ts';
import { METRICS_NAMESPACE } from '../lambda/core/metric-catalogue.ts';

/**
 * AWS SDK v3 packages resolved from the Lambda runtime instead of the bundle. Node.js 18 and later
 * runtimes ship SDK v3 as `@aws-sdk/*` (not v2's `aws-sdk`), so these stay out of the bundle: they
 * are the calls whose API has not changed for years (DynamoDB items, StartSyncExecution,
 * GetSecretValue, GetParameter). The Secrets Manager and SSM clients are imported on a pool
 * credential's first read only (lambda/backends/credential-sources.ts).
 */
export const RUNTIME_PROVIDED_MODULES = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sfn', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-ssm'] as const;

/**
 * Packages kept out of the bundle but NOT taken from the runtime's SDK. `@aws-sdk/client-bedrock-runtime`
 * (about 490 KB minified with the `@aws-sdk/core`/`@smithy/*` it needs, which would put every
 * bundle over budget) is imported lazily, on the first Bedrock call only
 * (lambda/backends/bedrock-client.ts), and shipped at the version tested in a layer given to the
 * functions that call Bedrock when the config has a Bedrock pool (lib/bedrock-access.ts):
 * Converse's `serviceTier` is recent, and an older runtime-provided client would drop it silently.
 */
export const LAYER_PROVIDED_MODULES = ['@aws-sdk/client-bedrock-runtime', '@aws-lambda-powertools/tracer'] as const;

/**
 * The Powertools tracer (with the X-Ray SDK it loads, about 124 KB of a function bundle): imported
 * only with `-c traceCalls=true` (lambda/handlers/tracing.ts), so kept out of the bundles and
 * shipped at the version tested in a layer that only the functions of such a deploy get.
 */
export const TRACER_MODULE = '@aws-lambda-powertools/tracer';

/** Powertools settings shared by every function. Events and responses carry prompts: never logged or traced. */
export const POWERTOOLS_ENV = {
  POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_LOGGER_LOG_EVENT: 'false',
  POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
  POWERTOOLS_TRACER_CAPTURE_ERROR: 'true',
} as const;

/**
 * CDK context key that turns on X-Ray subsegments of every backend and DynamoDB call
 * (`cdk deploy -c traceCalls=true`). Off by default: the tracer's async hooks slow every promise
 * of the function (lambda/handlers/tracing.ts).
 */
export const TRACE_CALLS_CONTEXT = 'traceCalls';

/**
 * ESM bundles that still contain CommonJS modules calling `require()` on Node built-ins need a
 * real `require`; esbuild's shim throws "Dynamic require of … is not supported" without it.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __splitserveCreateRequire } from 'node:module'; const require = __splitserveCreateRequire(import.meta.url);";

/**
 * Bytes assumed for a value that is still a CloudFormation token at synth time (a table name is
 * about 50 characters, a state machine ARN about 110).
 */
const TOKEN_VALUE_BYTES = 160;

/**
 * Size of an environment as Lambda counts it (keys and values), tokens estimated.
 *
 * @throws Error naming the function when it exceeds Lambda's 4 KB limit
 */
export function checkEnvironmentSize(functionPath: string, environment: Readonly<Record<string, string>>): number {
  let size = 0;
  for (const [key, value] of Object.entries(environment)) {
    size += Buffer.byteLength(key, 'utf8') + (Token.isUnresolved(value) ? TOKEN_VALUE_BYTES : Buffer.byteLength(value, 'utf8'));
  }
  if (size > LAMBDA_ENV_LIMIT_BYTES) {
    throw new Error(
      `${functionPath}: environment is about ${size} bytes, over Lambda's ${LAMBDA_ENV_LIMIT_BYTES}-byte limit; shrink the config (SPLITSERVE_CONFIG).`,
    );
  }
  return size;
}

/** Properties of a {@link SplitserveFunction}. */
export interface SplitserveFunctionProps {
  /** Path of the TypeScript entry file. */
  readonly entry: string;
  /** Exported handler name in the entry. */
  readonly handler: string;
  /** Human description shown in the console. */
  readonly description: string;
  /**
   * Powertools service name (logger `service`, metrics dimension, trace annotation).
   * @default 'splitserve'
   */
  readonly serviceName?: string;
  /**
   * Extra environment variables. Never secrets: the template and the console show them.
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Memory in MB (CPU scales with it).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Lambda runtime.
   * @default NODE_RUNTIME (Node.js 22, the version the local toolchain pins)
   */
  readonly runtime?: Runtime;
  /**
   * Log retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Emit a source map beside the bundle and enable `--enable-source-maps`. Off by default: it
   * doubles the asset and makes every `Error.stack` slower to build.
   * @default false
   */
  readonly sourceMap?: boolean;
  /**
   * The VPC, subnets and security groups to run in (lib/network.ts).
   * @default - no VPC: the function reaches the internet and AWS APIs directly
   */
  readonly network?: FunctionNetwork;
}

/**
 * A Node.js function bundled with the local esbuild (never Docker).
 *
 * @example
 * const fn = new SplitserveFunction(this, 'Gateway', {
 *   entry: 'lambda/handlers/gateway-stream.ts', handler: 'handler', description: 'API gateway',
 * });
 */
export class SplitserveFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SplitserveFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    });
    const sourceMap = props.sourceMap ?? false;
    const traceCalls = String(scope.node.tryGetContext(TRACE_CALLS_CONTEXT) ?? 'false') === 'true';
    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'splitserve',
      ...POWERTOOLS_ENV,
      POWERTOOLS_TRACE_ENABLED: String(traceCalls),
      ...(sourceMap ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
      ...props.environment,
    };
    checkEnvironmentSize(`${scope.node.path}/${id}`, environment);
    super(scope, id, {
      entry: props.entry,
      handler: props.handler,
      description: props.description,
      runtime: props.runtime ?? NODE_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment,
      ...props.network,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap,
        sourcesContent: false,
        externalModules: [...RUNTIME_PROVIDED_MODULES, ...LAYER_PROVIDED_MODULES],
        banner: ESM_REQUIRE_BANNER,
        metafile: false,
        logLevel: EsbuildLogLevel.ERROR,
      },
    });
    if (traceCalls) this.addLayers(moduleLayer(this, 'TracerLayer', TRACER_MODULE));
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWSLambdaBasicExecutionRole allows only logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents: the minimum a function needs to write its own logs.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) use Resource "*": X-Ray does not support resource-level permissions for these actions.',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'Node.js 22 on purpose: it is the version the repository pins for local runs and tests (devDependency node@22), so what is tested is what runs; Lambda supports it until 2027-04-30.',
      },
    );
    if (props.network) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'AWSLambdaVPCAccessExecutionRole allows only creating, describing and deleting the network interfaces a function needs in its VPC (and writing its logs): what Lambda requires to place a function in a VPC.',
      });
    }
  }
}

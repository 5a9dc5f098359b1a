/**
 * The public REST API: OpenAI-compatible routes on one Lambda proxy integration with response
 * streaming. No API keys or usage plans: tenants, keys and quotas are the gateway's (DynamoDB).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { GATEWAY_RESPONSES } from './gateway-responses.ts';

/** The routes, as `[method, path]` (docs/api.md); `{modelId}` is a path parameter (docs/bedrock-clients.md). */
export const API_ROUTES = [
  ['POST', '/v1/chat/completions'],
  ['POST', '/v1/completions'],
  ['GET', '/v1/models'],
  ['GET', '/health'],
  ['POST', '/model/{modelId}/converse'],
  ['POST', '/model/{modelId}/converse-stream'],
] as const;

/** The worker registration routes (docs/worker-registration.md), only on a stack whose config takes registrations over HTTP. */
export const WORKER_API_ROUTES = [
  ['POST', '/v1/workers/register'],
  ['POST', '/v1/workers/deregister'],
] as const;

/**
 * One JSON object per request. Request headers are not logged at all, so neither is
 * `Authorization`. `$context.error.messageString` is already a quoted, escaped JSON string.
 */
export const ACCESS_LOG_FORMAT = `{${[
  ['requestId', AccessLogField.contextRequestId()],
  ['extendedRequestId', AccessLogField.contextExtendedRequestId()],
  ['ip', AccessLogField.contextIdentitySourceIp()],
  ['requestTime', AccessLogField.contextRequestTimeEpoch()],
  ['method', AccessLogField.contextHttpMethod()],
  ['path', AccessLogField.contextResourcePath()],
  ['protocol', AccessLogField.contextProtocol()],
  ['status', AccessLogField.contextStatus()],
  ['responseLength', AccessLogField.contextResponseLength()],
  ['responseLatencyMs', AccessLogField.contextResponseLatency()],
  ['integrationLatencyMs', AccessLogField.contextIntegrationLatency()],
  ['integrationStatus', AccessLogField.contextIntegrationStatus()],
  ['xrayTraceId', AccessLogField.contextXrayTraceId()],
]
  .map(([key, field]) => `"${key}":"${field}"`)
  .concat(`"error":${AccessLogField.contextErrorMessageString()}`)
  .join(',')}}`;

/** Properties of {@link GatewayApi}. */
export interface GatewayApiProps {
  /** The gateway function (a streaming handler). */
  readonly handler: IFunction;
  /**
   * Stage name (the first path segment of the URL).
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Stage-wide steady-state request rate limit (requests per second), before the per-tenant limits.
   * @default 500
   */
  readonly throttlingRateLimit?: number;
  /**
   * Stage-wide burst limit (requests).
   * @default 1000
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Integration timeout. With response streaming it may reach 15 minutes.
   * @default Duration.minutes(5)
   */
  readonly integrationTimeout?: Duration;
  /**
   * Retention of the access log group.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly accessLogRetention?: RetentionDays;
  /**
   * Serve the worker registration routes ({@link WORKER_API_ROUTES}): some pool takes
   * registrations and the config has `workers.secret`.
   * @default false
   */
  readonly workerRoutes?: boolean;
}

/**
 * Regional REST API (an edge-optimized endpoint would cut idle streams at 30 s), JSON access logs
 * without headers (so never the `Authorization` header), execution logs at ERROR without data
 * (integration and permission failures show up; bodies never do), X-Ray on, stage throttling,
 * and OpenAI-shaped gateway responses for what API Gateway answers itself.
 */
export class GatewayApi extends Construct {
  /** The REST API. */
  public readonly api: RestApi;
  /** Base URL of the stage (ends with `/`); clients use `${url}v1` as their OpenAI base URL. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: GatewayApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new RestApi(this, 'Api', {
      description: 'splitserve: OpenAI-compatible inference gateway',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Execution logging needs the account-level API Gateway CloudWatch role; kept on stack
      // deletion because it is shared by every REST API in the account and region.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        throttlingRateLimit: props.throttlingRateLimit ?? 500,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 1000,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    const integration = new LambdaIntegration(props.handler, {
      proxy: true,
      responseTransferMode: ResponseTransferMode.STREAM,
      timeout: props.integrationTimeout ?? Duration.minutes(5),
      // One resource-policy statement for the whole API instead of two per method.
      scopePermissionToMethod: false,
    });
    for (const [method, path] of [...API_ROUTES, ...(props.workerRoutes ? WORKER_API_ROUTES : [])]) {
      this.api.root.resourceForPath(path).addMethod(method, integration);
    }
    // The streaming URI (2021-11-15/…/response-streaming-invocations) is InvokeWithResponseStream;
    // the integration above adds lambda:InvokeFunction, this adds the streaming action, both
    // scoped to this API's execute-api ARN.
    props.handler.addPermission('ApiInvokeWithResponseStream', {
      principal: new ServicePrincipal('apigateway.amazonaws.com'),
      action: 'lambda:InvokeWithResponseStream',
      sourceArn: this.api.arnForExecuteApi(),
    });
    // What API Gateway answers itself (unknown route or method, body over 10 MB, throttling,
    // timeouts), in the OpenAI error shape (lib/gateway-responses.ts).
    for (const response of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(`Response${response.type}`, {
        type: ResponseType.of(response.type),
        ...(response.statusCode ? { statusCode: response.statusCode } : {}),
        ...(response.headers ? { responseHeaders: { ...response.headers } } : {}),
        templates: { 'application/json': response.template },
      });
    }
    this.url = this.api.url;

    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason: 'Request bodies are validated by the gateway function (zod), which answers with OpenAI-shaped 400 errors that OpenAI clients parse; an API Gateway request validator would answer in its own shape.',
      },
      {
        id: 'AwsSolutions-APIG4',
        reason: 'Callers authenticate with OpenAI-style Bearer API keys, verified by the gateway function against SHA-256 hashes in the Config table; an API Gateway authorizer would add a second Lambda invocation to every request, on the time-to-first-token path.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason: 'OpenAI-compatible clients send API keys, not Cognito tokens; keys are verified by the gateway function (see APIG4).',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "The account-level role API Gateway uses to write execution logs; AmazonAPIGatewayPushToCloudWatchLogs is AWS's policy for exactly that role.",
      },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'A WAF web ACL is an account decision (often applied centrally with Firewall Manager) with a per-request cost; stage throttling and per-tenant quotas in the gateway bound abuse. Associate a web ACL with the stage where policy requires one.',
      },
    );
  }
}

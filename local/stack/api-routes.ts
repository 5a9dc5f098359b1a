/**
 * The REST API's routes as the template declares them: each `AWS::ApiGateway::Method` on its
 * `AWS::ApiGateway::Resource` path (built by following `ParentId` up to the API's root), with the
 * Lambda function its proxy integration invokes and whether it streams the response.
 */
import { resourcesOfType } from './cloud-assembly.ts';
import type { CfnTemplate, TemplateResolver } from './template-resolver.ts';

/** One method of the REST API. */
export interface ApiRoute {
  readonly method: string;
  readonly path: string;
  /** ARN of the function the integration invokes (from the integration `Uri`). */
  readonly functionArn: string | undefined;
  /** `ResponseTransferMode: STREAM` (the `response-streaming-invocations` URI). */
  readonly streaming: boolean;
}

type Props = Record<string, unknown>;

function refOf(value: unknown): string | undefined {
  const ref = (value as { Ref?: unknown } | null)?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * Lists the routes of every REST API in the template, sorted by path then method.
 *
 * @example
 * apiRoutesFromTemplate(template, resolver).map((r) => `${r.method} ${r.path}`);
 * // ['GET /health', 'POST /v1/chat/completions', …]
 */
export function apiRoutesFromTemplate(template: CfnTemplate, resolver: TemplateResolver): ApiRoute[] {
  const resources = template.Resources;
  const pathOf = (resourceId: unknown, seen = new Set<string>()): string => {
    const id = refOf(resourceId);
    // Anything but a Ref to an AWS::ApiGateway::Resource is the root (Fn::GetAtt [Api, RootResourceId]).
    const resource = id ? resources[id] : undefined;
    if (!id || resource?.Type !== 'AWS::ApiGateway::Resource') return '';
    if (seen.has(id)) throw new Error(`API resource ${id} is its own ancestor`);
    seen.add(id);
    const props = (resource.Properties ?? {}) as Props;
    return `${pathOf(props.ParentId, seen)}/${String(resolver.resolve(props.PathPart))}`;
  };
  const routes = resourcesOfType(template, 'AWS::ApiGateway::Method').map(([, method]) => {
    const props = (method.Properties ?? {}) as Props;
    const integration = (resolver.resolve(props.Integration ?? {}) ?? {}) as { Uri?: unknown; ResponseTransferMode?: unknown };
    const uri = typeof integration.Uri === 'string' ? integration.Uri : '';
    const match = /\/functions\/(.+?)\/(response-streaming-)?invocations$/.exec(uri);
    return {
      method: String(resolver.resolve(props.HttpMethod)).toUpperCase(),
      path: pathOf(props.ResourceId) || '/',
      functionArn: match?.[1],
      streaming: integration.ResponseTransferMode === 'STREAM' || match?.[2] !== undefined,
    };
  });
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * The REST API's gateway responses as the template declares them (`AWS::ApiGateway::GatewayResponse`:
 * `ResponseType`, `StatusCode`, `ResponseParameters`, `ResponseTemplates`), for the API Gateway
 * emulator to answer what the deployed API answers.
 */
import type { GatewayResponseDefinition, GatewayResponseType } from '../../lib/gateway-responses.ts';
import { resourcesOfType } from './cloud-assembly.ts';
import type { CfnTemplate, TemplateResolver } from './template-resolver.ts';

const HEADER_PARAMETER = 'gatewayresponse.header.';

interface GatewayResponseProps {
  ResponseType?: unknown;
  StatusCode?: unknown;
  ResponseParameters?: Record<string, unknown>;
  ResponseTemplates?: Record<string, unknown>;
}

/**
 * Lists the gateway responses of the template's REST API (the `application/json` template of each).
 *
 * @example
 * gatewayResponsesFromTemplate(template, resolver).map((r) => `${r.type} ${r.statusCode}`);
 * // ['MISSING_AUTHENTICATION_TOKEN 404', 'REQUEST_TOO_LARGE 413', …]
 * @throws Error for a response without an `application/json` template or with a parameter that is not a response header
 */
export function gatewayResponsesFromTemplate(template: CfnTemplate, resolver: TemplateResolver): GatewayResponseDefinition[] {
  return resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse').map(([logicalId, resource]) => {
    const props = resolver.resolve(resource.Properties ?? {}) as GatewayResponseProps;
    const body = props.ResponseTemplates?.['application/json'];
    if (typeof body !== 'string') throw new Error(`gateway response ${logicalId} has no application/json template`);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(props.ResponseParameters ?? {})) {
      if (!key.startsWith(HEADER_PARAMETER)) throw new Error(`gateway response ${logicalId}: parameter ${key} is not a response header`);
      headers[key.slice(HEADER_PARAMETER.length)] = String(value);
    }
    return {
      type: String(props.ResponseType) as GatewayResponseType,
      ...(props.StatusCode === undefined ? {} : { statusCode: String(props.StatusCode) }),
      ...(Object.keys(headers).length ? { headers } : {}),
      template: body,
    };
  });
}

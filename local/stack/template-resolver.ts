/**
 * Resolves CloudFormation intrinsics the local way: every resource gets a local physical id and
 * ARN, pseudo parameters have fixed local values, and `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split` and `Fn::Base64` resolve to plain JSON. Conditions (`Fn::If` …) are not
 * supported: the splitserve stack has none, and an unknown `Fn::` fails loudly.
 */

/** Pseudo parameters of the local account and region. */
export const LOCAL_PSEUDO_PARAMETERS = {
  'AWS::Region': 'local',
  'AWS::AccountId': '000000000000',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'Splitserve',
  'AWS::StackId': 'arn:aws:cloudformation:local:000000000000:stack/Splitserve/local',
  'AWS::NoValue': undefined,
} as const;

/** One resource of a template. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

/** The parts of a CloudFormation template the local runtime reads. */
export interface CfnTemplate {
  readonly Resources: Record<string, TemplateResource>;
  readonly Parameters?: Record<string, { readonly Default?: unknown }>;
  readonly Outputs?: Record<string, { readonly Value: unknown }>;
}

/** Thrown for an intrinsic the local runtime cannot resolve (names the function and the path). */
export class TemplateResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateResolutionError';
  }
}

/**
 * The local physical id of a resource (what `Ref` returns): the explicit name property when the
 * template sets one (`TableName`, `FunctionName`, `StateMachineName`), else the logical id. For a
 * state machine `Ref` is its ARN, as in CloudFormation.
 */
export function localPhysicalId(logicalId: string, resource: TemplateResource, resolve: (value: unknown) => unknown): string {
  const props = resource.Properties ?? {};
  const named = (key: string) => (props[key] !== undefined ? String(resolve(props[key])) : logicalId);
  switch (resource.Type) {
    case 'AWS::DynamoDB::Table':
      return named('TableName');
    case 'AWS::Lambda::Function':
      return named('FunctionName');
    case 'AWS::StepFunctions::StateMachine':
      return localArn(logicalId, resource, resolve);
    default:
      return logicalId;
  }
}

/**
 * The local ARN of a resource (`Fn::GetAtt [id, Arn]`):
 * `arn:aws:lambda:local:000000000000:function:<name>`, `arn:aws:dynamodb:local:000000000000:table/<name>`,
 * `arn:aws:states:local:000000000000:stateMachine:<name>`, otherwise a generic
 * `arn:aws:<service>:local:000000000000:<logicalId>`.
 */
export function localArn(logicalId: string, resource: TemplateResource, resolve: (value: unknown) => unknown): string {
  const { 'AWS::Region': region, 'AWS::AccountId': account } = LOCAL_PSEUDO_PARAMETERS;
  const props = resource.Properties ?? {};
  const name = (key: string) => (props[key] !== undefined ? String(resolve(props[key])) : logicalId);
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${region}:${account}:function:${name('FunctionName')}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${region}:${account}:table/${name('TableName')}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${region}:${account}:stateMachine:${name('StateMachineName')}`;
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${account}:role/${name('RoleName')}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${region}:${account}:log-group:${name('LogGroupName')}:*`;
    default: {
      const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return `arn:aws:${service}:${region}:${account}:${logicalId}`;
    }
  }
}

function getAtt(logicalId: string, attribute: string, resource: TemplateResource, resolve: (value: unknown) => unknown): unknown {
  const arn = localArn(logicalId, resource, resolve);
  switch (attribute) {
    case 'Arn':
      return arn;
    case 'StreamArn':
      return `${arn}/stream/local`;
    case 'Name':
      return localPhysicalId(logicalId, resource, resolve).split(':').pop();
    case 'RootResourceId':
      return `${logicalId}Root`;
    default:
      return `${logicalId}.${attribute}`;
  }
}

/** Options of {@link createTemplateResolver}. */
export interface TemplateResolverOptions {
  /** Values of template parameters (default: each parameter's `Default`). */
  readonly parameters?: Readonly<Record<string, unknown>>;
}

/** Resolves values of one template. */
export interface TemplateResolver {
  /** A deep copy of `value` with every intrinsic replaced by its local value. */
  resolve(value: unknown): unknown;
  /** The local physical id (`Ref`) of a logical id. */
  ref(logicalId: string): unknown;
  /** The local ARN of a resource. */
  arnOf(logicalId: string): string;
}

/**
 * A resolver over a template's resources, parameters and the local pseudo parameters.
 *
 * @example
 * const r = createTemplateResolver(template);
 * r.resolve({ 'Fn::GetAtt': ['Fn1', 'Arn'] }); // 'arn:aws:lambda:local:000000000000:function:Fn1'
 * @throws TemplateResolutionError for an unknown logical id or an unsupported intrinsic
 */
export function createTemplateResolver(template: CfnTemplate, options: TemplateResolverOptions = {}): TemplateResolver {
  const resources = template.Resources;
  const parameters: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) parameters[name] = p.Default;
  Object.assign(parameters, options.parameters);

  const resourceOf = (logicalId: string, where: string): TemplateResource => {
    const r = resources[logicalId];
    if (!r) throw new TemplateResolutionError(`${where}: no resource "${logicalId}" in the template`);
    return r;
  };

  const ref = (name: string): unknown => {
    if (name in LOCAL_PSEUDO_PARAMETERS) return LOCAL_PSEUDO_PARAMETERS[name as keyof typeof LOCAL_PSEUDO_PARAMETERS];
    if (name in parameters) return parameters[name];
    return localPhysicalId(name, resourceOf(name, 'Ref'), resolve);
  };

  const sub = (text: string, vars: Record<string, unknown>): string =>
    text.replace(/\$\{(!?)([^}]+)\}/g, (whole, bang: string, name: string) => {
      if (bang === '!') return `\${${name}}`;
      if (name in vars) return String(vars[name]);
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) return String(getAtt(name.slice(0, dot), name.slice(dot + 1), resourceOf(name.slice(0, dot), 'Fn::Sub'), resolve));
      const value = ref(name);
      if (value === undefined) throw new TemplateResolutionError(`Fn::Sub: cannot resolve ${whole}`);
      return String(value);
    });

  function resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== undefined);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0]!;
      switch (key) {
        case 'Ref':
          return ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attribute] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.+)/);
          return getAtt(String(id), String(attribute), resourceOf(String(id), 'Fn::GetAtt'), resolve);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown];
          const list = resolve(parts);
          if (!Array.isArray(list)) throw new TemplateResolutionError('Fn::Join: second argument is not a list');
          return list.map(String).join(String(sep));
        }
        case 'Fn::Sub': {
          if (typeof arg === 'string') return sub(arg, {});
          const [text, vars] = arg as [string, Record<string, unknown>];
          return sub(text, resolve(vars ?? {}) as Record<string, unknown>);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          const items = resolve(list);
          const i = Number(resolve(index));
          if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
            throw new TemplateResolutionError(`Fn::Select: index ${String(index)} out of range`);
          }
          return items[i];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(resolve(text)).split(String(sep));
        }
        case 'Fn::Base64':
          return Buffer.from(String(resolve(arg)), 'utf8').toString('base64');
        default:
          if (key.startsWith('Fn::')) throw new TemplateResolutionError(`${key} is not supported by the local runtime`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const resolved = resolve(v);
      if (resolved !== undefined) out[k] = resolved;
    }
    return out;
  }

  return {
    resolve,
    ref,
    arnOf: (logicalId) => localArn(logicalId, resourceOf(logicalId, 'arnOf'), resolve),
  };
}

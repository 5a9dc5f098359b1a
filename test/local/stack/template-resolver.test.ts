import { describe, expect, it } from 'vitest';
import { apiRoutesFromTemplate } from '../../../local/stack/api-routes.ts';
import { tableDefinitionsFromTemplate } from '../../../local/stack/local-tables.ts';
import type { CfnTemplate } from '../../../local/stack/template-resolver.ts';
import { createTemplateResolver, TemplateResolutionError } from '../../../local/stack/template-resolver.ts';

const template: CfnTemplate = {
  Parameters: { Stage: { Default: 'prod' } },
  Resources: {
    Fn1: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler' } },
    Named: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: { 'Fn::Join': ['-', ['my', { Ref: 'Stage' }]] } } },
    Table1: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'g', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      },
    },
    Table2: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'explicit-name',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      },
    },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: {} },
    V1: { Type: 'AWS::ApiGateway::Resource', Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'v1' } },
    Chat: { Type: 'AWS::ApiGateway::Resource', Properties: { ParentId: { Ref: 'V1' }, PathPart: 'chat' } },
    ChatPost: {
      Type: 'AWS::ApiGateway::Method',
      Properties: {
        HttpMethod: 'POST',
        ResourceId: { Ref: 'Chat' },
        Integration: {
          ResponseTransferMode: 'STREAM',
          Uri: {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:', { Ref: 'AWS::Region' }, ':lambda:path/2021-11-15/functions/', { 'Fn::GetAtt': ['Fn1', 'Arn'] }, '/response-streaming-invocations']],
          },
        },
      },
    },
    RootGet: {
      Type: 'AWS::ApiGateway::Method',
      Properties: {
        HttpMethod: 'get',
        ResourceId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] },
        Integration: { Uri: { 'Fn::Sub': 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn1.Arn}/invocations' } },
      },
    },
  },
};

describe('template resolver', () => {
  const r = createTemplateResolver(template);

  it('resolves pseudo parameters to the local account and region', () => {
    expect(r.resolve({ Ref: 'AWS::Region' })).toBe('local');
    expect(r.resolve({ Ref: 'AWS::AccountId' })).toBe('000000000000');
    expect(r.resolve({ Ref: 'AWS::Partition' })).toBe('aws');
    expect(r.resolve({ Ref: 'AWS::URLSuffix' })).toBe('amazonaws.com');
  });

  it('Ref: logical id, explicit name, parameter default, state machine ARN', () => {
    expect(r.resolve({ Ref: 'Fn1' })).toBe('Fn1');
    expect(r.resolve({ Ref: 'Named' })).toBe('my-prod');
    expect(r.resolve({ Ref: 'Table2' })).toBe('explicit-name');
    expect(r.resolve({ Ref: 'Stage' })).toBe('prod');
    expect(r.resolve({ Ref: 'Machine' })).toBe('arn:aws:states:local:000000000000:stateMachine:Machine');
  });

  it('Fn::GetAtt Arn and StreamArn (array and dotted forms)', () => {
    expect(r.resolve({ 'Fn::GetAtt': ['Fn1', 'Arn'] })).toBe('arn:aws:lambda:local:000000000000:function:Fn1');
    expect(r.resolve({ 'Fn::GetAtt': 'Named.Arn' })).toBe('arn:aws:lambda:local:000000000000:function:my-prod');
    expect(r.resolve({ 'Fn::GetAtt': ['Table2', 'Arn'] })).toBe('arn:aws:dynamodb:local:000000000000:table/explicit-name');
    expect(r.resolve({ 'Fn::GetAtt': ['Table1', 'StreamArn'] })).toBe('arn:aws:dynamodb:local:000000000000:table/Table1/stream/local');
  });

  it('Fn::Join, Fn::Sub (with variables, attributes and ${!literal}), Fn::Select, Fn::Split', () => {
    expect(r.resolve({ 'Fn::Join': [':', ['a', { Ref: 'AWS::Region' }, 'b']] })).toBe('a:local:b');
    expect(r.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Fn1}' })).toBe('arn:aws:x:local:000000000000:Fn1');
    expect(r.resolve({ 'Fn::Sub': ['${Name}/${Fn1.Arn}/${!Literal}', { Name: { Ref: 'Stage' } }] })).toBe(
      'prod/arn:aws:lambda:local:000000000000:function:Fn1/${Literal}',
    );
    expect(r.resolve({ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] })).toBe('b');
    expect(r.resolve({ 'Fn::Select': [0, ['x', { Ref: 'Fn1' }]] })).toBe('x');
  });

  it('resolves nested structures and drops AWS::NoValue', () => {
    expect(r.resolve({ a: [{ Ref: 'Fn1' }, { Ref: 'AWS::NoValue' }], b: { Ref: 'AWS::NoValue' }, c: 1 })).toEqual({ a: ['Fn1'], c: 1 });
  });

  it('fails loudly on unknown resources and unsupported functions', () => {
    expect(() => r.resolve({ Ref: 'Missing' })).toThrow(TemplateResolutionError);
    expect(() => r.resolve({ 'Fn::GetAtt': ['Missing', 'Arn'] })).toThrow(/Missing/);
    expect(() => r.resolve({ 'Fn::If': ['C', 1, 2] })).toThrow(/Fn::If is not supported/);
    expect(() => r.resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/out of range/);
  });
});

describe('tables and routes from a template', () => {
  const r = createTemplateResolver(template);

  it('builds CreateTable inputs from the table properties', () => {
    const defs = tableDefinitionsFromTemplate(template, r);
    expect(defs.map((d) => d.input.TableName)).toEqual(['Table1', 'explicit-name']);
    expect(defs[0]!.input).toEqual({
      TableName: 'Table1',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    });
    expect(defs[1]!.input.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 1, WriteCapacityUnits: 1 });
  });

  it('lists methods with their paths, target function and streaming mode', () => {
    expect(apiRoutesFromTemplate(template, r)).toEqual([
      { method: 'GET', path: '/', functionArn: 'arn:aws:lambda:local:000000000000:function:Fn1', streaming: false },
      { method: 'POST', path: '/v1/chat', functionArn: 'arn:aws:lambda:local:000000000000:function:Fn1', streaming: true },
    ]);
  });
});

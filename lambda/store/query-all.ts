/**
 * Every item a DynamoDB Query matches, across pages (the SDK's own paginator).
 */
import { paginateQuery, type AttributeValue, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Runs `input` page after page until DynamoDB has no more (`LastEvaluatedKey`), and returns all
 * the items in key order.
 *
 * @example
 * const items = await queryAll(client, {
 *   TableName: 'splitserve-usage',
 *   KeyConditionExpression: 'pk = :pk',
 *   ExpressionAttributeValues: { ':pk': { S: 'open#3' } },
 * });
 */
export async function queryAll(client: DynamoDBClient, input: QueryCommandInput): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  for await (const page of paginateQuery({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}

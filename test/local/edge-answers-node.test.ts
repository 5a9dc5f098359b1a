/**
 * The edge of the node runtime (`npm start -- --runtime node`: local/start-local.ts over the
 * node:http adapter): routes, body limit and nesting bound, over real HTTP.
 */
import { afterAll, beforeAll } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { describeEdgeAnswers } from './edge-answers.ts';
import { CONFIG, KEY, MODEL } from './stack/fixture.ts';

let local: LocalGateway;

beforeAll(async () => {
  local = await startLocal({ config: parseConfig(CONFIG), port: 0, logger: silentLogger });
});

afterAll(async () => {
  await local?.close();
});

describeEdgeAnswers('node runtime', () => ({ url: local.url, key: KEY, model: MODEL }), { wrongMethodStatus: 405, trailingSlashStatus: 200 });

/**
 * The end-to-end suite against a deployment: `npm run test:e2e` with
 * SPLITSERVE_ENDPOINT (the stack's ApiUrl output: LocalStack or AWS), SPLITSERVE_API_KEY (created
 * with `splitserve admin key create`) and optionally SPLITSERVE_MODEL (default llama-3.1-8b).
 */
import { describeE2E } from './e2e-suite.ts';

describeE2E(process.env.SPLITSERVE_ENDPOINT ?? 'SPLITSERVE_ENDPOINT unset', async () => {
  const url = process.env.SPLITSERVE_ENDPOINT;
  const apiKey = process.env.SPLITSERVE_API_KEY;
  if (!url || !apiKey) {
    throw new Error('set SPLITSERVE_ENDPOINT (the stack output ApiUrl) and SPLITSERVE_API_KEY (splitserve admin key create …)');
  }
  return { url, apiKey, model: process.env.SPLITSERVE_MODEL ?? 'llama-3.1-8b' };
});

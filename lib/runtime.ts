/**
 * The Lambda runtime of every splitserve function, in one place.
 */
import { Runtime } from 'aws-cdk-lib/aws-lambda';

/**
 * Node.js 22: the version the repository pins for local runs and tests (devDependency `node@22`),
 * so the code tested on a laptop is the code that runs in Lambda. Supported by Lambda until
 * 2027-04-30; move to `NODEJS_24_X` together with the pinned toolchain.
 */
export const NODE_RUNTIME = Runtime.NODEJS_22_X;

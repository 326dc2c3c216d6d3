// A gateway replica in its own process: `node --import tsx test/redis/gatewayProcess.ts CONFIG`.
import { main } from '../../src/cli.js';

await main(['serve', '--config', process.argv[2]!]);

import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { storeContract } from './contract.js';

storeContract({
  name: 'memory',
  async open({ maxPendingFlows }) {
    const clock = new ManualClock();
    const store = new MemoryStore({ maxSessions: 1000, maxFlows: maxPendingFlows, clock });
    return {
      a: store,
      b: store,
      elapse: async (ms) => clock.advance(ms),
      close: () => store.close(),
    };
  },
});

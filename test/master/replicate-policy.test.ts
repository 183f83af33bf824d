import { expect, test } from 'vitest';
import { lifecycle, master, workers } from './helpers.js';

test('a master with replicate off gives primaries only, even when replication is asked for', async () => {
  const m = await master({ replicate: false });
  await workers(m, '127.0.0.1:1001', '127.0.0.2:1002');
  const lm = await lifecycle(m);
  const res = await lm.slots(1, 4, true);
  expect(res.slots).toHaveLength(4);
  expect(res.slots.every((s) => s.replica === undefined)).toBe(true);
});

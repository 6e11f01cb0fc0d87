import { describe, expect, it } from 'vitest';
import { TreeThread } from '../../src/builtins/learners/tree-thread.js';

const X = [[1], [2], [3], [4], [5], [6]];
const Y = [0, 0, 0, 1, 1, 1];
const OPTIONS = { minNumSamples: 1, maxDepth: 3 };

describe('TreeThread', () => {
  it('hands a sound thread to the next run warm, and never a killed one', async () => {
    const first = new TreeThread('classifier', new AbortController().signal);
    expect(await first.train(X, Y, OPTIONS)).toMatchObject({ root: { splitColumn: 0, splitValue: 3.5 } });
    await first.close();
    const second = new TreeThread('regression', new AbortController().signal);
    expect(second.threadId).toBe(first.threadId);
    expect(await second.train(X, Y, OPTIONS)).toMatchObject({ root: { splitColumn: 0 } });

    // Two at once: the second run gets a new thread.
    const third = new TreeThread('classifier', new AbortController().signal);
    expect(third.threadId).not.toBe(second.threadId);
    await Promise.all([second.close(), third.close()]);

    const kill = new AbortController();
    const killed = new TreeThread('classifier', kill.signal);
    expect([second.threadId, third.threadId]).toContain(killed.threadId);
    const growing = killed.train(X, Y, OPTIONS);
    kill.abort();
    await expect(growing).rejects.toThrow('killed');
    await killed.close();
    const after = new TreeThread('classifier', new AbortController().signal);
    expect(after.threadId).not.toBe(killed.threadId);
    await expect(after.train(X, Y, OPTIONS)).resolves.toMatchObject({ root: { splitValue: 3.5 } });
    await after.close();
  });
});

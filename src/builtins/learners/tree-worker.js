// A worker thread that grows ml-cart trees for the training types, so that
// a tree that takes seconds or minutes does not stop the engine's event
// loop (its leases, heartbeats, claims, and in `procgate serve` the proxy).
// Each message is one tree: { id, kind, x, y, options }; the answer is
// { id, tree } with the tree's JSON, or { id, error }.
import { parentPort } from 'node:worker_threads';
import { DecisionTreeClassifier, DecisionTreeRegression } from 'ml-cart';

parentPort.on('message', ({ id, kind, x, y, options }) => {
  try {
    const tree = kind === 'classifier' ? new DecisionTreeClassifier(options) : new DecisionTreeRegression(options);
    tree.train(x, y);
    // As JSON text: the tree holds ml-matrix objects, which only their toJSON turns into arrays.
    parentPort.postMessage({ id, tree: JSON.stringify(tree) });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});

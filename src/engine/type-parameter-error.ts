/**
 * A run's parameters that do not fit its type: the run fails with this
 * message and SQLSTATE 22023. On its own so that sql-state.ts can know it
 * without importing the procedure type contract (and through it the planner).
 */
export class TypeParameterError extends Error {}

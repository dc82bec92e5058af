// The spec checks live with the object model (src/types/validate.ts): the control API runs them on
// every write, the orchestrators again on what they read from the store (an old log may hold a spec
// written before a check existed).
export * from '../../../types/validate';

export { Allocator, type AllocatorDeps } from './allocator';

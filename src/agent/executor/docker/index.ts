export { DockerExecutor, type DockerExecutorOptions } from './executor';
export { DockerController, exitResult, statusOf } from './controller';
export * from './spec';
export type { TaskNetworking, ContainerEndpoint, PreparedNetworks } from './networking';

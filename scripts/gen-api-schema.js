#!/usr/bin/env node
// Generates src/api/validate/engine-schema.ts: the JSON schemas of the request bodies the daemon
// reads (ServiceSpec, NodeSpec, SwarmSpec, SecretSpec, ConfigSpec, the /swarm/init and /swarm/join bodies), taken from the
// Engine API swagger. The daemon cannot read ../shared at run time, so the output is committed;
// re-run after a swagger update:
//
//   node scripts/gen-api-schema.js [path/to/docker-engine-api.swagger.yaml]
//
// The schemas describe what Go's encoding/json accepts, not what the swagger documents:
//  - every value may be null (Go leaves the field unset), unknown keys are ignored, nothing is required;
//  - enums and defaults are dropped (dockerd checks values later, with its own texts: validate.ts);
//  - every node carries `x-go-type` (the Go type dockerd decodes into: integer ranges and the
//    "cannot unmarshal … of type …" text) and every struct `x-go-struct` (its Go type name).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const root = path.join(__dirname, '..');
const src = process.argv[2] ?? path.join(root, '..', '..', 'shared', 'reference', 'docker-engine-api.swagger.yaml');
const fallback = '/work/shared/reference/docker-engine-api.swagger.yaml';
const swagger = YAML.parse(fs.readFileSync(fs.existsSync(src) ? src : fallback, 'utf8'));
const out = path.join(root, 'src', 'api', 'validate', 'engine-schema.ts');

// The bodies, by the name the validator uses: a definition, or the body parameter of a path.
const BODIES = {
  ServiceSpec: { def: 'ServiceSpec' },
  NodeSpec: { def: 'NodeSpec' },
  SwarmSpec: { def: 'SwarmSpec' },
  SwarmInitRequest: { path: '/swarm/init', go: 'InitRequest' },
  SwarmJoinRequest: { path: '/swarm/join', go: 'JoinRequest' },
  SecretSpec: { def: 'SecretSpec' },
  ConfigSpec: { def: 'ConfigSpec' },
};

// Go struct names where the swagger inlines an object or names its definition differently
// (moby api/types/swarm, api/types/mount, api/types/container).
const STRUCT_BY_PROPERTY = {
  Mode: 'ServiceMode',
  Replicated: 'ReplicatedService',
  Global: 'GlobalService',
  ReplicatedJob: 'ReplicatedJob',
  GlobalJob: 'GlobalJob',
  UpdateConfig: 'UpdateConfig',
  RollbackConfig: 'UpdateConfig',
  ContainerSpec: 'ContainerSpec',
  PluginSpec: 'RuntimeSpec',
  NetworkAttachmentSpec: 'NetworkAttachmentSpec',
  Placement: 'Placement',
  Preferences: 'PlacementPreference',
  Spread: 'SpreadOver',
  Platforms: 'Platform',
  RestartPolicy: 'RestartPolicy',
  Resources: 'ResourceRequirements',
  Limits: 'Limit',
  Reservations: 'Resources',
  LogDriver: 'Driver',
  Privileges: 'Privileges',
  CredentialSpec: 'CredentialSpec',
  SELinuxContext: 'SELinuxContext',
  Seccomp: 'SeccompOpts',
  AppArmor: 'AppArmorOpts',
  DNSConfig: 'DNSConfig',
  Secrets: 'SecretReference',
  Configs: 'ConfigReference',
  File: 'SecretReferenceFileTarget',
  Runtime: 'ConfigReferenceRuntimeTarget',
  Orchestration: 'OrchestrationConfig',
  Raft: 'RaftConfig',
  Dispatcher: 'DispatcherConfig',
  CAConfig: 'CAConfig',
  ExternalCAs: 'ExternalCA',
  EncryptionConfig: 'EncryptionConfig',
  TaskDefaults: 'TaskDefaults',
  BindOptions: 'BindOptions',
  VolumeOptions: 'VolumeOptions',
  TmpfsOptions: 'TmpfsOptions',
  DriverConfig: 'Driver',
  Ulimits: 'Ulimit',
  GenericResources: 'GenericResource',
  NamedResourceSpec: 'NamedGenericResource',
  DiscreteResourceSpec: 'DiscreteGenericResource',
  Ports: 'PortConfig',
  EndpointSpec: 'EndpointSpec',
};
const STRUCT_BY_DEFINITION = { ResourceObject: 'Resources', EndpointPortConfig: 'PortConfig', HealthConfig: 'HealthConfig', NetworkAttachmentConfig: 'NetworkAttachmentConfig' };
const PACKAGE_OF = { Mount: 'mount', BindOptions: 'mount', VolumeOptions: 'mount', TmpfsOptions: 'mount', HealthConfig: 'container', Ulimit: 'container' };

// Fields whose Go type differs from the swagger's integer format (dockerd decodes into these).
const GO_INT_BY_PROPERTY = {
  Replicas: 'uint64',
  MaxConcurrent: 'uint64',
  TotalCompletions: 'uint64',
  Parallelism: 'uint64',
  MaxReplicas: 'uint64',
  ForceUpdate: 'uint64',
  SnapshotInterval: 'uint64',
  KeepOldSnapshots: 'uint64',
  LogEntriesForSlowFollowers: 'uint64',
  MaxAttempts: 'uint64',
  ElectionTick: 'int',
  HeartbeatTick: 'int',
  TargetPort: 'uint32',
  PublishedPort: 'uint32',
  DataPathPort: 'uint32',
  SubnetSize: 'uint32',
  Delay: 'time.Duration',
  Monitor: 'time.Duration',
  Window: 'time.Duration',
  StopGracePeriod: 'time.Duration',
  Interval: 'time.Duration',
  Timeout: 'time.Duration',
  StartPeriod: 'time.Duration',
  StartInterval: 'time.Duration',
  HeartbeatPeriod: 'time.Duration',
  NodeCertExpiry: 'time.Duration',
};

const definitions = {};
const goNameOf = (definition) => STRUCT_BY_DEFINITION[definition] ?? definition;
const qualified = (name) => `${PACKAGE_OF[name] ?? 'swarm'}.${name}`;

function resolveRef(ref) {
  const name = ref.replace('#/definitions/', '');
  if (!definitions[name]) {
    definitions[name] = {}; // placeholder against recursion
    definitions[name] = convert(swagger.definitions[name], STRUCT_BY_DEFINITION[name] ?? name);
  }
  return name;
}

/** `prop`: the property name this schema sits under (names inline structs and fixes integer types). */
function convert(s, structName, prop) {
  if (!s) return {};
  if (s.$ref) {
    const name = resolveRef(s.$ref);
    // Definitions are nullable themselves; a $ref stands alone (draft-07).
    return { $ref: `#/definitions/${name}` };
  }
  if (s.allOf && s.allOf.length === 1) {
    // A single member names the type (Mount.Type is a MountType string): use it, inlined.
    const m = s.allOf[0];
    return convert(m.$ref ? swagger.definitions[m.$ref.replace('#/definitions/', '')] : m, structName, prop);
  }
  if (s.allOf) {
    // swagger composes a few definitions; Go embeds them: merge the members' properties.
    const merged = { type: 'object', properties: {} };
    for (const m of s.allOf) {
      const part = m.$ref ? swagger.definitions[m.$ref.replace('#/definitions/', '')] : m;
      Object.assign(merged.properties, part.properties ?? {});
    }
    return convert(merged, structName, prop);
  }
  const type = s.type ?? (s.properties ? 'object' : undefined);
  if (type === 'integer') {
    const goType = GO_INT_BY_PROPERTY[prop] ?? ({ int64: 'int64', uint64: 'uint64', uint32: 'uint32', uint16: 'uint16', int32: 'int32' }[s.format] ?? 'int64');
    return { type: ['integer', 'null'], 'x-go-type': goType };
  }
  if (type === 'number') return { type: ['number', 'null'], 'x-go-type': 'float64' };
  if (type === 'string') return { type: ['string', 'null'], 'x-go-type': 'string' };
  if (type === 'boolean') return { type: ['boolean', 'null'], 'x-go-type': 'bool' };
  if (type === 'array') {
    const items = convert(s.items, STRUCT_BY_PROPERTY[prop] ?? structName, prop);
    const itemType = items.$ref ? qualified(goNameOf(items.$ref.replace('#/definitions/', ''))) : (items['x-go-type'] ?? 'interface {}');
    return { type: ['array', 'null'], items, 'x-go-type': `[]${itemType}` };
  }
  if (type === 'object') {
    const props = s.properties ?? {};
    const names = Object.keys(props);
    if (names.length === 0 && s.additionalProperties && typeof s.additionalProperties === 'object') {
      const v = convert(s.additionalProperties, structName, undefined);
      return { type: ['object', 'null'], additionalProperties: v, 'x-go-type': `map[string]${v['x-go-type'] ?? 'interface {}'}` };
    }
    const goStruct = prop ? (STRUCT_BY_PROPERTY[prop] ?? prop) : structName;
    const properties = {};
    for (const n of names) properties[n] = convert(props[n], goStruct, n);
    const o = { type: ['object', 'null'], properties, 'x-go-struct': goStruct, 'x-go-type': names.length ? qualified(goStruct) : 'struct {}' };
    return o;
  }
  return {}; // untyped: Go decodes into interface{}
}

const bodies = {};
for (const [name, b] of Object.entries(BODIES)) {
  if (b.def) {
    resolveRef(`#/definitions/${b.def}`);
    bodies[name] = { $ref: `#/definitions/${b.def}` };
  } else {
    const op = swagger.paths[b.path].post;
    const param = op.parameters.find((p) => p.in === 'body');
    definitions[name] = convert(param.schema, b.go);
    bodies[name] = { $ref: `#/definitions/${name}` };
  }
}
// (A body that is not an object at all is refused before the schema: readJsonObject.)

const schema = { $id: 'shoal:engine-api', definitions, bodies };
const text =
  `// GENERATED by scripts/gen-api-schema.js from docker-engine-api.swagger.yaml (API ${swagger.info?.version ?? '?'}). Do not edit.\n` +
  `// Request-body shapes as Go's encoding/json accepts them; see the generator's header.\n` +
  `export const ENGINE_API_VERSION = ${JSON.stringify(String(swagger.info?.version ?? ''))};\n` +
  `export const ENGINE_SCHEMA = ${JSON.stringify(schema, null, 1)} as const;\n` +
  `export type BodyName = ${Object.keys(BODIES)
    .map((n) => JSON.stringify(n))
    .join(' | ')};\n`;
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, text);
console.log(`wrote ${path.relative(root, out)} (${Object.keys(definitions).length} definitions, ${text.length} bytes)`);

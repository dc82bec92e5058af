import type { default as Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { invalidArgument } from '../../lib/errors';
import type * as EngineSchema from './engine-schema';
import type { BodyName } from './engine-schema';

// Request bodies checked against the Engine API shapes (engine-schema.ts, generated from the
// swagger) before anything reads them. The errors are the ones dockerd's JSON decoder gives for the
// same body, wrapped as its ReadJSON wraps them:
//   invalid JSON: json: cannot unmarshal string into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64
// so a client sees which field is wrong. Values the decoder accepts but Docker refuses later
// (names, mount types, constraints, replica caps…) are checked by the control API's validator.

type Schema = Record<string, unknown>;

/** Integer ranges of the Go types dockerd decodes into: [min, maxExclusive). */
const INT_RANGE: Record<string, [number, number]> = {
  int64: [-(2 ** 63), 2 ** 63],
  int: [-(2 ** 63), 2 ** 63],
  'time.Duration': [-(2 ** 63), 2 ** 63],
  int32: [-(2 ** 31), 2 ** 31],
  uint64: [0, 2 ** 64],
  uint32: [0, 2 ** 32],
  uint16: [0, 2 ** 16],
};

/**
 * The validator and the schema it compiles from, made at the first body checked: ajv (63 modules) and the
 * generated schema (a large static table) are memory a daemon that only runs its swarm never needs, e.g.
 * a manager restarted from its state (docs/design/performance.md, "Memory (issue 16)").
 */
let engine: { ajv: Ajv; schema: typeof EngineSchema.ENGINE_SCHEMA; definitions: Record<string, Schema> } | undefined;
function engineSchema(): NonNullable<typeof engine> {
  if (engine) return engine;
  const AjvOf = (require('ajv') as { default: typeof Ajv }).default;
  const { ENGINE_SCHEMA: schema } = require('./engine-schema') as typeof EngineSchema;
  // ajv's optimizer of the generated code costs more than it saves here: the ServiceSpec validator
  // compiles in 46–49 ms instead of 107–122 (a manager's first service create, or a new leader's first
  // write at failover, waits for it), and validates a body in 0.54 µs instead of 0.45–0.57 (performance.md,
  // "The first body of each kind")
  const ajv = new AjvOf({ allErrors: false, strict: false, allowUnionTypes: true, verbose: true, code: { optimize: false } });
  ajv.addKeyword({
    keyword: 'x-go-type',
    type: 'number',
    schemaType: 'string',
    errors: true,
    validate: (goType: string, n: number) => {
      const r = INT_RANGE[goType];
      return !r || (n >= r[0] && n < r[1]);
    },
  });
  ajv.addKeyword({ keyword: 'x-go-struct', schemaType: 'string' });
  ajv.addSchema(schema as unknown as Schema);
  engine = { ajv, schema, definitions: schema.definitions as unknown as Record<string, Schema> };
  return engine;
}

const compiled = new Map<BodyName, ValidateFunction>();
function validatorOf(name: BodyName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    v = engineSchema().ajv.getSchema(`shoal:engine-api#/bodies/${name}`);
    if (!v) throw new Error(`no schema for ${name}`);
    compiled.set(name, v);
  }
  return v;
}

function deref(s: Schema | undefined): Schema | undefined {
  let cur = s;
  const { definitions } = engineSchema();
  for (let i = 0; cur && typeof cur.$ref === 'string' && i < 8; i++) cur = definitions[(cur.$ref as string).replace('#/definitions/', '')];
  return cur;
}

/** Go's name for a JSON value's kind in decode errors. */
function jsonKind(v: unknown, withNumber: boolean): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return withNumber ? `number ${String(v)}` : 'number';
    default:
      return 'object';
  }
}

/** The Go text for one ajv error: walks the schema along the error's path to name struct and field. */
function goText(name: BodyName, err: ErrorObject): string {
  const segs = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let schema = deref((engineSchema().schema.bodies as unknown as Record<string, Schema>)[name]);
  const topType = (schema?.['x-go-type'] as string | undefined) ?? `swarm.${name}`;
  let struct = '';
  const fields: string[] = [];
  for (const seg of segs) {
    if (!schema) break;
    const props = schema.properties as Record<string, Schema> | undefined;
    if (props && Object.prototype.hasOwnProperty.call(props, seg)) {
      struct = (schema['x-go-struct'] as string | undefined) ?? struct;
      fields.push(seg);
      schema = deref(props[seg]);
    } else if (schema.items) schema = deref(schema.items as Schema);
    else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') schema = deref(schema.additionalProperties as Schema);
    else schema = undefined;
  }
  const goType = (schema?.['x-go-type'] as string | undefined) ?? 'interface {}';
  // A number that is the right JSON kind but not a value of the Go type prints with its literal.
  const numberValue = typeof err.data === 'number' && (err.keyword === 'x-go-type' || (err.keyword === 'type' && /integer/.test(String(err.params.type))));
  const what = jsonKind(err.data, numberValue);
  if (fields.length === 0) return `json: cannot unmarshal ${what} into Go value of type ${topType}`;
  return `json: cannot unmarshal ${what} into Go struct field ${struct}.${fields.join('.')} of type ${goType}`;
}

/**
 * Throws 400 (Docker's decoder text, naming the field) unless `body` has the shape dockerd decodes
 * `name` from. Call after canonicalizeFields: field names are matched as Go matches them.
 */
export function checkBody(name: BodyName, body: unknown): void {
  const v = validatorOf(name);
  if (v(body)) return;
  const err = v.errors?.[0];
  if (!err) throw invalidArgument('invalid JSON');
  throw invalidArgument(`invalid JSON: ${goText(name, err)}`);
}

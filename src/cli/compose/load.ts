// The whole path from Compose texts to a stack plan, in the docker CLI's order: each file is parsed,
// its values interpolated (process environment over `.env`), checked against the schema; then the
// files are merged and the result converted. Pure: texts, environment and schema come in.
import { ComposeError, parseCompose, type ComposeFile, type Dict } from './document';
import { convertStack, type ConvertOptions, type StackPlan } from './convert';
import { interpolate, parseEnvFile } from './interpolate';
import { mergeFiles } from './merge';
import type { ComposeValidator } from './schema';

export interface LoadInput {
  namespace: string;
  files: readonly { file: string; text: string }[];
  /** The process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The `.env` next to the first file, if there is one. */
  dotenv?: { file: string; text: string };
  validate: ComposeValidator;
  convert: Omit<ConvertOptions, 'lookupEnv'>;
}

const STACK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function loadStack(input: LoadInput): StackPlan {
  if (!STACK_NAME.test(input.namespace)) throw new ComposeError(`invalid stack name: ${JSON.stringify(input.namespace)}`);
  if (input.files.length === 0) throw new ComposeError('Please specify a Compose file (with --compose-file)');
  const dotenv = input.dotenv ? parseEnvFile(input.dotenv.text, input.dotenv.file) : {};
  const lookup = (n: string): string | undefined => input.env[n] ?? dotenv[n];
  const unset = new Set<string>();
  const dicts: Dict[] = input.files.map(({ file, text }) => {
    const parsed = parseCompose(file, text);
    const data = interpolate(parsed.data, lookup, (n) => unset.add(n));
    const checked: ComposeFile = { ...parsed, data };
    input.validate(checked);
    return data;
  });
  const plan = convertStack(input.namespace, mergeFiles(dicts), { ...input.convert, lookupEnv: lookup });
  for (const n of [...unset].sort()) plan.warnings.unshift(`The "${n}" variable is not set. Defaulting to a blank string.\n`);
  return plan;
}

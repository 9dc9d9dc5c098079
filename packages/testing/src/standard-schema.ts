/**
 * The Standard Schema interface (https://standardschema.dev, version 1), which
 * zod (3.24+), valibot (1.0+), arktype (2.0+) and others implement: one
 * `~standard` property with a `validate` function. The specification asks
 * libraries that accept schemas to declare the interface themselves rather
 * than depend on a package for it; these are those declarations, flattened
 * out of the specification's namespace. TypeScript compares them by shape, so
 * any conforming validator is assignable.
 * @packageDocumentation
 */

/** A validator that follows the Standard Schema specification, version 1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The standard properties. */
  readonly '~standard': StandardSchemaV1Props<Input, Output>;
}

/** The `~standard` property of a {@link StandardSchemaV1}. */
export interface StandardSchemaV1Props<Input = unknown, Output = Input> {
  /** The version of the specification: 1. */
  readonly version: 1;
  /** The library that made the schema, e.g. `"zod"`. */
  readonly vendor: string;
  /** Validates a value: its output, or the issues that make it invalid. May be asynchronous. */
  readonly validate: (
    value: unknown,
  ) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
  /** Type-level only: the input and output types. */
  readonly types?: StandardSchemaV1Types<Input, Output> | undefined;
}

/** The outcome of `validate`. */
export type StandardSchemaV1Result<Output> =
  StandardSchemaV1SuccessResult<Output> | StandardSchemaV1FailureResult;

/** A value that passed: the schema's output (parsed, possibly transformed). */
export interface StandardSchemaV1SuccessResult<Output> {
  readonly value: Output;
  readonly issues?: undefined;
}

/** A value that did not pass, and why. */
export interface StandardSchemaV1FailureResult {
  readonly issues: ReadonlyArray<StandardSchemaV1Issue>;
}

/** One reason a value is invalid. */
export interface StandardSchemaV1Issue {
  readonly message: string;
  /** Where in the value: keys, or segments holding a key. */
  readonly path?: ReadonlyArray<PropertyKey | StandardSchemaV1PathSegment> | undefined;
}

/** One step of an issue's path. */
export interface StandardSchemaV1PathSegment {
  readonly key: PropertyKey;
}

/** The types a schema takes and gives (never present at run time). */
export interface StandardSchemaV1Types<Input = unknown, Output = Input> {
  readonly input: Input;
  readonly output: Output;
}

/** The type a schema gives for a valid value. */
export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
  Schema['~standard']['types']
>['output'];

/**
 * Whether `value` is a Standard Schema. Checked before "is it a function",
 * since some validators (arktype's) are callable too.
 */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as Partial<StandardSchemaV1>)['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    props.version === 1 &&
    typeof props.validate === 'function'
  );
}

/**
 * Edits of an opening handshake's header fields, for fuzzing both sides of
 * RFC 6455 §4: delete a field, repeat it elsewhere, set it to another value,
 * add one, change the case of its name. The server's fuzzer edits requests,
 * the client's fuzzer edits 101 answers; each adds edits of its own.
 */
import fc from 'fast-check';

/** One header field. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** One edit; `at`, `to` and `pick` are reduced modulo what they index. */
export type FieldEdit =
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number; readonly to: number }
  | { readonly op: 'set'; readonly at: number; readonly pick: number }
  | { readonly op: 'add'; readonly pick: number; readonly to: number }
  | { readonly op: 'case'; readonly at: number };

/** The edits, as arguments of `fc.oneof` (setting a value weighs double). */
export const FIELD_EDIT_ARBS = [
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), to: fc.nat() }),
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), pick: fc.nat() }),
  },
  fc.record({ op: fc.constant('add' as const), pick: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('case' as const), at: fc.nat() }),
] as const;

/**
 * Applies `edit` to `fields` in place: `set` picks from `valuesFor(name)`,
 * `add` inserts one of `extra`. Edits of a field do nothing to an empty list.
 */
export function applyFieldEdit<F extends HeaderField>(
  fields: F[],
  edit: FieldEdit,
  valuesFor: (name: string) => readonly string[],
  extra: readonly (readonly [string, string])[],
): void {
  if (edit.op === 'add') {
    const [name, value] = extra[edit.pick % extra.length]!;
    fields.splice(edit.to % (fields.length + 1), 0, { name, value } as F);
    return;
  }
  if (fields.length === 0) return;
  const at = edit.at % fields.length;
  const field = fields[at]!;
  switch (edit.op) {
    case 'delete':
      fields.splice(at, 1);
      break;
    case 'duplicate':
      fields.splice(edit.to % (fields.length + 1), 0, field);
      break;
    case 'set': {
      const values = valuesFor(field.name);
      fields[at] = { name: field.name, value: values[edit.pick % values.length]! } as F;
      break;
    }
    case 'case':
      fields[at] = { ...field, name: field.name.toUpperCase() };
      break;
  }
}

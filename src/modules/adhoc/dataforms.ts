// Data forms, as ad-hoc commands use them: build a form or result, read a submission.
// References: XEP-0004, XEP-0068 (FORM_TYPE).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single'
  | 'text-multi' | 'text-private' | 'text-single';

export interface Field {
  readonly var: string;
  readonly type?: FieldType;
  readonly label?: string;
  readonly required?: boolean;
  /** Choices of a list field: a value, or a value with its label. */
  readonly options?: readonly (string | { readonly label: string; readonly value: string })[];
  readonly values?: readonly string[];
}

export interface FormSpec {
  readonly title?: string;
  readonly instructions?: string;
  /** The hidden FORM_TYPE field (XEP-0068). */
  readonly formType?: string;
  readonly fields: readonly Field[];
}

/** Most fields and values per field a submission may carry (a form is a few fields). */
const MAX_FIELDS = 64;
const MAX_VALUES = 1000;

/** The `<x xmlns='jabber:x:data'/>` of a form to fill in, or of a result. */
export function formElement(type: 'form' | 'result', spec: FormSpec): Element {
  const form = x('x', { xmlns: NS.DATA_FORMS, type });
  if (spec.title) form.append(x('title', null, spec.title));
  if (spec.instructions) form.append(x('instructions', null, spec.instructions));
  if (spec.formType) form.append(x('field', { type: 'hidden', var: 'FORM_TYPE' }, x('value', null, spec.formType)));
  for (const f of spec.fields) {
    const el = x('field', { var: f.var, type: f.type, label: f.label || undefined });
    form.append(el);
    if (type === 'form' && f.required) el.c('required');
    for (const o of type === 'form' ? f.options ?? [] : []) {
      const [label, value] = typeof o === 'string' ? [o, o] : [o.label, o.value];
      el.append(x('option', { label }, x('value', null, value)));
    }
    for (const v of f.values ?? []) el.append(x('value', null, v));
  }
  return form;
}

/** Values of a submitted form by field name; FORM_TYPE is left out. */
export type Submission = ReadonlyMap<string, readonly string[]>;

/** A submission that is not a well-formed XEP-0004 `submit` form; `message` says why. */
export class FormError extends Error {}

/** Read a `<x type='submit'/>`; throws FormError for anything else or a malformed one. */
export function readSubmission(form: Element, formType?: string): Submission {
  if (form.attrs.type !== 'submit') throw new FormError(`expected a form of type 'submit', got '${form.attrs.type ?? ''}'`);
  const fields = form.getChildren('field');
  if (fields.length > MAX_FIELDS) throw new FormError('the form has too many fields');
  const out = new Map<string, string[]>();
  for (const f of fields) {
    const name = f.attrs.var;
    if (!name) throw new FormError('a field of the form has no var');
    if (out.has(name)) throw new FormError(`field '${name}' appears twice`);
    const values = f.getChildren('value').map((v) => v.text());
    if (values.length > MAX_VALUES) throw new FormError(`field '${name}' has too many values`);
    out.set(name, values);
  }
  const type = out.get('FORM_TYPE');
  if (formType !== undefined && type !== undefined && type[0] !== formType) throw new FormError(`this form is a ${formType} form, not ${type[0] ?? 'an empty FORM_TYPE'}`);
  out.delete('FORM_TYPE');
  return out;
}

/** readSubmission for a request payload: a malformed form is the request's fault (bad-request). */
export function submittedForm(form: Element, formType?: string): Submission {
  try {
    return readSubmission(form, formType);
  } catch (err) {
    if (err instanceof FormError) throw new StanzaError('bad-request', err.message);
    throw err;
  }
}

/** Names of the required fields of `spec` the submission leaves empty. */
export function missingFields(spec: FormSpec, sub: Submission): string[] {
  return spec.fields.filter((f) => f.required && !(sub.get(f.var) ?? []).some((v) => v.trim() !== '')).map((f) => f.var);
}

/** The first value of a field, trimmed; undefined when absent or empty. */
export function single(sub: Submission, name: string): string | undefined {
  const v = sub.get(name)?.[0]?.trim();
  return v ? v : undefined;
}

/** The non-empty values of a field, trimmed. */
export function multi(sub: Submission, name: string): string[] {
  return (sub.get(name) ?? []).map((v) => v.trim()).filter((v) => v !== '');
}

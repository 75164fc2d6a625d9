import { badRequest } from '../domain/errors.js';
import type { RepoType } from '../domain/names.js';
import { textProblem } from '../domain/text.js';
import { COUNTRIES } from './countries.js';

// The access-request form of a gated repo, described by the card's extra_gated_* metadata as
// on the Hub, and the check of a user's answers against it.

export type GateFieldType = 'text' | 'checkbox' | 'date_picker' | 'country' | 'select';
export interface GateField {
  name: string;
  type: GateFieldType;
  /** Only for select. */
  options?: { label: string; value: string }[];
}
export interface GateForm {
  heading: string;
  prompt: string | null;
  description: string | null;
  buttonContent: string;
  fields: GateField[];
}

/** An author-facing problem with the extra_gated_* metadata: which key is wrong and how to fix it. */
export class GateFormError extends Error {
  constructor(
    message: string,
    /** Where in the metadata, e.g. ['extra_gated_fields', 'Country']. */
    readonly path: string[] = [],
  ) {
    super(message);
  }
}

export const MAX_FIELDS = 50;
export const MAX_FIELD_NAME = 200;
export const MAX_OPTIONS = 200;
export const MAX_OPTION_CHARS = 200;
export const MAX_HEADING_CHARS = 500;
export const MAX_TEXT_ANSWER = 1000;

export const DEFAULT_BUTTON = 'Agree and send request to access repo';
const TYPE_NOUN: Record<RepoType, string> = { model: 'model', dataset: 'dataset', space: 'space' };
export const defaultHeading = (type: RepoType = 'model') => `You need to agree to share your contact information to access this ${TYPE_NOUN[type]}`;

const FIELD_TYPES: readonly GateFieldType[] = ['text', 'checkbox', 'date_picker', 'country', 'select'];
/** Hub field types that hubgate does not ask for (the Hub fills ip_location in from the requester's IP). */
const SKIPPED_TYPES = new Set(['ip_location']);
const TYPES_HELP = 'use text, checkbox, date_picker, country, or {type: select, options: [...]}';

/** The form a card's metadata describes; the Hub's defaults where it says nothing. Throws GateFormError. */
export function gateFormFromMetadata(metadata: Record<string, unknown> | null, type: RepoType = 'model'): GateForm {
  const m = metadata ?? {};
  return {
    heading: textKey(m, 'extra_gated_heading', MAX_HEADING_CHARS) ?? defaultHeading(type),
    prompt: textKey(m, 'extra_gated_prompt', undefined, true),
    description: textKey(m, 'extra_gated_description', undefined, true),
    buttonContent: textKey(m, 'extra_gated_button_content', MAX_HEADING_CHARS) ?? DEFAULT_BUTTON,
    fields: fieldsOf(Object.hasOwn(m, 'extra_gated_fields') ? m.extra_gated_fields : undefined),
  };
}

function textKey(m: Record<string, unknown>, key: string, max?: number, multiline = false): string | null {
  const value = Object.hasOwn(m, key) ? m[key] : undefined;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new GateFormError(`${key} must be text, e.g. ${key}: "..." (got ${describe(value)})`, [key]);
  }
  const text = String(value).trim();
  if (max !== undefined && text.length > max) throw new GateFormError(`${key} is longer than ${max} characters: shorten it`, [key]);
  const problem = textProblem(key, text, { max: Infinity, multiline, optional: true });
  if (problem) throw new GateFormError(problem, [key]);
  return text === '' ? null : text;
}

function fieldsOf(raw: unknown): GateField[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GateFormError(`extra_gated_fields must be a mapping of field names to types, e.g. "Company: text" on its own line (got ${describe(raw)})`, ['extra_gated_fields']);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) {
    throw new GateFormError(`extra_gated_fields has ${entries.length} fields; at most ${MAX_FIELDS} are allowed`, ['extra_gated_fields']);
  }
  const fields: GateField[] = [];
  const seen = new Set<string>();
  for (const [rawName, spec] of entries) {
    const name = rawName.trim();
    const path = ['extra_gated_fields', rawName];
    const where = `extra_gated_fields "${clip(rawName)}"`;
    if (name === '') throw new GateFormError('extra_gated_fields has a field with an empty name: give every field a name', path);
    if (name.length > MAX_FIELD_NAME) throw new GateFormError(`${where}: a field name can be at most ${MAX_FIELD_NAME} characters`, path);
    // Field names are shown beside the answers on pages, in e-mails and in the access report.
    const problem = textProblem('a field name', name, { max: MAX_FIELD_NAME });
    if (problem) throw new GateFormError(`${where}: ${problem}`, path);
    if (seen.has(name)) throw new GateFormError(`${where}: two fields have this name; give each field its own name`, path);
    seen.add(name);
    const field = fieldOf(name, spec, where, path);
    if (field) fields.push(field);
  }
  return fields;
}

function fieldOf(name: string, spec: unknown, where: string, path: string[]): GateField | null {
  const isObject = typeof spec === 'object' && spec !== null && !Array.isArray(spec);
  const declared = isObject ? (spec as Record<string, unknown>).type : spec;
  if (typeof declared !== 'string') {
    throw new GateFormError(`${where}: ${isObject ? 'type is missing or not text' : `unknown type ${describe(spec)}`}; ${TYPES_HELP}`, path);
  }
  if (SKIPPED_TYPES.has(declared)) return null;
  if (!(FIELD_TYPES as readonly string[]).includes(declared)) {
    throw new GateFormError(`${where}: unknown type "${clip(declared)}"; ${TYPES_HELP}`, path);
  }
  const type = declared as GateFieldType;
  const options = isObject && Object.hasOwn(spec as object, 'options') ? (spec as Record<string, unknown>).options : undefined;
  if (type !== 'select') {
    if (options !== undefined) throw new GateFormError(`${where}: options are only for fields of type select; write {type: select, options: [...]}`, path);
    return { name, type };
  }
  return { name, type, options: optionsOf(options, where, path) };
}

function optionsOf(raw: unknown, where: string, path: string[]): { label: string; value: string }[] {
  const example = 'e.g. options: ["Research", {label: "Other", value: "other"}]';
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new GateFormError(`${where}: a select field needs a non-empty list of options, ${example}`, [...path, 'options']);
  }
  if (raw.length > MAX_OPTIONS) throw new GateFormError(`${where}: at most ${MAX_OPTIONS} options are allowed`, [...path, 'options']);
  const options: { label: string; value: string }[] = [];
  const values = new Set<string>();
  raw.forEach((item, i) => {
    const at = `${where}, option ${i + 1}`;
    let label: unknown;
    let value: unknown;
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      value = (item as Record<string, unknown>).value;
      label = (item as Record<string, unknown>).label ?? value;
    } else {
      label = value = item;
    }
    const valueText = optionText(value, at, 'value', example, path);
    const labelText = optionText(label, at, 'label', example, path);
    if (values.has(valueText)) throw new GateFormError(`${at}: the value "${clip(valueText)}" is used twice; give every option its own value`, [...path, 'options']);
    values.add(valueText);
    options.push({ label: labelText, value: valueText });
  });
  return options;
}

function optionText(v: unknown, at: string, what: string, example: string, path: string[]): string {
  if (typeof v !== 'string' && typeof v !== 'number') throw new GateFormError(`${at}: the ${what} must be text (got ${describe(v)}), ${example}`, [...path, 'options']);
  const text = String(v).trim();
  if (text === '') throw new GateFormError(`${at}: the ${what} is empty`, [...path, 'options']);
  if (text.length > MAX_OPTION_CHARS) throw new GateFormError(`${at}: the ${what} is longer than ${MAX_OPTION_CHARS} characters`, [...path, 'options']);
  const problem = textProblem(`the ${what}`, text, { max: MAX_OPTION_CHARS });
  if (problem) throw new GateFormError(`${at}: ${problem}`, [...path, 'options']);
  return text;
}

/** `s` for a message: control characters shown as '?', cut to 100 characters. */
function clip(s: string): string {
  const shown = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return shown.length > 100 ? `${shown.slice(0, 100)}…` : shown;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? `"${clip(v)}"` : String(v);
}

// ---- answers ----

export type GateAnswers = Record<string, string | boolean>;

/**
 * Checks a user's answers (a JSON object, or a form body's string values; a ticked checkbox
 * sends "on") against the form. Every field is required. Returns them normalised; throws a 400
 * naming the field and what to send.
 */
export function validateAnswers(form: GateForm, answers: unknown): GateAnswers {
  const given = answers ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw badRequest('send the answers as an object of field name to value, e.g. {"fields": {"Company": "ACME"}}');
  }
  const byName = new Map(form.fields.map((f) => [f.name, f]));
  for (const key of Object.keys(given)) {
    if (!byName.has(key)) {
      const asked = form.fields.length ? `this form asks for ${form.fields.map((f) => `"${f.name}"`).join(', ')}` : 'this form asks for no fields';
      throw badRequest(`unknown field "${clip(key)}": ${asked}`);
    }
  }
  const normalised: [string, string | boolean][] = [];
  for (const field of form.fields) {
    const value = Object.hasOwn(given, field.name) ? (given as Record<string, unknown>)[field.name] : undefined;
    normalised.push([field.name, answerOf(field, value)]);
  }
  // fromEntries defines own properties, so a field named "__proto__" stays a field.
  return Object.fromEntries(normalised);
}

function answerOf(field: GateField, value: unknown): string | boolean {
  const name = `field "${field.name}"`;
  if (field.type === 'checkbox') {
    if (value === true || value === 'on' || value === 'true') return true;
    throw badRequest(`${name} must be ticked: send true`);
  }
  const how = howToAnswer(field);
  if (value === undefined || value === null) throw badRequest(`${name} is missing: ${how}`);
  if (typeof value !== 'string' && !(field.type === 'text' && typeof value === 'number' && Number.isFinite(value))) {
    throw badRequest(`${name} must be text: ${how}`);
  }
  const text = String(value).trim();
  if (text === '') throw badRequest(`${name} is empty: ${how}`);
  switch (field.type) {
    case 'text':
      if (text.length > MAX_TEXT_ANSWER) throw badRequest(`${name} is longer than ${MAX_TEXT_ANSWER} characters: shorten it`);
      // Answers are shown to the authors on pages, in e-mails and in the access report: one printable line.
      {
        const problem = textProblem(name, text, { max: MAX_TEXT_ANSWER });
        if (problem) throw badRequest(problem);
      }
      return text;
    case 'country': {
      const code = text.toUpperCase();
      if (!COUNTRIES.has(code)) throw badRequest(`${name}: "${clip(text)}" is not a country code; ${how}`);
      return code;
    }
    case 'date_picker':
      if (!isCalendarDate(text)) throw badRequest(`${name}: "${clip(text)}" is not a date; ${how}`);
      return text;
    case 'select':
      if (!field.options?.some((o) => o.value === text)) throw badRequest(`${name}: "${clip(text)}" is not one of its options; ${how}`);
      return text;
  }
}

function howToAnswer(field: GateField): string {
  switch (field.type) {
    case 'text':
      return `send text of at most ${MAX_TEXT_ANSWER} characters`;
    case 'checkbox':
      return 'send true';
    case 'country':
      return 'send an ISO 3166-1 alpha-2 country code such as "FR" or "US"';
    case 'date_picker':
      return 'send a date as YYYY-MM-DD, e.g. "2024-03-31"';
    case 'select': {
      const values = (field.options ?? []).map((o) => `"${o.value}"`);
      return `send one of ${values.length > 10 ? `${values.slice(0, 10).join(', ')}, ...` : values.join(', ')}`;
    }
  }
}

/** YYYY-MM-DD naming a day that exists (2023-02-30 does not). */
export function isCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // leap year 2000: February has 29
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && !leap ? 28 : daysInMonth);
}

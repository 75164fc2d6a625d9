// The gate form from a card's front matter (issue 4 item 4) and the check of a user's answers
// (item 3): the seeds' exact examples, every field type, every refusal with its message, and
// hostile YAML that must be refused with bounded work.
import { describe, expect, it } from 'vitest';
import { cardOf } from '../../src/gating/card.ts';
import { COUNTRIES } from '../../src/gating/countries.ts';
import { FrontMatterError, parseFrontMatter } from '../../src/gating/front-matter.ts';
import { type GateForm, GateFormError, gateFormFromMetadata, isCalendarDate, validateAnswers } from '../../src/gating/form.ts';
import { HubgateError } from '../../src/domain/errors.ts';
import { checkCard } from '../../src/http/api/validate-yaml.ts';
import { SEED_DATASET, SEED_DATASET_FORM } from '../../fixtures/gated-cards.ts';

// Copied from the seeds (001: gated datasets; 003: gated models), byte for byte.
const SEED_HEADING = `---
extra_gated_heading: "Acknowledge license to accept the repository"
extra_gated_description: "Our team may take 2-3 days to process your request"
extra_gated_button_content: "Acknowledge license"
---
`;
const SEED_MODEL = `---
extra_gated_prompt: "You agree to not use the model to conduct experiments that cause harm to human subjects."
extra_gated_fields:
 Company: text
 Country: text
 I agree to use this model for non-commercial use ONLY: checkbox
---
`;

const formOf = (readme: string, type: 'model' | 'dataset' = 'model') => gateFormFromMetadata(parseFrontMatter(readme).metadata, type);

function refusal(fn: () => unknown): { status: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof HubgateError) return { status: err.status, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}
function formError(metadata: Record<string, unknown>): string {
  try {
    gateFormFromMetadata(metadata);
  } catch (err) {
    if (err instanceof GateFormError) return err.message;
    throw err;
  }
  throw new Error('expected a GateFormError');
}
function frontMatterError(readme: string): FrontMatterError {
  try {
    parseFrontMatter(readme);
  } catch (err) {
    if (err instanceof FrontMatterError) return err;
    throw err;
  }
  throw new Error('expected a FrontMatterError');
}

describe('front matter', () => {
  it('splits metadata from body, with \\n or \\r\\n, a BOM, or leading blank lines', () => {
    expect(parseFrontMatter('---\nlicense: mit\n---\n# Card\ntext\n')).toEqual({ metadata: { license: 'mit' }, body: '# Card\ntext\n' });
    expect(parseFrontMatter('---\r\nlicense: mit\r\n---\r\n# Card\r\n')).toEqual({ metadata: { license: 'mit' }, body: '# Card\r\n' });
    expect(parseFrontMatter('\uFEFF---\nlicense: mit\n---\nbody')).toEqual({ metadata: { license: 'mit' }, body: 'body' });
    expect(parseFrontMatter('\n\n---\na: 1\n---')).toEqual({ metadata: { a: 1 }, body: '' });
    expect(parseFrontMatter('---\n---\nbody')).toEqual({ metadata: {}, body: 'body' });
  });

  it('has no metadata without a front matter block, or with one never closed', () => {
    expect(parseFrontMatter('# Card\n---\na: 1\n---\n')).toEqual({ metadata: null, body: '# Card\n---\na: 1\n---\n' });
    expect(parseFrontMatter('---\na: 1\n')).toEqual({ metadata: null, body: '---\na: 1\n' });
    expect(parseFrontMatter('')).toEqual({ metadata: null, body: '' });
  });

  it('a "---" inside a value does not close the block; only a line of exactly "---" does', () => {
    expect(parseFrontMatter('---\na: "x---y"\nb: ----\n---\nrest')).toEqual({ metadata: { a: 'x---y', b: '----' }, body: 'rest' });
  });

  it('refuses malformed YAML, naming the README.md line', () => {
    const bad = frontMatterError('---\nlicense: mit\ntags: [a,\nx: 1\n---\n');
    expect(bad.line).toBe(4);
    expect(bad.message).toMatch(/^README\.md front matter is not valid YAML: line 4, column 1: Flow sequence/);
    const dup = frontMatterError('---\na: 1\na: 2\n---\n');
    expect(dup.message).toBe('README.md front matter is not valid YAML: line 3, column 1: Map keys must be unique');
    const tab = frontMatterError('\n---\na:\n\tb: 1\n---\n');
    expect(tab.line).toBe(4);
    expect(tab.message).toContain('Tabs are not allowed as indentation');
  });

  it('refuses YAML that is not a mapping', () => {
    expect(frontMatterError('---\n- a\n- b\n---\n').message).toBe('README.md front matter must be a YAML mapping (lines of "key: value"), not a list (line 2)');
    expect(frontMatterError('---\njust text\n---\n').message).toBe('README.md front matter must be a YAML mapping (lines of "key: value"), not a single string value (line 2)');
  });

  it('keeps a "__proto__" key as data, never as a prototype', () => {
    const { metadata } = parseFrontMatter('---\n__proto__: {polluted: yes}\n---\n');
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata!)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  describe('hostile YAML is refused with bounded work', () => {
    const quick = (fn: () => void) => {
      const start = performance.now();
      fn();
      return performance.now() - start;
    };

    it('alias expansion ("billion laughs")', () => {
      const levels = ['a: &a [x,x,x,x,x,x,x,x,x]'];
      for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(',')}]`);
      const readme = `---\n${levels.join('\n')}\n---\n`;
      let err: FrontMatterError | undefined;
      const ms = quick(() => (err = frontMatterError(readme)));
      expect(err!.message).toBe('README.md front matter could not be read: Excessive alias count indicates a resource exhaustion attack; use fewer YAML aliases (*name)');
      expect(ms).toBeLessThan(2000);
    });

    it.each([
      ['flow sequences', `x: ${'['.repeat(100_000)}${']'.repeat(100_000)}`, 2],
      ['flow mappings', `x: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}`, 2],
      ['block mappings', Array.from({ length: 700 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'), 67],
      ['compact sequences', `x:\n  ${'- '.repeat(100_000)}1`, 3],
    ])('nesting without end: %s', (_what, yaml, line) => {
      let err: FrontMatterError | undefined;
      const ms = quick(() => (err = frontMatterError(`---\n${yaml}\n---\n`)));
      expect(err!.message).toBe(`README.md front matter nests deeper than 64 levels (line ${line}): flatten the metadata`);
      expect(err!.line).toBe(line);
      expect(ms).toBeLessThan(2000);
    });

    // Regression: the yaml package's own duplicate-key check compares every key with every
    // earlier one (40k keys: 5 s); and any parse costs about 2.5 µs of event loop a token.
    it('a mapping of 1,000 keys is read, duplicate keys are found; 20,000 keys are refused while lexing', () => {
      const keys = (n: number) => Array.from({ length: n }, (_, i) => `${i}: 0`).join('\n');
      expect(Object.keys(parseFrontMatter(`---\n${keys(1000)}\n---\n`).metadata!)).toHaveLength(1000);
      expect(frontMatterError(`---\n${keys(1000)}\n5: 1\n---\n`).message).toBe('README.md front matter is not valid YAML: line 1002, column 1: Map keys must be unique');
      let err: FrontMatterError | undefined;
      expect(quick(() => (err = frontMatterError(`---\n${keys(20_000)}\n---\n`)))).toBeLessThan(2000);
      expect(err!.message).toMatch(/^README\.md front matter has more than 10000 YAML tokens \(about 1428 lines of "key: value"; the limit is reached at line \d+\): keep the metadata short/);
    });

    it('aliases that make the metadata circular or huge; a plain shared alias is fine', () => {
      expect(frontMatterError('---\na: &x [1, *x]\n---\n').message).toBe('README.md front matter contains itself: an alias (*name) inside the value of its own anchor (&name); remove the alias');
      expect(frontMatterError('---\na: &x {b: {c: *x}}\n---\n').message).toBe('README.md front matter contains itself: an alias (*name) inside the value of its own anchor (&name); remove the alias');
      const huge = `---\ns: &s "${'x'.repeat(200_000)}"\nl: [${Array(99).fill('*s').join(', ')}]\n---\n`;
      let err: FrontMatterError | undefined;
      const ms = quick(() => (err = frontMatterError(huge)));
      expect(err!.message).toBe('README.md front matter expands to more than 4 MB of text through its aliases (*name): write the values out instead');
      expect(ms).toBeLessThan(2000);
      expect(parseFrontMatter('---\nbase: &b {lr: 0.1}\nrun1: *b\nrun2: *b\n---\n').metadata).toEqual({ base: { lr: 0.1 }, run1: { lr: 0.1 }, run2: { lr: 0.1 } });
    });

    it('a front matter over 256 KB', () => {
      const err = frontMatterError(`---\nx: "${'a'.repeat(256 * 1024)}"\n---\n`);
      expect(err.message).toBe('README.md front matter is larger than 256 KB: keep the metadata short and move long text into the card body');
    });

    it('metadata nested 64 levels deep is still accepted, 65 is not', () => {
      const nested = (levels: number) => `---\n${Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} end\n---\n`;
      let value: unknown = parseFrontMatter(nested(64)).metadata;
      for (let i = 0; i < 64; i++) value = (value as Record<string, unknown>).k;
      expect(value).toBe('end');
      expect(frontMatterError(nested(65)).line).toBe(66);
      expect(parseFrontMatter(`---\nk: ${'['.repeat(63)}1${']'.repeat(63)}\n---\n`).metadata).toBeTruthy();
    });
  });
});

describe('gate form from metadata', () => {
  it('reads the dataset seed exactly: every field type, select options as strings and {label, value}', () => {
    expect(formOf(SEED_DATASET, 'dataset')).toEqual(SEED_DATASET_FORM);
  });

  it('reads the model seed exactly', () => {
    expect(formOf(SEED_MODEL)).toEqual({
      heading: 'You need to agree to share your contact information to access this model',
      prompt: 'You agree to not use the model to conduct experiments that cause harm to human subjects.',
      description: null,
      buttonContent: 'Agree and send request to access repo',
      fields: [
        { name: 'Company', type: 'text' },
        { name: 'Country', type: 'text' },
        { name: 'I agree to use this model for non-commercial use ONLY', type: 'checkbox' },
      ],
    });
  });

  it('reads the heading, description and button seed exactly', () => {
    expect(formOf(SEED_HEADING)).toEqual({
      heading: 'Acknowledge license to accept the repository',
      prompt: null,
      description: 'Our team may take 2-3 days to process your request',
      buttonContent: 'Acknowledge license',
      fields: [],
    });
  });

  it("is the Hub's default form without metadata", () => {
    expect(gateFormFromMetadata(null)).toEqual({
      heading: 'You need to agree to share your contact information to access this model',
      prompt: null,
      description: null,
      buttonContent: 'Agree and send request to access repo',
      fields: [],
    });
    expect(gateFormFromMetadata({ license: 'mit', extra_gated_fields: null }, 'dataset').heading).toBe('You need to agree to share your contact information to access this dataset');
  });

  it('accepts {type: ...} for every type, and skips the Hub-only ip_location', () => {
    const form = gateFormFromMetadata({
      extra_gated_fields: { A: { type: 'text' }, B: { type: 'checkbox' }, C: { type: 'date_picker' }, D: { type: 'country' }, geo: 'ip_location', E: { type: 'select', options: [1, 2] } },
    });
    expect(form.fields).toEqual([
      { name: 'A', type: 'text' },
      { name: 'B', type: 'checkbox' },
      { name: 'C', type: 'date_picker' },
      { name: 'D', type: 'country' },
      { name: 'E', type: 'select', options: [{ label: '1', value: '1' }, { label: '2', value: '2' }] },
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown type', { extra_gated_fields: { Company: 'textarea' } }, 'extra_gated_fields "Company": unknown type "textarea"; use text, checkbox, date_picker, country, or {type: select, options: [...]}'],
    ['an unknown {type}', { extra_gated_fields: { Company: { type: 'radio' } } }, 'extra_gated_fields "Company": unknown type "radio"; use text, checkbox, date_picker, country, or {type: select, options: [...]}'],
    ['a mapping without type', { extra_gated_fields: { Company: { options: ['a'] } } }, 'extra_gated_fields "Company": type is missing or not text; use text, checkbox, date_picker, country, or {type: select, options: [...]}'],
    ['a list for a type', { extra_gated_fields: { Company: ['text'] } }, 'extra_gated_fields "Company": unknown type a list; use text, checkbox, date_picker, country, or {type: select, options: [...]}'],
    ['fields as a list', { extra_gated_fields: ['Company'] }, 'extra_gated_fields must be a mapping of field names to types, e.g. "Company: text" on its own line (got a list)'],
    ['fields as text', { extra_gated_fields: 'Company' }, 'extra_gated_fields must be a mapping of field names to types, e.g. "Company: text" on its own line (got "Company")'],
    ['a select without options', { extra_gated_fields: { Use: 'select' } }, 'extra_gated_fields "Use": a select field needs a non-empty list of options, e.g. options: ["Research", {label: "Other", value: "other"}]'],
    ['a select with empty options', { extra_gated_fields: { Use: { type: 'select', options: [] } } }, 'extra_gated_fields "Use": a select field needs a non-empty list of options, e.g. options: ["Research", {label: "Other", value: "other"}]'],
    ['duplicate option values', { extra_gated_fields: { Use: { type: 'select', options: ['other', { label: 'Other', value: 'other' }] } } }, 'extra_gated_fields "Use", option 2: the value "other" is used twice; give every option its own value'],
    ['an option that is a list', { extra_gated_fields: { Use: { type: 'select', options: [['a']] } } }, 'extra_gated_fields "Use", option 1: the value must be text (got a list), e.g. options: ["Research", {label: "Other", value: "other"}]'],
    ['an option without value', { extra_gated_fields: { Use: { type: 'select', options: [{ label: 'A' }] } } }, 'extra_gated_fields "Use", option 1: the value must be text (got nothing), e.g. options: ["Research", {label: "Other", value: "other"}]'],
    ['options on a text field', { extra_gated_fields: { Use: { type: 'text', options: ['a'] } } }, 'extra_gated_fields "Use": options are only for fields of type select; write {type: select, options: [...]}'],
    ['too many fields', { extra_gated_fields: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`F${i}`, 'text'])) }, 'extra_gated_fields has 51 fields; at most 50 are allowed'],
    ['an over-long name', { extra_gated_fields: { ['n'.repeat(201)]: 'text' } }, `extra_gated_fields "${'n'.repeat(100)}…": a field name can be at most 200 characters`],
    ['an empty name', { extra_gated_fields: { ' ': 'text' } }, 'extra_gated_fields has a field with an empty name: give every field a name'],
    ['names equal once trimmed', { extra_gated_fields: { Company: 'text', 'Company ': 'text' } }, 'extra_gated_fields "Company ": two fields have this name; give each field its own name'],
    ['a prompt that is a mapping', { extra_gated_prompt: { a: 1 } }, 'extra_gated_prompt must be text, e.g. extra_gated_prompt: "..." (got a mapping)'],
    ['an over-long heading', { extra_gated_heading: 'h'.repeat(501) }, 'extra_gated_heading is longer than 500 characters: shorten it'],
  ])('refuses %s', (_what, metadata, message) => {
    expect(formError(metadata)).toBe(message);
  });

  it('says where the problem is, for validate-yaml', () => {
    try {
      gateFormFromMetadata({ extra_gated_fields: { Use: { type: 'select', options: 'a' } } });
    } catch (err) {
      expect((err as GateFormError).path).toEqual(['extra_gated_fields', 'Use', 'options']);
    }
    expect.assertions(1);
  });
});

describe('answers', () => {
  const form: GateForm = formOf(SEED_DATASET, 'dataset');
  const good = {
    Company: '  ACME  ',
    Country: 'fr',
    'Specific date': '2024-02-29',
    'I want to use this dataset for': 'other',
    'I agree to use this dataset for non-commercial use ONLY': true,
  };

  it('normalises a JSON answer: trimmed text, upper-case country, ticked checkbox as true', () => {
    expect(validateAnswers(form, good)).toEqual({
      Company: 'ACME',
      Country: 'FR',
      'Specific date': '2024-02-29',
      'I want to use this dataset for': 'other',
      'I agree to use this dataset for non-commercial use ONLY': true,
    });
  });

  it('takes a form body: strings, a ticked checkbox sends "on"', () => {
    const answers = validateAnswers(form, { ...good, 'I agree to use this dataset for non-commercial use ONLY': 'on' });
    expect(answers['I agree to use this dataset for non-commercial use ONLY']).toBe(true);
    expect(validateAnswers(form, { ...good, 'I agree to use this dataset for non-commercial use ONLY': 'true' })['I agree to use this dataset for non-commercial use ONLY']).toBe(true);
  });

  it('needs nothing for the default form, and refuses any field there', () => {
    expect(validateAnswers(gateFormFromMetadata(null), {})).toEqual({});
    expect(validateAnswers(gateFormFromMetadata(null), undefined)).toEqual({});
    expect(refusal(() => validateAnswers(gateFormFromMetadata(null), { Company: 'x' }))).toEqual({ status: 400, message: 'unknown field "Company": this form asks for no fields' });
  });

  const asked = 'this form asks for "Company", "Country", "Specific date", "I want to use this dataset for", "I agree to use this dataset for non-commercial use ONLY"';
  it.each<[string, unknown, string]>([
    ['not an object', ['ACME'], 'send the answers as an object of field name to value, e.g. {"fields": {"Company": "ACME"}}'],
    ['text instead of an object', 'ACME', 'send the answers as an object of field name to value, e.g. {"fields": {"Company": "ACME"}}'],
    ['an unknown field', { ...good, Age: '30' }, `unknown field "Age": ${asked}`],
    ['a "__proto__" field', JSON.parse('{"__proto__": "x"}'), `unknown field "__proto__": ${asked}`],
    ['a missing text', { ...good, Company: undefined }, 'field "Company" is missing: send text of at most 1000 characters'],
    ['a blank text', { ...good, Company: '   ' }, 'field "Company" is empty: send text of at most 1000 characters'],
    ['an over-long text', { ...good, Company: 'x'.repeat(1001) }, 'field "Company" is longer than 1000 characters: shorten it'],
    ['a text that is an object', { ...good, Company: { name: 'ACME' } }, 'field "Company" must be text: send text of at most 1000 characters'],
    ['an unticked checkbox', { ...good, 'I agree to use this dataset for non-commercial use ONLY': false }, 'field "I agree to use this dataset for non-commercial use ONLY" must be ticked: send true'],
    ['a missing checkbox', { ...good, 'I agree to use this dataset for non-commercial use ONLY': undefined }, 'field "I agree to use this dataset for non-commercial use ONLY" must be ticked: send true'],
    ['a checkbox answered "off"', { ...good, 'I agree to use this dataset for non-commercial use ONLY': 'off' }, 'field "I agree to use this dataset for non-commercial use ONLY" must be ticked: send true'],
    ['a country name', { ...good, Country: 'France' }, 'field "Country": "France" is not a country code; send an ISO 3166-1 alpha-2 country code such as "FR" or "US"'],
    ['an unassigned code', { ...good, Country: 'XK' }, 'field "Country": "XK" is not a country code; send an ISO 3166-1 alpha-2 country code such as "FR" or "US"'],
    ['an impossible date', { ...good, 'Specific date': '2023-02-30' }, 'field "Specific date": "2023-02-30" is not a date; send a date as YYYY-MM-DD, e.g. "2024-03-31"'],
    ['29 February of a common year', { ...good, 'Specific date': '2023-02-29' }, 'field "Specific date": "2023-02-29" is not a date; send a date as YYYY-MM-DD, e.g. "2024-03-31"'],
    ['a date in another format', { ...good, 'Specific date': '31/03/2024' }, 'field "Specific date": "31/03/2024" is not a date; send a date as YYYY-MM-DD, e.g. "2024-03-31"'],
    ['a number for a date', { ...good, 'Specific date': 20240331 }, 'field "Specific date" must be text: send a date as YYYY-MM-DD, e.g. "2024-03-31"'],
    ['a select label instead of its value', { ...good, 'I want to use this dataset for': 'Other' }, 'field "I want to use this dataset for": "Other" is not one of its options; send one of "Research", "Education", "other"'],
    ['a select with two values', { ...good, 'I want to use this dataset for': ['Research', 'other'] }, 'field "I want to use this dataset for" must be text: send one of "Research", "Education", "other"'],
  ])('refuses %s', (_what, answers, message) => {
    expect(refusal(() => validateAnswers(form, answers))).toEqual({ status: 400, message });
  });

  it('checks calendar dates', () => {
    for (const d of ['2024-02-29', '2000-02-29', '2023-12-31', '0001-01-01', '2023-04-30']) expect(isCalendarDate(d), d).toBe(true);
    for (const d of ['2023-02-29', '1900-02-29', '2023-04-31', '2023-13-01', '2023-00-10', '2023-01-00', '0000-01-01', '2023-1-01', ' 2023-01-01']) expect(isCalendarDate(d), d).toBe(false);
  });
});

describe('countries', () => {
  it('holds exactly the 249 officially assigned ISO 3166-1 alpha-2 codes', () => {
    // Every two-letter region ICU knows, minus those that are not officially assigned ISO
    // 3166-1 codes (exceptionally reserved, transitional, deprecated, user-assigned, CLDR's own).
    const notAssigned = ['AC', 'AN', 'BU', 'CP', 'CQ', 'CS', 'DD', 'DG', 'DY', 'EA', 'EU', 'EZ', 'FX', 'HV', 'IC', 'NH', 'QO', 'RH', 'SU', 'TA', 'TP', 'UK', 'UN', 'VD', 'XA', 'XB', 'XK', 'YD', 'YU', 'ZR', 'ZZ'];
    const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    const known: string[] = [];
    for (let a = 65; a <= 90; a++) for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      if (names.of(code) && !notAssigned.includes(code)) known.push(code);
    }
    expect(COUNTRIES.size).toBe(249);
    expect([...COUNTRIES.keys()]).toEqual(known);
    expect(COUNTRIES.get('FR')).toBe('France');
    expect(COUNTRIES.get('CI')).toBe("Côte d'Ivoire");
  });
});

describe('card', () => {
  it('a malformed front matter or a bad extra_gated_fields closes the form, saying why', () => {
    const broken = cardOf('c0ffee', '---\nextra_gated_fields: [\n---\n# Card\n', { type: 'model' });
    expect(broken).toMatchObject({ commit: 'c0ffee', metadata: null, body: '# Card\n', form: null });
    expect(broken.formError).toMatch(/^README\.md front matter is not valid YAML: line 3/);
    const badField = cardOf('c0ffee', '---\nextra_gated_fields:\n  Company: textarea\n---\nbody', { type: 'model' });
    expect(badField).toMatchObject({ metadata: { extra_gated_fields: { Company: 'textarea' } }, body: 'body', form: null });
    expect(badField.formError).toBe('README.md front matter: extra_gated_fields "Company": unknown type "textarea"; use text, checkbox, date_picker, country, or {type: select, options: [...]}');
  });

  it('no README: the default form', () => {
    expect(cardOf(null, null, { type: 'dataset' })).toEqual({ commit: null, metadata: null, body: '', form: gateFormFromMetadata(null, 'dataset'), formError: null });
  });
});

describe('validate-yaml checks', () => {
  it('errors for what would close the gate; a warning for a card without metadata', () => {
    expect(checkCard(SEED_DATASET, 'dataset')).toEqual({ errors: [], warnings: [] });
    expect(checkCard('# just text')).toEqual({ errors: [], warnings: [{ message: 'Empty or missing yaml metadata in repo card: start README.md with a "---" block of metadata' }] });
    expect(checkCard('---\nextra_gated_fields:\n  Use: select\n---\n')).toEqual({
      errors: [{ message: 'extra_gated_fields "Use": a select field needs a non-empty list of options, e.g. options: ["Research", {label: "Other", value: "other"}]', path: ['extra_gated_fields', 'Use', 'options'] }],
      warnings: [],
    });
    expect(checkCard('---\na: [\n---\n').errors[0].message).toMatch(/^README\.md front matter is not valid YAML: line 3/);
  });
});

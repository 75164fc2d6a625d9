import { COUNTRIES, type GateField, type GateForm } from './gate.js';
import { csrfField, html, type Html } from './html.js';

// The access request form of a gated repo, as its card's front matter describes it.

/** Form field names carry this prefix, so a card's field can never be taken for `csrf`. */
export const FIELD_PREFIX = 'f:';

export type Answers = Record<string, string | boolean>;

/** The country dropdown lists names alphabetically (COUNTRIES is in code order). */
const COUNTRY_OPTIONS = [...COUNTRIES].sort((a, b) => a[1].localeCompare(b[1], 'en'));

/** The answers in a submitted form body: one per field of the card's form (a checkbox is ticked or not). */
export function answersFrom(form: GateForm, body: Record<string, unknown>): Answers {
  const answers: Answers = {};
  for (const field of form.fields) {
    const raw = body[FIELD_PREFIX + field.name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    answers[field.name] = field.type === 'checkbox' ? value === 'on' : typeof value === 'string' ? value : '';
  }
  return answers;
}

function fieldInput(field: GateField, value: string | boolean | undefined): Html {
  const name = FIELD_PREFIX + field.name;
  const text = typeof value === 'string' ? value : '';
  switch (field.type) {
    case 'checkbox':
      return html`<label class="check"><input type="checkbox" name="${name}" value="on" required${value === true ? html` checked` : null}> ${field.name}</label>`;
    case 'date_picker':
      return html`<label>${field.name} <input type="date" name="${name}" value="${text}" required></label>`;
    case 'country':
      return html`<label>${field.name} <select name="${name}" required>
<option value="">Select a country</option>
${COUNTRY_OPTIONS.map(([code, country]) => html`<option value="${code}"${code === text ? html` selected` : null}>${country}</option>\n`)}</select></label>`;
    case 'select':
      return html`<label>${field.name} <select name="${name}" required>
<option value="">Select an option</option>
${(field.options ?? []).map((o) => html`<option value="${o.value}"${o.value === text ? html` selected` : null}>${o.label}</option>\n`)}</select></label>`;
    case 'text':
    default:
      return html`<label>${field.name} <input type="text" name="${name}" value="${text}" maxlength="1000" required></label>`;
  }
}

/** The form, posting to the repo's ask-access route; `values` refill it after a refused submission. */
export function gateFormHtml(form: GateForm, action: string, csrf: string | null, values: Answers = {}): Html {
  return html`<form method="post" action="${action}" class="stack gate-form">
${csrfField(csrf)}
${form.fields.map((f) => html`${fieldInput(f, values[f.name])}\n`)}
<p class="muted">Your username and email address are shared with the repo's authors.</p>
<button type="submit">${form.buttonContent}</button>
</form>`;
}

/** Heading, prompt and description: shown to everyone who sees the gate, signed in or not. */
export function gateIntro(form: GateForm): Html {
  return html`<h2>${form.heading}</h2>
${form.prompt ? html`<p class="prompt">${form.prompt}</p>` : null}
${form.description ? html`<p class="description muted">${form.description}</p>` : null}`;
}

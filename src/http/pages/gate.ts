// What the pages use from the gating module, in one place.
export { readCard, type RepoCard } from '../../gating/card.js';
export { COUNTRIES } from '../../gating/countries.js';
export type { GateField, GateForm } from '../../gating/form.js';

// The access policy (design §3) as a table: every row is facts + action -> the exact Decision,
// written by hand from the design, not computed from the code under test. A second part runs
// the whole cross product and checks properties the design promises for every combination.
import { describe, expect, it } from 'vitest';
import { type Answer, answerFor } from '../../src/access/answer.ts';
import { type AccessFacts, type Action, type Decision, type Denial, type GateStatus, decide, decideCreate, decideOrg, mayAll, mayOrg, type NamespaceFacts, type OrgAction } from '../../src/access/policy.ts';

type Who = 'anonymous' | 'invalid' | 'owner' | 'org-read' | 'org-write' | 'org-admin' | 'stranger';
type Tok = 'read' | 'write' | null;
type Vis = 'public' | 'private' | 'missing';
type Gate = false | 'auto' | 'manual';

function facts(who: Who, token: Tok, vis: Vis, gated: Gate = false, gate: GateStatus = 'none', rejectionReason?: string | null): AccessFacts {
  const caller = who === 'anonymous' ? 'anonymous' : who === 'invalid' ? 'invalid' : 'user';
  return {
    caller,
    tokenRole: caller === 'user' ? token : null,
    repo:
      vis === 'missing'
        ? null
        : {
            private: vis === 'private',
            gated,
            isOwner: who === 'owner',
            orgRole: who === 'org-read' ? 'read' : who === 'org-write' ? 'write' : who === 'org-admin' ? 'admin' : null,
            gate: rejectionReason === undefined ? { status: gate } : { status: gate, rejectionReason },
          },
  };
}

const allow = (level: 'read' | 'write' | 'admin'): Decision => ({ allow: true, level });
const needsAuth = (hidden: boolean): Decision => ({ allow: false, reason: 'needs-authentication', hidden });
const INVALID: Decision = { allow: false, reason: 'invalid-credentials' };
const NOT_FOUND: Decision = { allow: false, reason: 'not-found' };
const readOnly = (need: Action): Decision => ({ allow: false, reason: 'read-only-token', need });
const forbidden = (need: Action): Decision => ({ allow: false, reason: 'forbidden', need });
const gatedBy = (status: 'none' | 'pending' | 'rejected', anonymous: boolean, rejectionReason: string | null = null): Decision => ({
  allow: false,
  reason: 'gated',
  status,
  rejectionReason,
  anonymous,
});

type Row = [who: Who, token: Tok, vis: Vis, gated: Gate, gate: GateStatus, action: Action, expected: Decision, reason?: string | null];

const ROWS: Row[] = [
  // A repo that does not exist: anonymous callers are asked to sign in, others get 404.
  ['anonymous', null, 'missing', false, 'none', 'read', needsAuth(true)],
  ['anonymous', null, 'missing', false, 'none', 'write', needsAuth(true)],
  ['invalid', null, 'missing', false, 'none', 'read', INVALID],
  ['stranger', 'write', 'missing', false, 'none', 'read', NOT_FOUND],
  ['stranger', 'write', 'missing', false, 'none', 'write', NOT_FOUND],
  ['stranger', 'read', 'missing', false, 'none', 'admin', NOT_FOUND],

  // Bad credentials are never anonymous access, whatever the repo.
  ['invalid', null, 'public', false, 'none', 'read', INVALID],
  ['invalid', null, 'public', false, 'none', 'write', INVALID],
  ['invalid', null, 'private', false, 'none', 'read', INVALID],
  ['invalid', null, 'public', 'auto', 'accepted', 'read', INVALID],

  // Anonymous.
  ['anonymous', null, 'public', false, 'none', 'read', allow('read')],
  ['anonymous', null, 'public', false, 'none', 'write', needsAuth(false)],
  ['anonymous', null, 'public', false, 'none', 'admin', needsAuth(false)],
  ['anonymous', null, 'private', false, 'none', 'read', needsAuth(true)],
  ['anonymous', null, 'private', false, 'none', 'write', needsAuth(true)],
  ['anonymous', null, 'public', 'auto', 'none', 'read', gatedBy('none', true)],
  ['anonymous', null, 'public', 'manual', 'none', 'read', gatedBy('none', true)],
  ['anonymous', null, 'public', 'auto', 'none', 'write', needsAuth(false)],
  ['anonymous', null, 'private', 'auto', 'none', 'read', needsAuth(true)],

  // The namespace owner: admin, capped at read by a read token.
  ['owner', 'write', 'public', false, 'none', 'read', allow('admin')],
  ['owner', 'write', 'public', false, 'none', 'write', allow('admin')],
  ['owner', 'write', 'private', false, 'none', 'write', allow('admin')],
  ['owner', 'write', 'private', false, 'none', 'admin', allow('admin')],
  ['owner', 'read', 'public', false, 'none', 'read', allow('read')],
  ['owner', 'read', 'private', false, 'none', 'read', allow('read')],
  ['owner', 'read', 'public', false, 'none', 'write', readOnly('write')],
  ['owner', 'read', 'private', false, 'none', 'write', readOnly('write')],
  ['owner', 'read', 'private', false, 'none', 'admin', readOnly('admin')],
  ['owner', 'write', 'public', 'manual', 'none', 'read', allow('admin')],
  ['owner', 'read', 'private', 'manual', 'rejected', 'read', allow('read')],

  // Org members: the org role, capped by a read token.
  ['org-read', 'write', 'public', false, 'none', 'read', allow('read')],
  ['org-read', 'write', 'private', false, 'none', 'read', allow('read')],
  ['org-read', 'write', 'public', false, 'none', 'write', forbidden('write')],
  ['org-read', 'write', 'private', false, 'none', 'write', forbidden('write')],
  ['org-read', 'write', 'private', false, 'none', 'admin', forbidden('admin')],
  ['org-read', 'read', 'private', false, 'none', 'write', forbidden('write')],
  ['org-write', 'write', 'public', false, 'none', 'read', allow('write')],
  ['org-write', 'write', 'private', false, 'none', 'write', allow('write')],
  ['org-write', 'write', 'private', false, 'none', 'admin', forbidden('admin')],
  ['org-write', 'read', 'private', false, 'none', 'read', allow('read')],
  ['org-write', 'read', 'private', false, 'none', 'write', readOnly('write')],
  ['org-write', 'read', 'private', false, 'none', 'admin', forbidden('admin')],
  ['org-admin', 'write', 'private', false, 'none', 'read', allow('admin')],
  ['org-admin', 'write', 'private', false, 'none', 'write', allow('admin')],
  ['org-admin', 'write', 'public', false, 'none', 'admin', allow('admin')],
  ['org-admin', 'read', 'private', false, 'none', 'write', readOnly('write')],
  ['org-admin', 'read', 'private', false, 'none', 'admin', readOnly('admin')],

  // Someone else's repo: public = read, private = as if it did not exist.
  ['stranger', 'write', 'public', false, 'none', 'read', allow('read')],
  ['stranger', 'read', 'public', false, 'none', 'read', allow('read')],
  ['stranger', 'write', 'public', false, 'none', 'write', forbidden('write')],
  ['stranger', 'read', 'public', false, 'none', 'write', forbidden('write')],
  ['stranger', 'write', 'public', false, 'none', 'admin', forbidden('admin')],
  ['stranger', 'write', 'private', false, 'none', 'read', NOT_FOUND],
  ['stranger', 'write', 'private', false, 'none', 'write', NOT_FOUND],
  ['stranger', 'read', 'private', false, 'none', 'admin', NOT_FOUND],

  // Gated repos: reading needs an accepted request unless one can write; the answer says where the request stands.
  ['stranger', 'write', 'public', 'auto', 'none', 'read', gatedBy('none', false)],
  ['stranger', 'write', 'public', 'manual', 'none', 'read', gatedBy('none', false)],
  ['stranger', 'write', 'public', 'manual', 'pending', 'read', gatedBy('pending', false)],
  ['stranger', 'read', 'public', 'manual', 'rejected', 'read', gatedBy('rejected', false, 'not a researcher'), 'not a researcher'],
  ['stranger', 'write', 'public', 'auto', 'rejected', 'read', gatedBy('rejected', false, null), null],
  ['stranger', 'write', 'public', 'auto', 'rejected', 'read', gatedBy('rejected', false, null)],
  ['stranger', 'write', 'public', 'auto', 'accepted', 'read', allow('read')],
  ['stranger', 'read', 'public', 'manual', 'accepted', 'read', allow('read')],
  ['stranger', 'write', 'public', 'auto', 'accepted', 'write', forbidden('write')],
  ['stranger', 'write', 'public', 'auto', 'none', 'write', forbidden('write')],
  ['stranger', 'write', 'private', 'auto', 'none', 'read', NOT_FOUND],
  ['stranger', 'write', 'private', 'auto', 'accepted', 'read', NOT_FOUND],
  ['org-read', 'write', 'private', 'manual', 'none', 'read', gatedBy('none', false)],
  ['org-read', 'write', 'public', 'auto', 'pending', 'read', gatedBy('pending', false)],
  ['org-read', 'read', 'private', 'auto', 'accepted', 'read', allow('read')],
  ['org-write', 'write', 'private', 'manual', 'none', 'read', allow('write')],
  ['org-write', 'read', 'private', 'manual', 'none', 'read', allow('read')],
  ['org-write', 'read', 'public', 'auto', 'rejected', 'read', allow('read')],
  ['org-admin', 'write', 'private', 'manual', 'rejected', 'read', allow('admin')],
  ['org-admin', 'write', 'public', 'auto', 'none', 'write', allow('admin')],

  // Viewing (the repo page, card and metadata) needs what reading needs, but gates never apply.
  ['anonymous', null, 'public', 'manual', 'none', 'view', allow('read')],
  ['anonymous', null, 'private', 'manual', 'none', 'view', needsAuth(true)],
  ['stranger', 'write', 'public', 'manual', 'rejected', 'view', allow('read')],
  ['stranger', 'read', 'public', 'auto', 'pending', 'view', allow('read')],
  ['stranger', 'write', 'private', 'manual', 'accepted', 'view', NOT_FOUND],
  ['org-read', 'write', 'private', 'manual', 'none', 'view', allow('read')],
  ['owner', 'read', 'private', false, 'none', 'view', allow('read')],
  ['invalid', null, 'public', 'manual', 'none', 'view', INVALID],
];

describe('decide()', () => {
  it.each(ROWS)('%s with a %s token on a %s repo (gated %s, request %s) asking to %s', (who, token, vis, gated, gate, action, expected, reason) => {
    expect(decide(facts(who, token, vis, gated, gate, reason), action)).toStrictEqual(expected);
  });

  it('ignores owner and org facts for anonymous and invalid callers', () => {
    for (const caller of ['anonymous', 'invalid'] as const) {
      const f: AccessFacts = {
        caller,
        tokenRole: null,
        repo: { private: true, gated: false, isOwner: true, orgRole: 'admin', gate: { status: 'accepted' } },
      };
      expect(decide(f, 'read')).toStrictEqual(caller === 'anonymous' ? needsAuth(true) : INVALID);
      expect(decide({ ...f, repo: { ...f.repo!, private: false } }, 'write')).toStrictEqual(caller === 'anonymous' ? needsAuth(false) : INVALID);
    }
  });
});

describe('mayAll(): what else the caller may do, from the same facts', () => {
  type May = [view: boolean, read: boolean, write: boolean, admin: boolean];
  type MayRow = [who: Who, token: Tok, vis: Vis, gated: Gate, gate: GateStatus, expected: May];
  const MAY_ROWS: MayRow[] = [
    ['owner', 'write', 'private', false, 'none', [true, true, true, true]],
    ['owner', 'read', 'private', false, 'none', [true, true, false, false]],
    ['org-admin', 'write', 'public', 'manual', 'none', [true, true, true, true]],
    ['org-write', 'write', 'private', false, 'none', [true, true, true, false]],
    ['org-write', 'write', 'public', 'manual', 'none', [true, true, true, false]],
    ['org-read', 'write', 'public', 'manual', 'none', [true, false, false, false]],
    ['stranger', 'write', 'public', false, 'none', [true, true, false, false]],
    ['stranger', 'write', 'public', 'auto', 'accepted', [true, true, false, false]],
    ['stranger', 'write', 'public', 'manual', 'pending', [true, false, false, false]],
    ['stranger', 'write', 'private', false, 'none', [false, false, false, false]],
    ['anonymous', null, 'public', false, 'none', [true, true, false, false]],
    ['anonymous', null, 'public', 'auto', 'none', [true, false, false, false]],
    ['anonymous', null, 'private', false, 'none', [false, false, false, false]],
    ['invalid', null, 'public', false, 'none', [false, false, false, false]],
    ['stranger', 'write', 'missing', false, 'none', [false, false, false, false]],
  ];

  it.each(MAY_ROWS)('%s with a %s token on a %s repo (gated %s, request %s)', (who, token, vis, gated, gate, [view, read, write, admin]) => {
    const f = facts(who, token, vis, gated, gate);
    expect(mayAll(f)).toStrictEqual({ view, read, write, admin });
    // The same answers decide() gives one action at a time.
    for (const action of ['view', 'read', 'write', 'admin'] as const) expect(mayAll(f)[action]).toBe(decide(f, action).allow);
  });
});

describe('decide() over every combination', () => {
  const WHO: Who[] = ['anonymous', 'invalid', 'owner', 'org-read', 'org-write', 'org-admin', 'stranger'];
  const ACTIONS: Action[] = ['view', 'read', 'write', 'admin'];
  const RANK = { none: 0, read: 1, write: 2, admin: 3 } as const;
  const combos: { who: Who; token: Tok; vis: Vis; gated: Gate; gate: GateStatus; f: AccessFacts }[] = [];
  for (const who of WHO)
    for (const token of (who === 'anonymous' || who === 'invalid' ? [null] : ['read', 'write']) as Tok[])
      for (const vis of ['public', 'private', 'missing'] as Vis[])
        for (const gated of [false, 'auto', 'manual'] as Gate[])
          for (const gate of ['none', 'pending', 'accepted', 'rejected'] as GateStatus[])
            combos.push({ who, token, vis, gated, gate, f: facts(who, token, vis, gated, gate) });

  it(`holds the design's promises for all ${combos.length * ACTIONS.length} cases`, () => {
    for (const c of combos) {
      const d = Object.fromEntries(ACTIONS.map((a) => [a, decide(c.f, a)])) as Record<Action, Decision>;
      const where = JSON.stringify({ ...c, f: undefined });
      for (const a of ACTIONS) {
        const x = d[a];
        // Bad credentials always get the same answer.
        if (c.who === 'invalid') expect(x, where).toStrictEqual(INVALID);
        if (x.allow) {
          // An allowed level covers the action; a read token never carries more than read.
          expect(RANK[x.level], where).toBeGreaterThanOrEqual(RANK[a === 'view' ? 'read' : a]);
          if (c.token === 'read') expect(x.level, where).toBe('read');
          if (c.who === 'anonymous') expect(x.level, where).toBe('read');
        }
        // Monotone in the action: what allows admin allows write, write allows read, read allows view.
        if (a !== 'view' && x.allow) expect(d[a === 'admin' ? 'write' : a === 'write' ? 'read' : 'view'].allow, where).toBe(true);
        // Viewing is reading without the gate.
        if (a === 'view') expect(x, where).toStrictEqual(decide({ ...c.f, repo: c.f.repo && { ...c.f.repo, gated: false } }, 'read'));
        // Gating only ever stops reading, never for someone who can write, never after acceptance.
        if (!x.allow && x.reason === 'gated') {
          expect(c.gated, where).not.toBe(false);
          expect(c.gate, where).not.toBe('accepted');
          expect(['owner', 'org-write', 'org-admin'], where).not.toContain(c.who);
          expect(x.anonymous, where).toBe(c.who === 'anonymous');
          expect(x.status, where).toBe(c.gate);
        }
        // A private repo the caller holds nothing on is indistinguishable from a missing one.
        if (c.vis === 'private' && (c.who === 'anonymous' || c.who === 'stranger')) {
          expect(x, where).toStrictEqual(decide(facts(c.who, c.token, 'missing'), a));
        }
        // The gating mode (auto or manual) only changes how requests are handled, not who gets in.
        if (c.gated === 'auto') expect(x, where).toStrictEqual(decide(facts(c.who, c.token, c.vis, 'manual', c.gate), a));
        // A read-only-token denial only happens when a write token would have been allowed.
        if (!x.allow && x.reason === 'read-only-token') {
          expect(c.token, where).toBe('read');
          expect(decide(facts(c.who, 'write', c.vis, c.gated, c.gate), a).allow, where).toBe(true);
        }
      }
      // A higher org role never loses access a lower one had.
      if (c.who === 'org-read' || c.who === 'org-write') {
        const up = c.who === 'org-read' ? 'org-write' : 'org-admin';
        for (const a of ACTIONS) {
          if (d[a].allow) expect(decide(facts(up, c.token, c.vis, c.gated, c.gate), a).allow, `${up} ${a} ${JSON.stringify({ ...c, f: undefined })}`).toBe(true);
        }
      }
    }
  });
});

describe('answerFor()', () => {
  const CHALLENGE = 'Basic realm="hubgate"';
  type Case = [name: string, denial: Denial, status: number, errorCode: Answer['errorCode'], message: RegExp];
  const CASES: Case[] = [
    ['invalid credentials', { reason: 'invalid-credentials' }, 401, undefined, /token/],
    ['no credentials, repo hidden', { reason: 'needs-authentication', hidden: true }, 401, 'RepoNotFound', /alice\/m/],
    ['no credentials, public repo write', { reason: 'needs-authentication', hidden: false }, 401, undefined, /write role.*alice\/m|alice\/m.*write role/],
    ['not found', { reason: 'not-found' }, 404, 'RepoNotFound', /^Repository not found: alice\/m$/],
    ['read token writing', { reason: 'read-only-token', need: 'write' }, 403, undefined, /read role.*alice\/m|alice\/m.*read role/],
    ['read token administering', { reason: 'read-only-token', need: 'admin' }, 403, undefined, /read role/],
    ['forbidden write', { reason: 'forbidden', need: 'write' }, 403, undefined, /write access to alice\/m/],
    ['forbidden admin', { reason: 'forbidden', need: 'admin' }, 403, undefined, /admin access to alice\/m/],
    ['gated, no request, signed in', { reason: 'gated', status: 'none', rejectionReason: null, anonymous: false }, 403, 'GatedRepo', /gated repository\. Visit https:\/\/hub\.example\/alice\/m to ask for access/],
    ['gated, no request, anonymous', { reason: 'gated', status: 'none', rejectionReason: null, anonymous: true }, 401, 'GatedRepo', /ask for access.*Sign in/is],
    ['gated, pending', { reason: 'gated', status: 'pending', rejectionReason: null, anonymous: false }, 403, 'GatedRepo', /awaiting a decision/],
    ['gated, pending, anonymous', { reason: 'gated', status: 'pending', rejectionReason: null, anonymous: true }, 401, 'GatedRepo', /awaiting a decision/],
    ['gated, rejected with reason', { reason: 'gated', status: 'rejected', rejectionReason: 'not a researcher', anonymous: false }, 403, 'GatedRepo', /rejected.*: not a researcher/],
    ['gated, rejected', { reason: 'gated', status: 'rejected', rejectionReason: null, anonymous: false }, 403, 'GatedRepo', /was rejected/],
  ];

  it.each(CASES)('%s', (_name, denial, status, errorCode, message) => {
    const a = answerFor(denial, 'alice/m', 'https://hub.example');
    expect(a.status).toBe(status);
    expect(a.errorCode).toBe(errorCode);
    expect(a.message).toMatch(message);
    // git prompts for credentials on exactly the 401s; a challenge on a 403/404 would make it ask in vain.
    if (status === 401) expect(a.headers).toStrictEqual({ 'WWW-Authenticate': CHALLENGE });
    else expect(Object.keys(a.headers).map((h) => h.toLowerCase())).not.toContain('www-authenticate');
  });

  it('gives a bad token the exact X-Error-Message huggingface_hub compares, and only a bad token', () => {
    expect(answerFor({ reason: 'invalid-credentials' }, 'alice/m', 'https://hub.example').errorMessage).toBe('Invalid credentials in Authorization header');
    for (const [, denial] of CASES.filter(([name]) => name !== 'invalid credentials')) {
      expect(answerFor(denial, 'alice/m', 'https://hub.example').errorMessage).toBeUndefined();
    }
  });

  it('says whether a gated request is missing, pending or rejected, with distinct messages', () => {
    const msg = (status: 'none' | 'pending' | 'rejected') => answerFor({ reason: 'gated', status, rejectionReason: null, anonymous: false }, 'org/m', 'https://hub.example').message;
    const all = [msg('none'), msg('pending'), msg('rejected')];
    expect(new Set(all).size).toBe(3);
    expect(all[0]).not.toMatch(/pending|awaiting|rejected/i);
    expect(all[1]).not.toMatch(/rejected/i);
  });

  it('answers a private repo and a missing one the same way (the denial carries no repo facts)', () => {
    // decide() gives the same denial for both; the answer only depends on the denial and the id.
    const hidden = decide(facts('stranger', 'write', 'private'), 'read') as Denial;
    const missing = decide(facts('stranger', 'write', 'missing'), 'read') as Denial;
    expect(answerFor(hidden, 'alice/x', 'https://hub.example')).toStrictEqual(answerFor(missing, 'alice/x', 'https://hub.example'));
    const anonHidden = decide(facts('anonymous', null, 'private'), 'write') as Denial;
    const anonMissing = decide(facts('anonymous', null, 'missing'), 'write') as Denial;
    expect(answerFor(anonHidden, 'alice/x', 'https://hub.example')).toStrictEqual(answerFor(anonMissing, 'alice/x', 'https://hub.example'));
    expect(answerFor(anonHidden, 'alice/x', 'https://hub.example').status).toBe(401);
  });
});

describe('decideCreate(): creating a repo in a namespace', () => {
  type Ns = 'self' | 'other-user' | 'org-read' | 'org-write' | 'org-admin' | 'org-stranger' | 'missing';
  const ns = (n: Ns): NamespaceFacts['namespace'] =>
    n === 'missing'
      ? null
      : { isSelf: n === 'self', orgRole: n === 'org-read' ? 'read' : n === 'org-write' ? 'write' : n === 'org-admin' ? 'admin' : null };
  type CreateRow = [caller: 'anonymous' | 'invalid' | 'user', token: Tok, namespace: Ns, expected: Decision];
  const CREATE_ROWS: CreateRow[] = [
    ['user', 'write', 'self', allow('admin')],
    ['user', 'write', 'org-admin', allow('admin')],
    ['user', 'write', 'org-write', allow('write')],
    ['user', 'write', 'org-read', forbidden('write')],
    ['user', 'write', 'org-stranger', forbidden('write')],
    ['user', 'write', 'other-user', forbidden('write')],
    ['user', 'write', 'missing', NOT_FOUND],
    ['user', 'read', 'self', readOnly('write')],
    ['user', 'read', 'org-admin', readOnly('write')],
    ['user', 'read', 'org-write', readOnly('write')],
    ['user', 'read', 'org-read', forbidden('write')],
    ['anonymous', null, 'self', needsAuth(false)],
    ['anonymous', null, 'org-admin', needsAuth(false)],
    ['anonymous', null, 'missing', needsAuth(true)],
    ['invalid', null, 'self', INVALID],
    ['invalid', null, 'missing', INVALID],
  ];
  it.each(CREATE_ROWS)('%s with a %s token in namespace %s', (caller, token, namespace, expected) => {
    expect(decideCreate({ caller, tokenRole: token, namespace: ns(namespace) })).toStrictEqual(expected);
  });
});

describe('decideOrg(): seeing and managing an organization', () => {
  type Member = 'read' | 'write' | 'admin' | 'non-member' | 'missing-org';
  type OrgRow = [caller: 'anonymous' | 'invalid' | 'user', token: Tok, member: Member, action: OrgAction, expected: Decision];
  const orgOf = (m: Member) => (m === 'missing-org' ? null : { role: m === 'non-member' ? null : m });
  const ORG_ROWS: OrgRow[] = [
    // Members see the members; only admins manage them.
    ['user', 'write', 'read', 'view', allow('read')],
    ['user', 'write', 'write', 'view', allow('write')],
    ['user', 'write', 'admin', 'view', allow('admin')],
    ['user', 'write', 'read', 'admin', forbidden('admin')],
    ['user', 'write', 'write', 'admin', forbidden('admin')],
    ['user', 'write', 'admin', 'admin', allow('admin')],
    // A read token reads, and manages nothing.
    ['user', 'read', 'admin', 'view', allow('read')],
    ['user', 'read', 'write', 'view', allow('read')],
    ['user', 'read', 'read', 'view', allow('read')],
    ['user', 'read', 'admin', 'admin', readOnly('admin')],
    ['user', 'read', 'write', 'admin', forbidden('admin')],
    // Non-members cannot tell an organization from a missing one.
    ['user', 'write', 'non-member', 'view', NOT_FOUND],
    ['user', 'write', 'non-member', 'admin', NOT_FOUND],
    ['user', 'write', 'missing-org', 'view', NOT_FOUND],
    ['user', 'read', 'missing-org', 'admin', NOT_FOUND],
    ['anonymous', null, 'non-member', 'view', needsAuth(true)],
    ['anonymous', null, 'missing-org', 'view', needsAuth(true)],
    ['anonymous', null, 'missing-org', 'admin', needsAuth(true)],
    ['invalid', null, 'admin', 'view', INVALID],
    ['invalid', null, 'missing-org', 'admin', INVALID],
  ];
  it.each(ORG_ROWS)('%s with a %s token, %s, %s', (caller, token, member, action, expected) => {
    expect(decideOrg({ caller, tokenRole: token, org: orgOf(member) }, action)).toStrictEqual(expected);
  });

  it('mayOrg answers as decideOrg does', () => {
    expect(mayOrg({ caller: 'user', tokenRole: 'write', org: { role: 'admin' } })).toStrictEqual({ view: true, admin: true });
    expect(mayOrg({ caller: 'user', tokenRole: 'read', org: { role: 'admin' } })).toStrictEqual({ view: true, admin: false });
    expect(mayOrg({ caller: 'user', tokenRole: 'write', org: { role: null } })).toStrictEqual({ view: false, admin: false });
  });
});

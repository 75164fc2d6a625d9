import { type RepoRef, repoIdOf } from '../domain/names.js';
import type { AccessRequest } from '../domain/types.js';

// The words of the notification emails (plain text), in the Hub's terms.

/** A message without its recipient. */
export interface Message {
  subject: string;
  text: string;
}

/** The address of a repo's page and of its settings page, where authors review requests. */
export function repoLinks(baseUrl: string, repo: RepoRef): { page: string; settings: string } {
  const page = `${baseUrl}/${repoIdOf(repo)}`;
  return { page, settings: `${page}/settings` };
}

function who(user: AccessRequest['user']): string {
  return user.fullname ? `${user.name} (${user.fullname})` : user.name;
}

function answers(fields: AccessRequest['fields']): string[] {
  const entries = Object.entries(fields);
  if (entries.length === 0) return [];
  return ['Their answers:', ...entries.map(([k, v]) => `  ${k}: ${v === true ? 'yes' : v === false ? 'no' : v}`), ''];
}

/** To the authors: one new pending request. */
export function requestCreatedMessage(baseUrl: string, repo: RepoRef, request: AccessRequest): Message {
  const id = repoIdOf(repo);
  const links = repoLinks(baseUrl, repo);
  return {
    subject: `New access request to ${id}`,
    text: [
      `${who(request.user)} asked for access to the gated ${repo.type} ${id}.`,
      '',
      ...answers(request.fields),
      `Review access requests (accept or reject): ${links.settings}`,
      `Repo: ${links.page}`,
      '',
    ].join('\n'),
  };
}

/** To the authors: the daily digest of the requests that arrived since the last one. */
export function digestMessage(baseUrl: string, repo: RepoRef, requests: AccessRequest[]): Message {
  const id = repoIdOf(repo);
  const links = repoLinks(baseUrl, repo);
  const n = requests.length;
  return {
    subject: `${n} new access request${n === 1 ? '' : 's'} to ${id}`,
    text: [
      `${n} user${n === 1 ? '' : 's'} asked for access to the gated ${repo.type} ${id} since the last digest:`,
      '',
      ...requests.map((r) => `  - ${who(r.user)}, ${r.createdAt}`),
      '',
      `Review access requests (accept or reject): ${links.settings}`,
      `Repo: ${links.page}`,
      '',
    ].join('\n'),
  };
}

/** To the requester: the authors accepted (or granted access) or rejected. */
export function requestDecidedMessage(baseUrl: string, repo: RepoRef, request: AccessRequest): Message | null {
  const id = repoIdOf(repo);
  const { page } = repoLinks(baseUrl, repo);
  if (request.status === 'accepted') {
    return {
      subject: `You now have access to ${id}`,
      text: [`Your request to access ${id} has been accepted: you now have access to ${id}.`, '', `Repo: ${page}`, ''].join('\n'),
    };
  }
  if (request.status === 'rejected') {
    return {
      subject: `Your request to access ${id} has been rejected`,
      text: [
        `Your request to access this repo has been rejected by the repo's authors.`,
        ...(request.rejectionReason ? ['', `Reason: ${request.rejectionReason}`] : []),
        '',
        `Repo: ${page}`,
        '',
      ].join('\n'),
    };
  }
  return null;
}

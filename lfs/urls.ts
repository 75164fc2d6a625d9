import type { Signer } from './signing.js';
import type { HubUrls } from './store/types.js';

export function createHubUrls(signer: Signer): HubUrls {
  return {
    signed(where, path, claims, ttl) {
      const token = signer.sign({ ...claims, r: where.repoId }, ttl);
      return `${where.baseUrl}/${where.repoId}.git/info/lfs/${path}?token=${token}`;
    },
    signedEach(where, paths, claims, ttl) {
      const token = signer.sign({ ...claims, r: where.repoId }, ttl);
      return paths.map((path) => `${where.baseUrl}/${where.repoId}.git/info/lfs/${path}?token=${token}`);
    },
  };
}

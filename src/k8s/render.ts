/** Kubernetes objects → one YAML stream (`---` between documents), after a comment that says how to use it. */
import { stringify } from 'yaml';
import type { K8sObject } from './manifests.js';

export function renderManifests(objects: K8sObject[], header: string[]): string {
  const comment = header.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n');
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }));
  return `${comment}\n${docs.map((d) => `---\n${d}`).join('')}`;
}

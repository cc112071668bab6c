/**
 * One set of security settings in force — the broker's, or one listener's with per_listener_settings — with the
 * password and ACL files it names, loaded; and a client's identity under it. A reload reads the files again and
 * keeps the previous contents of any file that cannot be read or has problems.
 */
import { readFileSync } from 'node:fs';
import type { SecuritySettings } from '../options.js';
import { parseAclFile } from './acl-file.js';
import { AclSet, type AclView } from './acl.js';
import { parsePasswordFile, type PasswordEntry } from './password-file.js';
import { readErrorText, type FileProblem } from './problems.js';
import type { PasswordVerifier } from './verifier.js';

export interface LoadResult {
  problems: FileProblem[];
  /** Lines worth logging that are not problems (Mosquitto's warnings). */
  warnings: FileProblem[];
}

export class SecurityDomain {
  settings: SecuritySettings;
  /** Users of the password file; null when there is none. */
  passwords: Map<string, PasswordEntry> | null = null;
  acl: AclSet | null = null;
  /** Changes whenever the ACL in force changes: identities re-make their views. */
  epoch = 0;

  constructor(
    settings: SecuritySettings,
    readonly verifier: PasswordVerifier,
  ) {
    this.settings = settings;
  }

  /**
   * Read the password and ACL files the settings name. On a problem the part concerned keeps what it had (nothing,
   * at start-up) and the problem is returned: the caller decides whether the broker may start.
   */
  load(settings: SecuritySettings): LoadResult {
    const problems: FileProblem[] = [];
    const warnings: FileProblem[] = [];
    this.settings = settings;
    if (settings.passwordFile === undefined) {
      this.passwords = null;
    } else {
      const text = readText(settings.passwordFile, problems);
      if (text !== undefined) {
        const parsed = parsePasswordFile(text, settings.passwordFile);
        if (parsed.problems.length === 0) this.passwords = parsed.users;
        problems.push(...parsed.problems);
      }
    }
    const hadAcl = this.acl;
    if (settings.aclFile === undefined) {
      this.acl = null;
    } else {
      const text = readText(settings.aclFile, problems);
      if (text !== undefined) {
        const parsed = parseAclFile(text, settings.aclFile);
        if (parsed.problems.length === 0) this.acl = new AclSet(parsed.acl);
        problems.push(...parsed.problems);
        warnings.push(...parsed.warnings);
      }
    }
    if (this.acl !== hadAcl) this.epoch++;
    return { problems, warnings };
  }

  identity(clientId: string, username: string | undefined): ClientIdentity {
    return new ClientIdentity(this, clientId, username);
  }
}

function readText(file: string, problems: FileProblem[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ file, line: 0, message: `cannot read it: ${readErrorText(err)}` });
    return undefined;
  }
}

/** A client as ACLs see it: its client id and user name under the settings of the listener it came through. */
export class ClientIdentity {
  private view: AclView | null = null;
  private viewEpoch = -1;

  constructor(
    readonly domain: SecurityDomain,
    readonly clientId: string,
    readonly username: string | undefined,
  ) {}

  /** Its ACL under the rules in force; null when no ACL file applies (everything is allowed). */
  get acl(): AclView | null {
    const domain = this.domain;
    if (this.viewEpoch !== domain.epoch) {
      if (this.view !== null) this.view.clearCache();
      this.view = domain.acl === null ? null : domain.acl.view(this.clientId, this.username);
      this.viewEpoch = domain.epoch;
    }
    return this.view;
  }
}

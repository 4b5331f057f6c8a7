/**
 * CREATE ROLE / USER, ALTER ROLE, DROP ROLE: roles stored in the catalog
 * (kind 'role'), as PostgreSQL's pg_authid. Passwords are stored only as
 * SCRAM-SHA-256 verifiers (PostgreSQL's default password_encryption); a
 * password given already encrypted ('SCRAM-SHA-256$...' or 'md5...') is
 * stored as is. The built-in superuser `postgres` (oid 10) exists without a
 * catalog row until ALTER ROLE stores one.
 *
 * Roles are cluster-wide (not per database). SUPERUSER and LOGIN are
 * stored, LOGIN is checked at login and privileges (GRANT/REVOKE) are
 * enforced by exec/privileges.ts, which superusers bypass; other
 * attributes (CREATEDB, CREATEROLE, REPLICATION, ...) raise 0A000 rather
 * than being stored and ignored.
 */

import type { Node } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import { scramVerifier } from '../../wire/password-auth.ts';
import { CatalogStore, SUPERUSER_OID, type CatalogSnapshot, type RoleDef } from '../catalog/catalog.ts';
import type { Txn } from '../../txn/api.ts';

export const BOOTSTRAP_ROLE = 'postgres';

/** The built-in superuser as it is before any ALTER ROLE. */
export function bootstrapRole(): RoleDef {
  return { oid: SUPERUSER_OID, name: BOOTSTRAP_ROLE, login: true, superuser: true, password: null };
}

/** All roles: the stored ones, plus the built-in superuser unless stored. */
export function allRoles(catalog: CatalogSnapshot): RoleDef[] {
  const out = [...catalog.roles.values()];
  if (!catalog.roles.has(SUPERUSER_OID)) out.unshift(bootstrapRole());
  return out;
}

export function findRole(catalog: CatalogSnapshot, name: string): RoleDef | undefined {
  return allRoles(catalog).find((r) => r.name === name);
}

function verifier(password: string): string {
  if (/^SCRAM-SHA-256\$\d+:[^$]+\$[^:]+:.+$/.test(password) || /^md5[0-9a-f]{32}$/.test(password)) return password;
  return scramVerifier(password);
}

interface RoleChanges {
  login?: boolean;
  superuser?: boolean;
  password?: string | null;
}

function boolArg(arg: Node | undefined): boolean {
  if (arg === undefined) return true;
  if ('Boolean' in arg) return arg.Boolean.boolval === true;
  if ('Integer' in arg) return (arg.Integer.ival ?? 0) !== 0;
  return true;
}

function roleOptions(options: readonly Node[] | undefined): RoleChanges {
  const c: RoleChanges = {};
  for (const o of options ?? []) {
    if (!('DefElem' in o)) continue;
    const name = o.DefElem.defname ?? '';
    const arg = o.DefElem.arg;
    switch (name) {
      case 'password':
        c.password = arg === undefined || !('String' in arg) ? null : verifier(arg.String.sval ?? '');
        break;
      case 'canlogin':
        c.login = boolArg(arg);
        break;
      case 'superuser':
        c.superuser = boolArg(arg);
        break;
      case 'inherit':
        // Every role inherits (there are no memberships yet); NOINHERIT would change nothing observable.
        if (!boolArg(arg)) throw notSupported('NOINHERIT');
        break;
      default:
        throw notSupported(`role option ${name.toUpperCase()}`);
    }
  }
  return c;
}

/** CREATE ROLE / CREATE USER (USER implies LOGIN). */
export async function createRole(
  txn: Txn,
  catalog: CatalogSnapshot,
  stmt: Extract<Node, { CreateRoleStmt: unknown }>['CreateRoleStmt'],
): Promise<string> {
  const name = stmt.role ?? '';
  if (findRole(catalog, name) !== undefined) throw new NextDbError('42710', `role "${name}" already exists`);
  if (name.startsWith('pg_'))
    throw new NextDbError('42939', `role name "${name}" is reserved`, {
      detail: 'Role names starting with "pg_" are reserved.',
    });
  const c = roleOptions(stmt.options);
  const isUser = stmt.stmt_type === 'ROLESTMT_USER';
  const oid = await CatalogStore.allocOid(txn);
  const role: RoleDef = {
    oid,
    name,
    login: c.login ?? isUser,
    superuser: c.superuser ?? false,
    password: c.password ?? null,
  };
  await CatalogStore.put(txn, 'role', oid, role);
  return isUser ? 'CREATE USER' : 'CREATE ROLE';
}

/** ALTER ROLE name [WITH] options (PASSWORD, LOGIN/NOLOGIN, SUPERUSER/NOSUPERUSER). */
export async function alterRole(
  txn: Txn,
  catalog: CatalogSnapshot,
  stmt: Extract<Node, { AlterRoleStmt: unknown }>['AlterRoleStmt'],
  currentUser: string,
): Promise<string> {
  const spec = stmt.role;
  const name =
    spec?.roletype === 'ROLESPEC_CSTRING' || spec?.roletype === undefined ? (spec?.rolename ?? '') : currentUser;
  const existing = findRole(catalog, name);
  if (existing === undefined) throw new NextDbError('42704', `role "${name}" does not exist`);
  const c = roleOptions(stmt.options);
  if (existing.oid === SUPERUSER_OID && (c.superuser === false || c.login === false)) {
    throw new NextDbError('0LP01', `permission denied to alter role`, {
      detail: `The bootstrap superuser "${existing.name}" must keep SUPERUSER and LOGIN.`,
    });
  }
  const role: RoleDef = {
    ...existing,
    ...(c.login === undefined ? {} : { login: c.login }),
    ...(c.superuser === undefined ? {} : { superuser: c.superuser }),
    ...(c.password === undefined ? {} : { password: c.password }),
  };
  await CatalogStore.put(txn, 'role', role.oid, role);
  return 'ALTER ROLE';
}

/** DROP ROLE [IF EXISTS] names. */
export async function dropRole(
  txn: Txn,
  catalog: CatalogSnapshot,
  stmt: Extract<Node, { DropRoleStmt: unknown }>['DropRoleStmt'],
  currentUser: string,
  notices: { severity: 'NOTICE'; code: string; message: string }[],
): Promise<string> {
  for (const n of stmt.roles ?? []) {
    const name = 'RoleSpec' in n ? (n.RoleSpec.rolename ?? '') : '';
    const r = findRole(catalog, name);
    if (r === undefined) {
      if (stmt.missing_ok === true) {
        notices.push({ severity: 'NOTICE', code: '00000', message: `role "${name}" does not exist, skipping` });
        continue;
      }
      throw new NextDbError('42704', `role "${name}" does not exist`);
    }
    if (r.oid === SUPERUSER_OID)
      throw new NextDbError('55006', `cannot drop role ${name} because it is required by the database system`);
    if (r.name === currentUser) throw new NextDbError('55006', 'current user cannot be dropped');
    await CatalogStore.remove(txn, 'role', r.oid);
  }
  return 'DROP ROLE';
}

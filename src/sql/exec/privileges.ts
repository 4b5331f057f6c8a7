/**
 * Privileges: GRANT / REVOKE on tables (and views and the pg_catalog
 * relations), sequences, schemas and functions, their enforcement (42501),
 * and the answers of has_*_privilege and pg_class.relacl.
 *
 * An object's ACL is stored under its OID (catalog kind 'acl') with its
 * owner; an object without one is owned by the built-in superuser and has
 * PostgreSQL 15's default privileges: the owner has all; PUBLIC has USAGE
 * on schemas public, pg_catalog and information_schema (not CREATE on public),
 * SELECT on the catalog relations and EXECUTE on functions, nothing else.
 * Superusers pass every check. Privileges are checked when a statement is
 * bound (the plan cache is invalidated by GRANT/REVOKE, which change the
 * catalog version) for the session's user.
 */

import type { GrantStmt, Node } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import { CatalogStore, FIRST_NORMAL_OID, type AclDef, type AclItem, type CatalogSnapshot } from '../catalog/catalog.ts';
import { BOOTSTRAP_ROLE, allRoles, findRole } from './roles.ts';
import type { DdlContext } from './ddl.ts';
import { virtualOid } from '../catalog/pg-catalog.ts';
import { resolveTypeName } from '../plan/type-names.ts';

/** r relation (table, view, catalog relation), S sequence, n schema, f function. */
export type AclKind = AclDef['kind'];

/** Every privilege letter an object kind has (PostgreSQL's aclitem letters). */
const ALL: Readonly<Record<AclKind, string>> = { r: 'arwdDxt', S: 'rwU', n: 'UC', f: 'X' };

const LETTERS: Readonly<Record<string, string>> = {
  select: 'r',
  insert: 'a',
  update: 'w',
  delete: 'd',
  truncate: 'D',
  references: 'x',
  trigger: 't',
  usage: 'U',
  create: 'C',
  execute: 'X',
};

function str(n: Node | undefined): string {
  if (n !== undefined && 'String' in n) return n.String.sval ?? '';
  return '';
}

/** The built-in superuser's current name (ALTER ROLE may rename it... it keeps oid 10). */
function bootstrapName(catalog: CatalogSnapshot): string {
  return catalog.roles.get(10)?.name ?? BOOTSTRAP_ROLE;
}

export function isSuperuser(catalog: CatalogSnapshot, user: string): boolean {
  return findRole(catalog, user)?.superuser === true;
}

/** PUBLIC's default privileges on an object without a stored ACL. */
function publicDefault(catalog: CatalogSnapshot, oid: number, kind: AclKind): string {
  if (kind === 'f') return 'X';
  if (kind === 'n') {
    const name = catalog.schemas.get(oid)?.name;
    // PostgreSQL 15: PUBLIC has USAGE (no longer CREATE) on schema public.
    return name === 'public' || name === 'pg_catalog' || name === 'information_schema' ? 'U' : '';
  }
  if (kind === 'r' && oid < FIRST_NORMAL_OID) return 'r';
  return '';
}

export function ownerOf(catalog: CatalogSnapshot, oid: number): string {
  return catalog.acls.get(oid)?.owner ?? bootstrapName(catalog);
}

/** The ACL in force: the stored items, or the defaults (owner: all; PUBLIC: see the header). */
export function aclItems(catalog: CatalogSnapshot, oid: number, kind: AclKind): readonly AclItem[] {
  const stored = catalog.acls.get(oid);
  if (stored?.items !== undefined) return stored.items;
  const owner = ownerOf(catalog, oid);
  const items: AclItem[] = [{ grantee: owner, privs: ALL[kind], grantable: '', grantor: owner }];
  const pub = publicDefault(catalog, oid, kind);
  if (pub !== '') items.push({ grantee: '', privs: pub, grantable: '', grantor: owner });
  return items;
}

/** Whether `user` holds privilege `letter` on the object (superuser and owner always do). */
export function hasPrivilege(
  catalog: CatalogSnapshot,
  user: string,
  oid: number,
  kind: AclKind,
  letter: string,
  withGrant = false,
): boolean {
  if (isSuperuser(catalog, user) || ownerOf(catalog, oid) === user) return true;
  return aclItems(catalog, oid, kind).some(
    (i) => (i.grantee === user || i.grantee === '') && (withGrant ? i.grantable : i.privs).includes(letter),
  );
}

const KIND_WORD: Readonly<Record<AclKind, string>> = { r: 'table', S: 'sequence', n: 'schema', f: 'function' };

/** Throws 42501 unless `user` holds one of `letters` on the object. */
export function requirePrivilege(
  catalog: CatalogSnapshot,
  user: string,
  oid: number,
  kind: AclKind,
  letters: string,
  name: string,
  word: string = KIND_WORD[kind],
): void {
  for (const l of letters) if (hasPrivilege(catalog, user, oid, kind, l)) return;
  throw new NextDbError('42501', `permission denied for ${word} ${name}`);
}

/** USAGE on the schema that holds an object, then `letters` on a relation. */
export function requireRelation(
  catalog: CatalogSnapshot,
  user: string,
  dbOid: number,
  t: { readonly oid: number; readonly name: string; readonly schema: string; readonly kind?: string },
  letters: string,
): void {
  if (isSuperuser(catalog, user)) return;
  requireSchemaUsage(catalog, user, dbOid, t.schema);
  requirePrivilege(catalog, user, t.oid, 'r', letters, t.name, t.kind === 'v' ? 'view' : 'table');
}

export function requireSchemaUsage(catalog: CatalogSnapshot, user: string, dbOid: number, schema: string): void {
  const s = catalog.schema(dbOid, schema);
  if (s !== undefined) requirePrivilege(catalog, user, s.oid, 'n', 'U', schema);
}

/** Ownership for ALTER / DROP / CREATE INDEX / CREATE TRIGGER: 42501 "must be owner". */
export function requireOwner(catalog: CatalogSnapshot, user: string, oid: number, what: string): void {
  if (isSuperuser(catalog, user) || ownerOf(catalog, oid) === user) return;
  throw new NextDbError('42501', `must be owner of ${what}`);
}

/** Records the creator as owner of a new object (objects without a record belong to the built-in superuser). */
export async function recordOwner(ctx: DdlContext, oid: number, kind: AclKind): Promise<void> {
  if (ctx.user === undefined || ctx.user === bootstrapName(ctx.catalog)) return;
  await CatalogStore.put(ctx.txn, 'acl', oid, { oid, kind, owner: ctx.user } satisfies AclDef);
}

/** pg_class.relacl / nspacl / proacl text: NULL while the defaults are in force. */
export function aclText(catalog: CatalogSnapshot, oid: number, kind: AclKind): string[] | null {
  const stored = catalog.acls.get(oid);
  if (stored?.items === undefined) return null;
  void kind;
  return stored.items.map((i) => {
    let privs = '';
    for (const l of i.privs) privs += i.grantable.includes(l) ? `${l}*` : l;
    return `${i.grantee}=${privs}/${i.grantor}`;
  });
}

interface Target {
  readonly oid: number;
  readonly kind: AclKind;
  readonly name: string;
}

function targets(ctx: DdlContext, s: GrantStmt): Target[] {
  const objtype = s.objtype ?? 'OBJECT_TABLE';
  const out: Target[] = [];
  if (s.targtype === 'ACL_TARGET_ALL_IN_SCHEMA') {
    for (const o of s.objects ?? []) {
      const schema = str(o);
      if (ctx.catalog.schema(ctx.dbOid, schema) === undefined)
        throw new NextDbError('3F000', `schema "${schema}" does not exist`);
      if (objtype === 'OBJECT_TABLE')
        for (const t of ctx.catalog.tablesOf(ctx.dbOid))
          if (t.schema === schema) out.push({ oid: t.oid, kind: 'r', name: t.name });
      if (objtype === 'OBJECT_SEQUENCE')
        for (const q of ctx.catalog.sequences.values())
          if (q.dbOid === ctx.dbOid && q.schema === schema) out.push({ oid: q.oid, kind: 'S', name: q.name });
      if (objtype === 'OBJECT_FUNCTION')
        for (const f of ctx.catalog.functions.values())
          if (f.dbOid === ctx.dbOid && f.schema === schema) out.push({ oid: f.oid, kind: 'f', name: f.name });
    }
    return out;
  }
  if (s.targtype !== undefined && s.targtype !== 'ACL_TARGET_OBJECT') throw notSupported(`GRANT ${s.targtype}`);
  for (const o of s.objects ?? []) {
    switch (objtype) {
      case 'OBJECT_TABLE':
      case 'OBJECT_SEQUENCE': {
        if (!('RangeVar' in o)) throw notSupported('this GRANT target');
        const rv = o.RangeVar;
        const name = rv.relname ?? '';
        const schemas = rv.schemaname !== undefined ? [rv.schemaname] : ctx.searchPath;
        let found: Target | undefined;
        for (const sc of schemas) {
          const t = ctx.catalog.table(ctx.dbOid, sc, name);
          if (t !== undefined) found = { oid: t.oid, kind: 'r', name };
          const q = ctx.catalog.sequence(ctx.dbOid, sc, name);
          if (q !== undefined) found = { oid: q.oid, kind: 'S', name };
          if (found !== undefined) break;
        }
        if (found === undefined && (rv.schemaname === undefined || rv.schemaname === 'pg_catalog')) {
          const v = virtualOid(rv.schemaname, name);
          if (v !== undefined) found = { oid: v, kind: 'r', name };
        }
        if (found === undefined) throw new NextDbError('42P01', `relation "${name}" does not exist`);
        if (objtype === 'OBJECT_SEQUENCE' && found.kind !== 'S')
          throw new NextDbError('42809', `"${name}" is not a sequence`);
        out.push(found);
        break;
      }
      case 'OBJECT_SCHEMA': {
        const name = str(o);
        const sc = ctx.catalog.schema(ctx.dbOid, name);
        if (sc === undefined) throw new NextDbError('3F000', `schema "${name}" does not exist`);
        out.push({ oid: sc.oid, kind: 'n', name });
        break;
      }
      case 'OBJECT_FUNCTION': {
        if (!('ObjectWithArgs' in o)) throw notSupported('this GRANT target');
        const ow = o.ObjectWithArgs;
        const names = (ow.objname ?? []).map(str);
        const name = names[names.length - 1] ?? '';
        const types =
          ow.args_unspecified === true
            ? undefined
            : (ow.objargs ?? []).map((a) => ('TypeName' in a ? resolveTypeName(a.TypeName).type : undefined));
        const schemas = names.length > 1 ? [names[0]!] : ctx.searchPath;
        const f = schemas
          .flatMap((sc) => ctx.catalog.functionsNamed(ctx.dbOid, sc, name))
          .find(
            (x) =>
              types === undefined ||
              (x.argTypes.length === types.length && x.argTypes.every((t, i) => t.oid === types[i]?.oid)),
          );
        if (f === undefined) throw new NextDbError('42883', `function ${name} does not exist`);
        out.push({ oid: f.oid, kind: 'f', name });
        break;
      }
      default:
        throw notSupported(`GRANT/REVOKE on ${objtype.replace('OBJECT_', '').toLowerCase()}`);
    }
  }
  return out;
}

/** GRANT / REVOKE privileges ON objects TO/FROM roles | PUBLIC [WITH GRANT OPTION]. */
export async function grantRevoke(ctx: DdlContext, s: GrantStmt): Promise<string> {
  const grant = s.is_grant === true;
  const tag = grant ? 'GRANT' : 'REVOKE';
  const user = ctx.user ?? bootstrapName(ctx.catalog);
  const grantees = (s.grantees ?? []).map((g) => {
    if (!('RoleSpec' in g)) throw notSupported('this grantee');
    const r = g.RoleSpec;
    if (r.roletype === 'ROLESPEC_PUBLIC') return '';
    const name =
      r.roletype === 'ROLESPEC_CURRENT_USER' || r.roletype === 'ROLESPEC_SESSION_USER' ? user : (r.rolename ?? '');
    if (findRole(ctx.catalog, name) === undefined) throw new NextDbError('42704', `role "${name}" does not exist`);
    return name;
  });
  for (const t of targets(ctx, s)) {
    const all = ALL[t.kind];
    let letters = '';
    if (s.privileges === undefined || s.privileges.length === 0) letters = all;
    else
      for (const p of s.privileges) {
        if (!('AccessPriv' in p)) throw notSupported('this privilege');
        if ((p.AccessPriv.cols ?? []).length > 0) throw notSupported('column privileges');
        const name = p.AccessPriv.priv_name ?? 'all';
        const l = name === 'all' ? all : LETTERS[name];
        if (l === undefined || (name !== 'all' && !all.includes(l)))
          throw new NextDbError('0LP01', `invalid privilege type ${name.toUpperCase()} for ${KIND_WORD[t.kind]}`);
        letters += l;
      }
    // The grantor: a superuser grants as the owner; others need the owner role or the grant option.
    const owner = ownerOf(ctx.catalog, t.oid);
    const grantor = isSuperuser(ctx.catalog, user) ? owner : user;
    if (grantor !== owner) {
      const held = [...letters].filter((l) => hasPrivilege(ctx.catalog, user, t.oid, t.kind, l, true));
      if (held.length === 0) {
        if (![...all].some((l) => hasPrivilege(ctx.catalog, user, t.oid, t.kind, l)))
          throw new NextDbError('42501', `permission denied for ${KIND_WORD[t.kind]} ${t.name}`);
        // PostgreSQL warns and grants nothing when the grantor holds no grant option.
        ctx.notices.push({
          severity: 'WARNING',
          code: grant ? '01007' : '01006',
          message: `no privileges were ${grant ? 'granted' : 'revoked'} for "${t.name}"`,
        });
        continue;
      }
      letters = held.join('');
    }
    const items = aclItems(ctx.catalog, t.oid, t.kind).map((i) => ({ ...i }));
    for (const g of grantees) {
      const i = items.findIndex((x) => x.grantee === g && x.grantor === grantor);
      const cur = i >= 0 ? items[i]! : { grantee: g, privs: '', grantable: '', grantor };
      let privs = cur.privs;
      let grantable = cur.grantable;
      for (const l of letters) {
        if (grant) {
          if (!privs.includes(l)) privs += l;
          if (s.grant_option === true && !grantable.includes(l)) grantable += l;
        } else {
          grantable = grantable.replace(l, '');
          if (s.grant_option !== true) privs = privs.replace(l, '');
        }
      }
      const order = (x: string): string => [...all].filter((l) => x.includes(l)).join('');
      const next = { grantee: g, privs: order(privs), grantable: order(grantable), grantor };
      if (i >= 0) items[i] = next;
      else items.push(next);
    }
    const kept = items.filter((i) => i.privs !== '');
    await CatalogStore.put(ctx.txn, 'acl', t.oid, { oid: t.oid, kind: t.kind, owner, items: kept } satisfies AclDef);
  }
  return tag;
}

/**
 * has_table_privilege / has_schema_privilege / has_sequence_privilege /
 * has_function_privilege / has_database_privilege: whether `user` holds any
 * of the comma-separated privileges (`WITH GRANT OPTION` allowed) on the
 * object named by text or OID. Unknown objects are 42P01 / 3F000 / 42883.
 */
export function privilegeAnswer(
  catalog: CatalogSnapshot,
  dbOid: number,
  searchPath: readonly string[],
  role: string | number,
  kind: 'table' | 'schema' | 'sequence' | 'function' | 'database',
  object: string | number,
  privs: string,
): boolean {
  const user = typeof role === 'number' ? allRoles(catalog).find((r) => r.oid === role)?.name : role;
  if (user === undefined || findRole(catalog, user) === undefined)
    throw new NextDbError('42704', `role "${String(role)}" does not exist`);
  const wanted = privs
    .toLowerCase()
    .split(',')
    .map((p) => p.trim())
    .map((p) => {
      const grantOpt = p.endsWith(' with grant option');
      const name = grantOpt ? p.slice(0, -' with grant option'.length).trim() : p;
      return { name, grantOpt };
    });
  if (kind === 'database') {
    for (const w of wanted)
      if (!['create', 'connect', 'temporary', 'temp'].includes(w.name))
        throw new NextDbError('22023', `unrecognized privilege type: "${w.name}"`);
    return true;
  }
  let oid: number | undefined;
  let aclKind: AclKind;
  if (kind === 'schema') {
    aclKind = 'n';
    oid = typeof object === 'number' ? object : catalog.schema(dbOid, object)?.oid;
    if (oid === undefined) throw new NextDbError('3F000', `schema "${String(object)}" does not exist`);
  } else if (kind === 'function') {
    aclKind = 'f';
    if (typeof object === 'number') oid = object;
    else {
      const name = object.replace(/\(.*$/s, '').trim();
      const parts = name.split('.');
      const nm = parts[parts.length - 1]!;
      for (const sc of parts.length > 1 ? [parts[0]!] : searchPath) {
        const f = catalog.functionsNamed(dbOid, sc, nm)[0];
        if (f !== undefined) {
          oid = f.oid;
          break;
        }
      }
      if (oid === undefined) throw new NextDbError('42883', `function "${object}" does not exist`);
    }
  } else {
    aclKind = kind === 'sequence' ? 'S' : 'r';
    if (typeof object === 'number') oid = object;
    else {
      const parts = object.split('.').map((p) => p.trim().replace(/^"(.*)"$/, '$1'));
      const nm = parts[parts.length - 1]!;
      for (const sc of parts.length > 1 ? [parts[0]!] : searchPath) {
        oid = catalog.table(dbOid, sc, nm)?.oid ?? catalog.sequence(dbOid, sc, nm)?.oid;
        if (oid !== undefined) break;
      }
      oid ??= virtualOid(parts.length > 1 ? parts[0] : undefined, nm);
      if (oid === undefined) throw new NextDbError('42P01', `relation "${object}" does not exist`);
    }
    if (catalog.sequences.has(oid)) aclKind = 'S';
  }
  return wanted.some((w) => {
    const l = LETTERS[w.name];
    if (l === undefined || !ALL[aclKind].includes(l))
      throw new NextDbError('22023', `unrecognized privilege type: "${w.name}"`);
    return hasPrivilege(catalog, user, oid, aclKind, l, w.grantOpt);
  });
}

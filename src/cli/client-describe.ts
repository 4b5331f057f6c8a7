/**
 * psql's describe meta-commands (\d[+], \dt, \di, \dv, \ds, \d[+] NAME, \l[+],
 * \dn[+], \du, \df, \dT, \dx) for `nextdb client`.
 *
 * They send exactly the catalog queries psql 15 sends (captured in
 * ../shared/corpus/psql-describe-queries.sql; test/cli/client-describe.test.ts
 * checks our text against that file), so the output shows the truth on any
 * server that answers them: NextDB's pg_catalog or a real PostgreSQL. The
 * rendering of the answers (titles, footers such as "Indexes:", role
 * attributes) follows psql 15's.
 *
 * Limits: \d of an index, sequence, composite type or TOAST table, and \d+
 * of anything but a table (psql runs other queries for those: view
 * definitions, FDW options) say they are not supported yet;
 * the partition-of and partition-key footers of \d (extra queries in psql)
 * are not shown. Patterns support psql's * and ? wildcards and "quoted"
 * parts, not regular-expression syntax.
 */

import { rowCountFooter, formatTable, isNumericType, type TableData } from './client-format.ts';

/** A result with every value as text (or null), as the simple query protocol returns it. */
export interface TextResult {
  readonly columns: readonly { readonly name: string; readonly type: number }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

export type RunQuery = (sql: string) => Promise<TextResult>;

/** What a describe command printed: table text for stdout, messages for stderr. */
export interface DescribeOutput {
  readonly out: string;
  readonly err: string;
}

/** psql 15's per-relation queries of \d NAME, by the relation's oid. */
export const TABLE_QUERIES = {
  relationInfo: (oid: string): string =>
    `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '${oid}';`,
  relationInfoVerbose: (oid: string): string =>
    `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')
, c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '${oid}';`,
  columnsVerbose: (oid: string): string =>
    `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated,
  a.attstorage,
  a.attcompression AS attcompression,
  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,
  pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '${oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  columns: (oid: string): string =>
    `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '${oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  indexes: (oid: string): string =>
    `SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '${oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  checkConstraints: (oid: string): string =>
    `SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '${oid}' AND r.contype = 'c'
ORDER BY 1;`,
  foreignKeys: (oid: string): string =>
    `SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '${oid}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname;`,
  referencedBy: (oid: string): string =>
    `SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('${oid}')
                     UNION ALL VALUES ('${oid}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;`,
  policies: (oid: string): string =>
    `SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '${oid}' ORDER BY 1;`,
  statistics: (oid: string): string =>
    `SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '${oid}'
ORDER BY nsp, stxname;`,
  publications: (oid: string): string =>
    `SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='${oid}' and pg_catalog.pg_relation_is_publishable('${oid}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '${oid}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('${oid}')
ORDER BY 1;`,
  triggers: (oid: string): string =>
    `SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,
  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent
FROM pg_catalog.pg_trigger t
WHERE t.tgrelid = '${oid}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))
ORDER BY 1;`,
  inherits: (oid: string): string =>
    `SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '${oid}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  children: (oid: string): string =>
    `SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '${oid}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
} as const;

/**
 * Meta-commands that are one fixed psql 15 query printed as a titled list
 * (no pattern support yet).
 */
export const FIXED_LISTS: Readonly<Record<string, { readonly title: string; readonly sql: string }>> = {
  l: {
    title: 'List of databases',
    sql: `SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;`,
  },
  'l+': {
    title: 'List of databases',
    sql: `SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS "Access privileges",
       CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT')
            THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname))
            ELSE 'No Access'
       END as "Size",
       t.spcname as "Tablespace",
       pg_catalog.shobj_description(d.oid, 'pg_database') as "Description"
FROM pg_catalog.pg_database d
  JOIN pg_catalog.pg_tablespace t on d.dattablespace = t.oid
ORDER BY 1;`,
  },
  dn: {
    title: 'List of schemas',
    sql: `SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
  },
  'dn+': {
    title: 'List of schemas',
    sql: `SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner",
  pg_catalog.array_to_string(n.nspacl, E'\\n') AS "Access privileges",
  pg_catalog.obj_description(n.oid, 'pg_namespace') AS "Description"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
  },
  df: {
    title: 'List of functions',
    sql: `SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;`,
  },
  dT: {
    title: 'List of data types',
    sql: `SELECT n.nspname as "Schema",
  pg_catalog.format_type(t.oid, NULL) AS "Name",
  pg_catalog.obj_description(t.oid, 'pg_type') as "Description"
FROM pg_catalog.pg_type t
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))
  AND NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_type_is_visible(t.oid)
ORDER BY 1, 2;`,
  },
  dx: {
    title: 'List of installed extensions',
    sql: `SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema", c.description AS "Description"
FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass
ORDER BY 1;`,
  },
};

/** psql 15's \du query; formatRoles renders it. */
export const LIST_ROLES_SQL = `SELECT r.rolname, r.rolsuper, r.rolinherit,
  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname
        FROM pg_catalog.pg_auth_members m
        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof
, r.rolreplication
, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1;`;

/** psql's object-type letters of the \d list family and the relkinds each lists. */
const LIST_KINDS = {
  t: ["'r'", "'p'"],
  v: ["'v'"],
  m: ["'m'"],
  i: ["'i'", "'I'"],
  s: ["'S'"],
  E: ["'f'"],
} as const;

type ListLetter = keyof typeof LIST_KINDS;

/** A name pattern turned into psql's anchored regular expressions. */
export interface NamePattern {
  readonly schema: string | undefined;
  readonly name: string | undefined;
  /** A schema part was written ("app.*", "*.*"): psql then drops its visibility rule. */
  readonly qualified: boolean;
}

/**
 * Converts a psql name pattern ("users", "app.*", "\"MixedCase\"") to the
 * regular expressions psql matches names with: unquoted letters fold to
 * lower case, * is any string, ? any character, "quoted" parts are literal,
 * the last unquoted dot separates schema and name. "*" alone gives no
 * constraint (undefined).
 */
export function namePattern(pattern: string): NamePattern {
  const parts: string[] = [''];
  let inQuotes = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const cur = parts.length - 1;
    if (c === '"') {
      if (inQuotes && pattern[i + 1] === '"') {
        parts[cur] += '"';
        i++;
      } else {
        inQuotes = !inQuotes;
      }
    } else if (!inQuotes && c === '.') {
      parts.push('');
    } else if (!inQuotes && c === '*') {
      parts[cur] += '.*';
    } else if (!inQuotes && c === '?') {
      parts[cur] += '.';
    } else if ('|*+?()[]{}.^$\\'.includes(c)) {
      parts[cur] += `\\${c}`;
    } else {
      parts[cur] += inQuotes ? c : c.toLowerCase();
    }
  }
  const anchor = (re: string | undefined): string | undefined =>
    re === undefined || re === '.*' ? undefined : `^(${re})$`;
  const name = parts[parts.length - 1]!;
  const schema = parts.length > 1 ? parts[parts.length - 2]! : undefined;
  return { schema: anchor(schema), name: anchor(name), qualified: parts.length > 1 };
}

/** A SQL string literal (standard_conforming_strings on, as every current server has it). */
function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * psql's WHERE conditions for a pattern: the name regex, then the schema
 * regex, and the visibility rule when no schema was given.
 */
function patternConditions(
  p: NamePattern | undefined,
  nameVar: string,
  schemaVar: string,
  visibility: string,
  first: 'WHERE' | 'AND',
): string {
  const conds: string[] = [];
  if (p?.name !== undefined)
    conds.push(`${nameVar} OPERATOR(pg_catalog.~) ${literal(p.name)} COLLATE pg_catalog.default`);
  if (p?.schema !== undefined)
    conds.push(`${schemaVar} OPERATOR(pg_catalog.~) ${literal(p.schema)} COLLATE pg_catalog.default`);
  if (p?.qualified !== true) conds.push(visibility);
  return conds.map((c, i) => (i === 0 && first === 'WHERE' ? `WHERE ${c}\n` : `  AND ${c}\n`)).join('');
}

/** psql 15's listTables query for \d, \dt, \di, \dv, \ds (and their + forms). */
export function listRelationsSql(letters: readonly ListLetter[], verbose: boolean, pattern?: string): string {
  const showTables = letters.includes('t');
  const showIndexes = letters.includes('i');
  const showMatViews = letters.includes('m');
  const withAm = showTables || showIndexes || showMatViews;
  let sql =
    'SELECT n.nspname as "Schema",\n' +
    '  c.relname as "Name",\n' +
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n" +
    '  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"';
  if (showIndexes) sql += ',\n  c2.relname as "Table"';
  if (verbose) {
    sql +=
      ",\n  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as \"Persistence\"";
    if (withAm) sql += ',\n  am.amname as "Access method"';
    sql +=
      ',\n  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",\n' +
      '  pg_catalog.obj_description(c.oid, \'pg_class\') as "Description"';
  }
  sql += '\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace';
  if (withAm) sql += '\n     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam';
  if (showIndexes)
    sql +=
      '\n     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid\n     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid';
  const kinds = (['t', 'v', 'm', 'i', 's', 'E'] as const)
    .filter((l) => letters.includes(l))
    .flatMap((l) => LIST_KINDS[l]);
  sql += `\nWHERE c.relkind IN (${[...kinds, "''"].join(',')})\n`;
  sql +=
    "      AND n.nspname <> 'pg_catalog'\n      AND n.nspname !~ '^pg_toast'\n      AND n.nspname <> 'information_schema'\n";
  sql += patternConditions(
    pattern === undefined ? undefined : namePattern(pattern),
    'c.relname',
    'n.nspname',
    'pg_catalog.pg_table_is_visible(c.oid)',
    'AND',
  );
  return `${sql}ORDER BY 1,2;`;
}

/** psql 15's first query of \d NAME: the oids of the matching relations. */
export function lookupRelationSql(pattern: string): string {
  return (
    'SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n' +
    patternConditions(
      namePattern(pattern),
      'c.relname',
      'n.nspname',
      'pg_catalog.pg_table_is_visible(c.oid)',
      'WHERE',
    ) +
    'ORDER BY 2, 3;'
  );
}

function table(title: string, r: TextResult, footers: readonly string[]): string {
  const t: TableData = {
    title,
    headers: r.columns.map((c) => c.name),
    rows: r.rows,
    rightAlign: r.columns.map((c) => isNumericType(c.type)),
    footers,
  };
  return formatTable(t);
}

/**
 * Runs one describe meta-command (`name` without the backslash). Returns
 * undefined when `name` is not a describe command.
 */
export async function describe(
  name: string,
  args: readonly string[],
  run: RunQuery,
): Promise<DescribeOutput | undefined> {
  const m = /^d([tivsmE]*)(\+?)$/.exec(name);
  const pattern = args[0];
  if (m !== null) {
    const letters = [...m[1]!] as ListLetter[];
    const verbose = m[2] === '+';
    if (letters.length === 0 && pattern !== undefined) return describeRelations(pattern, verbose, run);
    const shown: readonly ListLetter[] = letters.length === 0 ? ['t', 'v', 'm', 's', 'E'] : letters;
    const r = await run(listRelationsSql(shown, verbose, pattern));
    if (r.rows.length === 0) {
      return {
        out: '',
        err:
          pattern === undefined ? 'Did not find any relations.\n' : `Did not find any relation named "${pattern}".\n`,
      };
    }
    return { out: table('List of relations', r, [rowCountFooter(r.rows.length)]), err: '' };
  }
  const canonical = name === 'list' ? 'l' : name === 'list+' ? 'l+' : name === 'dg' ? 'du' : name;
  const fixed = FIXED_LISTS[canonical];
  if (fixed === undefined && canonical !== 'du') return undefined;
  if (args.length > 0) return { out: '', err: `\\${name} with a pattern is not supported yet by nextdb client.\n` };
  if (fixed === undefined) return { out: formatRoles(await run(LIST_ROLES_SQL)), err: '' };
  const r = await run(fixed.sql);
  return { out: table(fixed.title, r, [rowCountFooter(r.rows.length)]), err: '' };
}

/** \du: psql folds the role flags into one "Attributes" column. */
export function formatRoles(r: TextResult): string {
  const rows = r.rows.map((row) => {
    const flag = (i: number): boolean => row[i] === 't';
    const attrs: string[] = [];
    if (flag(1)) attrs.push('Superuser');
    if (!flag(2)) attrs.push('No inheritance');
    if (flag(3)) attrs.push('Create role');
    if (flag(4)) attrs.push('Create DB');
    if (!flag(5)) attrs.push('Cannot login');
    if (flag(9)) attrs.push('Replication');
    if (flag(10)) attrs.push('Bypass RLS');
    let text = attrs.join(', ');
    const limit = Number(row[6] ?? '-1');
    if (limit >= 0)
      text +=
        (text.length > 0 ? '\n' : '') +
        (limit === 0 ? 'No connections' : limit === 1 ? '1 connection' : `${limit} connections`);
    const until = row[7] ?? '';
    if (until !== '') text += `${text.length > 0 ? '\n' : ''}Password valid until ${until}`;
    return [row[0] ?? '', text, row[8] ?? ''];
  });
  return formatTable({ title: 'List of roles', headers: ['Role name', 'Attributes', 'Member of'], rows });
}

const RELKIND_TITLES: Record<string, string> = {
  r: 'Table',
  p: 'Partitioned table',
  v: 'View',
  m: 'Materialized view',
  f: 'Foreign table',
};

/** \d[+] NAME: every relation matching the pattern, one after the other. */
async function describeRelations(pattern: string, verbose: boolean, run: RunQuery): Promise<DescribeOutput> {
  const found = await run(lookupRelationSql(pattern));
  if (found.rows.length === 0) return { out: '', err: `Did not find any relation named "${pattern}".\n` };
  let out = '';
  let err = '';
  for (const [oid, schema, name] of found.rows) {
    // The oid goes back into SQL text, so it must be a number and nothing else.
    if (oid === null || oid === undefined || !/^\d+$/.test(oid))
      throw new Error(`unexpected relation oid ${String(oid)}`);
    const one = await describeRelation(oid, `${schema ?? ''}.${name ?? ''}`, verbose, run);
    out += one.out;
    err += one.err;
  }
  return { out, err };
}

const STORAGE_NAMES: Record<string, string> = { p: 'plain', m: 'main', x: 'extended', e: 'external' };
const COMPRESSION_NAMES: Record<string, string> = { p: 'pglz', l: 'lz4' };

async function describeRelation(
  oid: string,
  qualified: string,
  verbose: boolean,
  run: RunQuery,
): Promise<DescribeOutput> {
  const info = (await run(verbose ? TABLE_QUERIES.relationInfoVerbose(oid) : TABLE_QUERIES.relationInfo(oid))).rows[0];
  if (info === undefined) return { out: '', err: `Did not find any relation with OID ${oid}.\n` };
  const relkind = info[1] ?? '';
  const kindTitle = RELKIND_TITLES[relkind];
  // psql runs further queries for these (view definitions, FDW options, sequences, index columns) that we do not send yet.
  if (kindTitle === undefined || (verbose && relkind !== 'r' && relkind !== 'p')) {
    return {
      out: '',
      err: `\\d${verbose ? '+' : ''} of relation kind '${relkind}' ("${qualified}") is not supported yet by nextdb client.\n`,
    };
  }
  const unlogged = info[12] === 'u' && (relkind === 'r' || relkind === 'm');
  const title = `${unlogged ? `Unlogged ${kindTitle.toLowerCase()}` : kindTitle} "${qualified}"`;
  const cols = await run(verbose ? TABLE_QUERIES.columnsVerbose(oid) : TABLE_QUERIES.columns(oid));
  const rows = cols.rows.map((c) => {
    const identity =
      c[5] === 'a' ? 'generated always as identity' : c[5] === 'd' ? 'generated by default as identity' : undefined;
    const generated = c[6] === 's' ? `generated always as (${c[2] ?? ''}) stored` : undefined;
    const base = [
      c[0] ?? '',
      c[1] ?? '',
      c[4] ?? '',
      c[3] === 't' ? 'not null' : '',
      identity ?? generated ?? c[2] ?? '',
    ];
    if (!verbose) return base;
    return [...base, STORAGE_NAMES[c[7] ?? ''] ?? '???', COMPRESSION_NAMES[c[8] ?? ''] ?? '', c[9] ?? '', c[10] ?? ''];
  });
  const headers = ['Column', 'Type', 'Collation', 'Nullable', 'Default'];
  if (verbose) headers.push('Storage', 'Compression', 'Stats target', 'Description');
  const footers =
    relkind === 'r' || relkind === 'p' || relkind === 'f' ? await tableFooters(oid, info, verbose, run) : [];
  const out = formatTable({ title, headers, rows, footers });
  return { out, err: '' };
}

/** The footers psql 15 prints under a table, in its order, from the same queries. */
async function tableFooters(
  oid: string,
  info: readonly (string | null)[],
  verbose: boolean,
  run: RunQuery,
): Promise<string[]> {
  const f: string[] = [];
  const relkind = info[1];
  const hasIndex = info[2] === 't';
  const hasTriggers = info[4] === 't';
  const rowSecurity = info[5] === 't';
  const forceRowSecurity = info[6] === 't';
  if (hasIndex) {
    const r = await run(TABLE_QUERIES.indexes(oid));
    if (r.rows.length > 0) f.push('Indexes:');
    for (const x of r.rows) {
      let line = `    "${x[0] ?? ''}"`;
      if (x[7] === 'x') {
        line += ` ${x[6] ?? ''}`;
      } else {
        if (x[1] === 't') line += ' PRIMARY KEY,';
        else if (x[2] === 't') line += x[7] === 'u' ? ' UNIQUE CONSTRAINT,' : ' UNIQUE,';
        const def = x[5] ?? '';
        const using = def.indexOf(' USING ');
        if (using >= 0) line += ` ${def.slice(using + 7)}`;
        if (x[8] === 't') line += ' DEFERRABLE';
        if (x[9] === 't') line += ' INITIALLY DEFERRED';
      }
      if (x[3] === 't') line += ' CLUSTER';
      if (x[4] !== 't') line += ' INVALID';
      if (x[10] === 't') line += ' REPLICA IDENTITY';
      f.push(line);
    }
  }
  if (Number(info[0] ?? '0') > 0) {
    const r = await run(TABLE_QUERIES.checkConstraints(oid));
    if (r.rows.length > 0) f.push('Check constraints:', ...r.rows.map((x) => `    "${x[0] ?? ''}" ${x[1] ?? ''}`));
  }
  if (hasTriggers || relkind === 'p') {
    const fk = await run(TABLE_QUERIES.foreignKeys(oid));
    if (fk.rows.length > 0) {
      f.push('Foreign-key constraints:');
      for (const x of fk.rows)
        f.push(
          x[0] === 't'
            ? `    "${x[1] ?? ''}" ${x[2] ?? ''}`
            : `    TABLE "${x[3] ?? ''}" CONSTRAINT "${x[1] ?? ''}" ${x[2] ?? ''}`,
        );
    }
    const ref = await run(TABLE_QUERIES.referencedBy(oid));
    if (ref.rows.length > 0)
      f.push(
        'Referenced by:',
        ...ref.rows.map((x) => `    TABLE "${x[1] ?? ''}" CONSTRAINT "${x[0] ?? ''}" ${x[2] ?? ''}`),
      );
  }
  const pol = await run(TABLE_QUERIES.policies(oid));
  const n = pol.rows.length;
  if (rowSecurity && !forceRowSecurity && n > 0) f.push('Policies:');
  if (rowSecurity && forceRowSecurity && n > 0) f.push('Policies (forced row security enabled):');
  if (rowSecurity && !forceRowSecurity && n === 0) f.push('Policies (row security enabled): (none)');
  if (rowSecurity && forceRowSecurity && n === 0) f.push('Policies (forced row security enabled): (none)');
  if (!rowSecurity && n > 0) f.push('Policies (row security disabled):');
  for (const x of pol.rows) {
    let line = `    POLICY "${x[0] ?? ''}"`;
    if (x[1] === 'f') line += ' AS RESTRICTIVE';
    if (x[5] !== null && x[5] !== undefined) line += ` FOR ${x[5]}`;
    if (x[2] !== null && x[2] !== undefined) line += `\n      TO ${x[2]}`;
    if (x[3] !== null && x[3] !== undefined) line += `\n      USING (${x[3]})`;
    if (x[4] !== null && x[4] !== undefined) line += `\n      WITH CHECK (${x[4]})`;
    f.push(line);
  }
  const stats = await run(TABLE_QUERIES.statistics(oid));
  if (stats.rows.length > 0) {
    f.push('Statistics objects:');
    for (const x of stats.rows) {
      const kinds = [
        x[5] === 't' ? 'ndistinct' : '',
        x[6] === 't' ? 'dependencies' : '',
        x[7] === 't' ? 'mcv' : '',
      ].filter((k) => k !== '');
      let line = `    "${x[2] ?? ''}.${x[3] ?? ''}"`;
      if (kinds.length > 0 && kinds.length < 3) line += ` (${kinds.join(', ')})`;
      line += ` ON ${x[4] ?? ''} FROM ${x[1] ?? ''}`;
      if (x[8] !== null && x[8] !== undefined && Number(x[8]) >= 0) line += `; STATISTICS ${x[8]}`;
      f.push(line);
    }
  }
  const pubs = await run(TABLE_QUERIES.publications(oid));
  if (pubs.rows.length > 0) {
    f.push('Publications:');
    for (const x of pubs.rows)
      f.push(
        `    "${x[0] ?? ''}"${x[2] !== null && x[2] !== undefined ? ` (${x[2]})` : ''}${x[1] !== null && x[1] !== undefined ? ` WHERE ${x[1]}` : ''}`,
      );
  }
  if (hasTriggers) {
    const trg = await run(TABLE_QUERIES.triggers(oid));
    const groups: [string, (x: readonly (string | null)[]) => boolean][] = [
      ['Triggers:', (x) => x[3] !== 't' && (x[2] === 'O' || x[2] === 't')],
      ['Disabled user triggers:', (x) => x[3] !== 't' && (x[2] === 'D' || x[2] === 'f')],
      ['Disabled internal triggers:', (x) => x[3] === 't' && (x[2] === 'D' || x[2] === 'f')],
      ['Triggers firing always:', (x) => x[2] === 'A'],
      ['Triggers firing on replica only:', (x) => x[2] === 'R'],
    ];
    for (const [header, match] of groups) {
      const rows = trg.rows.filter(match);
      if (rows.length === 0) continue;
      f.push(header);
      for (const x of rows) {
        const def = x[1] ?? '';
        const at = def.indexOf(' TRIGGER ');
        f.push(
          `    ${at >= 0 ? def.slice(at + 9) : def}${x[4] !== null && x[4] !== undefined ? `, ON TABLE ${x[4]}` : ''}`,
        );
      }
    }
  }
  const parents = await run(TABLE_QUERIES.inherits(oid));
  parents.rows.forEach((x, i) => {
    const label = 'Inherits';
    const sep = i < parents.rows.length - 1 ? ',' : '';
    f.push(i === 0 ? `${label}: ${x[0] ?? ''}${sep}` : `${' '.repeat(label.length)}  ${x[0] ?? ''}${sep}`);
  });
  const children = await run(TABLE_QUERIES.children(oid));
  const nChildren = children.rows.length;
  if (!verbose || nChildren === 0) {
    if (relkind === 'p')
      f.push(`Number of partitions: ${nChildren}${nChildren > 0 ? ' (Use \\d+ to list them.)' : ''}`);
    else if (nChildren > 0) f.push(`Number of child tables: ${nChildren} (Use \\d+ to list them.)`);
  } else {
    // \d+ lists them: "Partitions: a FOR VALUES ...," then the rest aligned under the first.
    const label = relkind === 'p' ? 'Partitions' : 'Child tables';
    children.rows.forEach((x, i) => {
      let text = x[0] ?? '';
      if (relkind === 'p' && x[3] !== null && x[3] !== undefined) text += ` ${x[3]}`;
      if (x[1] === 'p') text += ', PARTITIONED';
      if (x[2] === 't') text += ' (DETACH PENDING)';
      if (i < nChildren - 1) text += ',';
      f.push(i === 0 ? `${label}: ${text}` : `${' '.repeat(label.length)}  ${text}`);
    });
  }
  if (verbose) {
    const replident = info[13];
    if (relkind === 'r' && (replident === 'f' || replident === 'n'))
      f.push(`Replica Identity: ${replident === 'f' ? 'FULL' : 'NOTHING'}`);
    if (info[14] !== null && info[14] !== undefined && info[14] !== '') f.push(`Access method: ${info[14]}`);
    if (info[9] !== null && info[9] !== undefined && info[9] !== '') f.push(`Options: ${info[9]}`);
  }
  return f;
}

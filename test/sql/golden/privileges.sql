# GRANT / REVOKE on tables, sequences, schemas and functions, PUBLIC, WITH
# GRANT OPTION, and has_*_privilege answering from the ACLs (relacl shows
# them). Enforcement (42501) with sessions of other roles is in
# test/sql/privileges.test.ts.
> CREATE ROLE priv_alice LOGIN
CREATE ROLE

> CREATE ROLE priv_bob
CREATE ROLE

> CREATE TABLE priv_t (id int PRIMARY KEY, v text)
CREATE TABLE

> CREATE SEQUENCE priv_seq
CREATE SEQUENCE

> CREATE SCHEMA priv_s
CREATE SCHEMA

> CREATE FUNCTION priv_f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'
CREATE FUNCTION

> SELECT has_table_privilege('priv_alice', 'priv_t', 'SELECT') AS sel, has_table_privilege('postgres', 'priv_t', 'SELECT, INSERT') AS owner
sel | owner
f | t

> SELECT relacl FROM pg_class WHERE relname = 'priv_t'
relacl
NULL

> GRANT SELECT, INSERT ON priv_t TO priv_alice
GRANT

> SELECT has_table_privilege('priv_alice', 'priv_t', 'SELECT') AS sel, has_table_privilege('priv_alice', 'priv_t', 'UPDATE') AS upd, has_table_privilege('priv_alice', 'priv_t', 'update, insert') AS any_of
sel | upd | any_of
t | f | t

> SELECT relacl FROM pg_class WHERE relname = 'priv_t'
relacl
{postgres=arwdDxt/postgres,priv_alice=ar/postgres}

> GRANT UPDATE ON TABLE priv_t TO priv_bob WITH GRANT OPTION
GRANT

> SELECT has_table_privilege('priv_bob', 'priv_t', 'UPDATE WITH GRANT OPTION') AS grantable, has_table_privilege('priv_alice', 'priv_t', 'INSERT WITH GRANT OPTION') AS not_grantable
grantable | not_grantable
t | f

> SELECT relacl FROM pg_class WHERE relname = 'priv_t'
relacl
{postgres=arwdDxt/postgres,priv_alice=ar/postgres,priv_bob=w*/postgres}

> REVOKE GRANT OPTION FOR UPDATE ON priv_t FROM priv_bob
REVOKE

> SELECT has_table_privilege('priv_bob', 'priv_t', 'UPDATE') AS upd, has_table_privilege('priv_bob', 'priv_t', 'UPDATE WITH GRANT OPTION') AS grantable
upd | grantable
t | f

> REVOKE ALL ON priv_t FROM priv_alice, priv_bob
REVOKE

> SELECT has_table_privilege('priv_alice', 'priv_t', 'SELECT') AS sel, has_table_privilege('priv_bob', 'priv_t', 'UPDATE') AS upd
sel | upd
f | f

> SELECT relacl FROM pg_class WHERE relname = 'priv_t'
relacl
{postgres=arwdDxt/postgres}

> GRANT SELECT ON priv_t TO PUBLIC
GRANT

> SELECT has_table_privilege('priv_bob', 'priv_t', 'SELECT') AS sel
sel
t

> REVOKE SELECT ON priv_t FROM PUBLIC
REVOKE

> GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO priv_bob
GRANT

> SELECT has_table_privilege('priv_bob', 'priv_t', 'DELETE') AS del, has_table_privilege('priv_bob', 'priv_t', 'TRUNCATE') AS trunc
del | trunc
t | t

> SELECT has_sequence_privilege('priv_alice', 'priv_seq', 'USAGE') AS before
before
f

> GRANT USAGE ON SEQUENCE priv_seq TO priv_alice
GRANT

> SELECT has_sequence_privilege('priv_alice', 'priv_seq', 'USAGE') AS after, has_sequence_privilege('priv_alice', 'priv_seq', 'UPDATE') AS upd
after | upd
t | f

> SELECT has_schema_privilege('priv_alice', 'priv_s', 'USAGE') AS usage, has_schema_privilege('priv_alice', 'public', 'CREATE') AS public_create
usage | public_create
f | f

> GRANT USAGE, CREATE ON SCHEMA priv_s TO priv_alice
GRANT

> SELECT has_schema_privilege('priv_alice', 'priv_s', 'USAGE') AS usage, has_schema_privilege('priv_alice', 'priv_s', 'CREATE') AS cr
usage | cr
t | t

> REVOKE CREATE ON SCHEMA priv_s FROM priv_alice
REVOKE

> SELECT has_schema_privilege('priv_alice', 'priv_s', 'CREATE') AS cr
cr
f

> SELECT has_function_privilege('priv_alice', 'priv_f(int)', 'EXECUTE') AS by_default
by_default
t

> REVOKE EXECUTE ON FUNCTION priv_f(int) FROM PUBLIC
REVOKE

> SELECT has_function_privilege('priv_alice', 'priv_f(int)', 'EXECUTE') AS revoked
revoked
f

> GRANT EXECUTE ON FUNCTION priv_f(int) TO priv_alice
GRANT

> SELECT has_function_privilege('priv_alice', 'priv_f(int)', 'EXECUTE') AS granted
granted
t

> SELECT has_table_privilege('priv_alice', 'pg_catalog.pg_type', 'SELECT') AS catalog
catalog
t

> REVOKE SELECT ON pg_catalog.pg_type FROM PUBLIC
REVOKE

> SELECT has_table_privilege('priv_alice', 'pg_catalog.pg_type', 'SELECT') AS catalog
catalog
f

> GRANT SELECT ON pg_catalog.pg_type TO PUBLIC
GRANT

> SELECT has_table_privilege('priv_alice', 'pg_catalog.pg_type', 'SELECT') AS catalog
catalog
t

> GRANT SELECT ON priv_t TO nosuch_role
ERROR 42704: role "nosuch_role" does not exist

> GRANT SELECT ON nosuch_table TO priv_alice
ERROR 42P01: relation "nosuch_table" does not exist

> GRANT EXECUTE ON priv_t TO priv_alice
ERROR 0LP01: invalid privilege type EXECUTE for relation

> GRANT USAGE ON SEQUENCE priv_t TO priv_alice
ERROR 42809: "priv_t" is not a sequence

> GRANT USAGE ON SCHEMA nosuch_schema TO priv_alice
ERROR 3F000: schema "nosuch_schema" does not exist

> SELECT has_table_privilege('nosuch_role', 'priv_t', 'SELECT')
ERROR 42704: role "nosuch_role" does not exist

> SELECT has_table_privilege('priv_alice', 'priv_t', 'FLY')
ERROR 22023: unrecognized privilege type: "FLY"

> SELECT has_table_privilege('priv_alice', 'nosuch_table', 'SELECT')
ERROR 42P01: relation "nosuch_table" does not exist

# Partial and expression indexes: uniqueness over matching rows only, keys
# computed from expressions, the catalog's view of them (pg_indexes,
# pg_index, pg_get_indexdef) and the errors CREATE INDEX raises.
> CREATE TABLE acct (id int PRIMARY KEY, email text NOT NULL, active boolean NOT NULL, n int)
CREATE TABLE

> CREATE UNIQUE INDEX acct_email_lower ON acct (lower(email))
CREATE INDEX

> CREATE UNIQUE INDEX acct_active_n ON acct (n) WHERE active
CREATE INDEX

> CREATE INDEX ON acct ((n * 2))
CREATE INDEX

> CREATE INDEX ON acct (n DESC, lower(email)) WHERE n > 10
CREATE INDEX

> INSERT INTO acct VALUES (1, 'Ann@x.org', true, 1), (2, 'bob@x.org', false, 1), (3, 'cy@x.org', false, 1)
INSERT 0 3

> INSERT INTO acct VALUES (4, 'ANN@X.ORG', false, 2)
ERROR 23505: duplicate key value violates unique constraint "acct_email_lower"

> INSERT INTO acct VALUES (5, 'dee@x.org', true, 1)
ERROR 23505: duplicate key value violates unique constraint "acct_active_n"

> INSERT INTO acct VALUES (5, 'dee@x.org', false, 1)
INSERT 0 1

> UPDATE acct SET active = true WHERE id = 2
ERROR 23505: duplicate key value violates unique constraint "acct_active_n"

> UPDATE acct SET n = 2 WHERE id = 2
UPDATE 1

> UPDATE acct SET active = true WHERE id = 2
UPDATE 1

> UPDATE acct SET email = 'BOB@x.org' WHERE id = 2
UPDATE 1

> UPDATE acct SET email = 'cy@X.org' WHERE id = 2
ERROR 23505: duplicate key value violates unique constraint "acct_email_lower"

> SELECT id, email FROM acct WHERE lower(email) = 'bob@x.org'
id | email
2 | BOB@x.org

> SELECT id FROM acct WHERE n * 2 = 2 ORDER BY id
id
1
3
5

> SELECT id FROM acct WHERE active AND n = 2
id
2

> INSERT INTO acct VALUES (6, 'eve@x.org', true, 2) ON CONFLICT (n) WHERE active DO NOTHING
INSERT 0 0

> INSERT INTO acct VALUES (6, 'eve@x.org', true, 2) ON CONFLICT (n) DO NOTHING
ERROR 42P10: there is no unique or exclusion constraint matching the ON CONFLICT specification

> INSERT INTO acct VALUES (6, 'ann@x.ORG', true, 7) ON CONFLICT (lower(email)) DO UPDATE SET n = acct.n + 100 RETURNING id, n
id | n
1 | 101

> INSERT INTO acct VALUES (7, 'fay@x.org', true, 101) ON CONFLICT DO NOTHING
INSERT 0 0

> INSERT INTO acct VALUES (7, 'fay@x.org', false, 101) ON CONFLICT DO NOTHING
INSERT 0 1

> SELECT id, email, active, n FROM acct ORDER BY id
id | email | active | n
1 | Ann@x.org | t | 101
2 | BOB@x.org | t | 2
3 | cy@x.org | f | 1
5 | dee@x.org | f | 1
7 | fay@x.org | f | 101

> DELETE FROM acct WHERE id = 1
DELETE 1

> INSERT INTO acct VALUES (8, 'ann@x.org', true, 101)
INSERT 0 1

> SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'acct' ORDER BY indexname
indexname | indexdef
acct_active_n | CREATE UNIQUE INDEX acct_active_n ON public.acct USING btree (n) WHERE active
acct_email_lower | CREATE UNIQUE INDEX acct_email_lower ON public.acct USING btree (lower(email))
acct_expr_idx | CREATE INDEX acct_expr_idx ON public.acct USING btree (((n * 2)))
acct_n_lower_idx | CREATE INDEX acct_n_lower_idx ON public.acct USING btree (n DESC, lower(email)) WHERE (n > 10)
acct_pkey | CREATE UNIQUE INDEX acct_pkey ON public.acct USING btree (id)

> SELECT c.relname, i.indkey::text, i.indisunique, pg_get_expr(i.indpred, i.indrelid) IS NOT NULL AS partial FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'acct'::regclass ORDER BY c.relname
relname | indkey | indisunique | partial
acct_active_n | 4 | t | t
acct_email_lower | 0 | t | f
acct_expr_idx | 0 | f | f
acct_n_lower_idx | 4 0 | f | t
acct_pkey | 1 | t | f

> SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'acct_email_lower'
pg_get_indexdef
CREATE UNIQUE INDEX acct_email_lower ON public.acct USING btree (lower(email))

# A unique index over existing duplicates fails; a partial one over rows without them succeeds.
> CREATE UNIQUE INDEX acct_n ON acct (n)
ERROR 23505: could not create unique index "acct_n"

> CREATE UNIQUE INDEX acct_n_big ON acct (n) WHERE n > 100
ERROR 23505: could not create unique index "acct_n_big"

> CREATE UNIQUE INDEX acct_n_big2 ON acct (n) WHERE n >= 101 AND active
CREATE INDEX

> CREATE UNIQUE INDEX acct_n_small ON acct (n) WHERE n < 100
ERROR 23505: could not create unique index "acct_n_small"

# Errors.
> CREATE INDEX ON acct (random())
ERROR 42P17: functions in index expression must be marked IMMUTABLE

> CREATE INDEX ON acct (n) WHERE n > random()
ERROR 42P17: functions in index predicate must be marked IMMUTABLE

> CREATE INDEX ON acct (nope)
ERROR 42703: column "nope" does not exist

> CREATE INDEX ON acct (lower(nope))
ERROR 42703: column "nope" does not exist

> CREATE INDEX ON acct (n) WHERE n
ERROR 42804: argument of WHERE must be type boolean, not type integer

> CREATE INDEX ON acct (n) WHERE count(*) > 1
ERROR 42803: aggregate functions are not allowed in index predicates

> CREATE INDEX ON acct ((n + 'x'))
ERROR 22P02: invalid input syntax for type integer: "x"

> CREATE TABLE child (a int REFERENCES acct (n))
ERROR 42830: there is no unique constraint matching given keys for referenced table "acct"

# Dropping a column drops the expression and partial indexes that read it.
> ALTER TABLE acct DROP COLUMN n
ALTER TABLE

> SELECT indexname FROM pg_indexes WHERE tablename = 'acct' ORDER BY indexname
indexname
acct_email_lower
acct_pkey

> DROP INDEX acct_email_lower
DROP INDEX

> INSERT INTO acct VALUES (9, 'ann@x.org', true)
INSERT 0 1

> SELECT count(*) FROM acct WHERE lower(email) = 'ann@x.org'
count
2

# pg_get_indexdef(index, column, pretty): one key column, as psql's \d index shows it.
> CREATE INDEX acct_two ON acct (id, lower(email), (id + 1))
CREATE INDEX

> SELECT k, pg_get_indexdef(c.oid, k, true) FROM pg_class c, generate_series(1, 4) k WHERE c.relname = 'acct_two' ORDER BY k
k | pg_get_indexdef
1 | id
2 | lower(email)
3 | (id + 1)
4 | 

# The catalog functions read the session's catalog even with a constant argument (never folded at plan time).
> SELECT pg_get_indexdef('acct_two'::regclass), pg_get_indexdef('acct_two'::regclass, 2, true)
pg_get_indexdef | pg_get_indexdef
CREATE INDEX acct_two ON public.acct USING btree (id, lower(email), ((id + 1))) | lower(email)

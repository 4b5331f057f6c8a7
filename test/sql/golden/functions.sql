# CREATE FUNCTION ... LANGUAGE sql: scalar (inlined when the body is one
# expression, else run as a subquery) and set-returning (in FROM), STRICT,
# OR REPLACE, DROP FUNCTION, pg_proc and the functions psql's \df calls.
> CREATE TABLE acc (id int PRIMARY KEY, owner text NOT NULL, balance numeric(10,2) NOT NULL)
CREATE TABLE

> INSERT INTO acc VALUES (1, 'ann', 100.50), (2, 'bob', 20.00), (3, 'ann', 5.25)
INSERT 0 3

> CREATE FUNCTION add_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT round(amount * 1.2, 2)'
CREATE FUNCTION

> SELECT id, add_tax(balance) FROM acc ORDER BY id
id | add_tax
1 | 120.60
2 | 24.00
3 | 6.30

> SELECT add_tax(NULL), add_tax(10)
add_tax | add_tax
NULL | 12.00

> CREATE FUNCTION total_of(who text) RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT sum(balance) FROM acc WHERE owner = who $$
CREATE FUNCTION

> SELECT owner, total_of(owner) FROM acc GROUP BY owner ORDER BY owner
owner | total_of
ann | 105.75
bob | 20.00

> SELECT total_of('nobody') IS NULL AS none
none
t

> CREATE FUNCTION first_id(text) RETURNS int LANGUAGE sql AS 'SELECT id FROM acc WHERE owner = $1 ORDER BY id'
CREATE FUNCTION

> SELECT first_id('ann'), first_id('zed')
first_id | first_id
1 | NULL

> CREATE FUNCTION accounts_of(who text) RETURNS SETOF acc_ids LANGUAGE sql AS 'SELECT id FROM acc WHERE owner = who'
ERROR 42704: type "acc_ids" does not exist

> CREATE FUNCTION ids_of(who text) RETURNS SETOF int LANGUAGE sql AS 'SELECT id FROM acc WHERE owner = who ORDER BY id'
CREATE FUNCTION

> SELECT * FROM ids_of('ann')
ids_of
1
3

> SELECT x FROM ids_of('bob') AS x
x
2

> CREATE FUNCTION rich(min numeric) RETURNS TABLE (id int, owner text) LANGUAGE sql AS 'SELECT id, owner FROM acc WHERE balance >= min ORDER BY id'
CREATE FUNCTION

> SELECT * FROM rich(10)
id | owner
1 | ann
2 | bob

> SELECT r.owner, a.balance FROM acc a JOIN rich(6) r ON r.id = a.id ORDER BY a.id
owner | balance
ann | 100.50
bob | 20.00

> SELECT a.id, r.id AS richer FROM acc a, rich(a.balance) r WHERE r.id <> a.id ORDER BY 1, 2
id | richer
2 | 1
3 | 1
3 | 2

> CREATE FUNCTION half(int) RETURNS int LANGUAGE sql STRICT AS 'SELECT $1 / 2'
CREATE FUNCTION

> SELECT half(7), half(NULL)
half | half
3 | NULL

> CREATE OR REPLACE FUNCTION half(int) RETURNS int LANGUAGE sql AS 'SELECT ($1 + 1) / 2'
CREATE FUNCTION

> SELECT half(7)
half
4

> CREATE FUNCTION half(int) RETURNS int LANGUAGE sql AS 'SELECT 1'
ERROR 42723: function "half" already exists with same argument types

> CREATE OR REPLACE FUNCTION half(int) RETURNS text LANGUAGE sql AS 'SELECT 1::text'
ERROR 42P13: cannot change return type of existing function

> SELECT p.proname, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result, p.proretset, p.provolatile, p.proisstrict FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1
proname | args | result | proretset | provolatile | proisstrict
add_tax | amount numeric | numeric | f | i | f
first_id | text | integer | f | v | f
half | integer | integer | f | v | f
ids_of | who text | SETOF integer | t | v | f
rich | min numeric | TABLE(id integer, owner text) | t | v | f
total_of | who text | numeric | f | s | f

# Errors.
> CREATE FUNCTION bad1(int) RETURNS int LANGUAGE sql AS 'SELECT ''x''::text'
ERROR 42P13: return type mismatch in function declared to return integer

> CREATE FUNCTION bad2(int) RETURNS int LANGUAGE sql AS 'SELECT 1, 2'
ERROR 42P13: return type mismatch in function declared to return integer

> CREATE FUNCTION bad3(int) RETURNS int LANGUAGE sql AS 'SELECT nope FROM acc'
ERROR 42703: column "nope" does not exist

> CREATE FUNCTION bad4(int) RETURNS int LANGUAGE sql AS 'SELECT $2'
ERROR 42P02: there is no parameter $2

> SELECT add_tax(1, 2)
ERROR 42883: function add_tax(integer, integer) does not exist

> SELECT nosuch(1)
ERROR 42883: function nosuch(integer) does not exist

# A PL/pgSQL trigger function (test/sql/golden/plpgsql.sql covers PL/pgSQL).
> CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'
CREATE FUNCTION

> CREATE TRIGGER t BEFORE INSERT ON acc FOR EACH ROW EXECUTE FUNCTION trg()
CREATE TRIGGER

> DROP FUNCTION half(text)
ERROR 42883: function half(text) does not exist

> DROP FUNCTION IF EXISTS nosuch(int)
DROP FUNCTION

> DROP FUNCTION half(int)
DROP FUNCTION

> DROP FUNCTION add_tax, total_of
DROP FUNCTION

> SELECT half(7)
ERROR 42883: function half(integer) does not exist

> SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
count
4

# Deliberate difference: PostgreSQL runs a recursive SQL function until its
# stack limit (54001 here); NextDB binds bodies at each call and refuses.
> CREATE FUNCTION down(int) RETURNS int LANGUAGE sql AS 'SELECT 0'
CREATE FUNCTION

> CREATE OR REPLACE FUNCTION down(int) RETURNS int LANGUAGE sql AS 'SELECT down($1 - 1)'
CREATE FUNCTION

> SELECT down(3)
ERROR 0A000: recursive SQL functions (down calls itself, directly or not) is not supported yet

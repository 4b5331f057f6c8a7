# Temporary tables: CREATE TEMP/TEMPORARY TABLE (also AS SELECT and SELECT INTO), shadowing a permanent table of
# the same name, pg_temp, indexes, SERIAL, ON COMMIT PRESERVE ROWS / DELETE ROWS / DROP, rollback of temp DDL and
# data, savepoints, temporary views, and the errors. Other sessions and restarts: test/sql/temp-tables.test.ts.
> CREATE TABLE t (id int PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO t VALUES (1, 'permanent')
INSERT 0 1

> CREATE TEMP TABLE t (id serial PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO t (v) VALUES ('a'), ('b')
INSERT 0 2

> SELECT * FROM t ORDER BY id
id | v
1 | a
2 | b

> SELECT * FROM public.t
id | v
1 | permanent

> SELECT * FROM pg_temp.t ORDER BY id
id | v
1 | a
2 | b

> SELECT relname, relpersistence, relkind FROM pg_class WHERE relname = 't' ORDER BY relpersistence
relname | relpersistence | relkind
t | p | r
t | t | r

> SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 't' AND n.nspname LIKE 'pg_temp%'
count
1

> CREATE TEMPORARY TABLE t (x int)
ERROR 42P07: relation "t" already exists

> CREATE TEMP TABLE IF NOT EXISTS t (x int)
CREATE TABLE

> CREATE INDEX t_v ON t (v)
CREATE INDEX

> SELECT id FROM t WHERE v = 'b'
id
2

> CREATE UNIQUE INDEX t_v_u ON t (v)
CREATE INDEX

> INSERT INTO t (v) VALUES ('a')
ERROR 23505: duplicate key value violates unique constraint "t_v_u"

> UPDATE t SET v = v || '!' WHERE id = 1
UPDATE 1

> DELETE FROM t WHERE id = 2
DELETE 1

> SELECT * FROM t ORDER BY id
id | v
1 | a!

> BEGIN
BEGIN

> INSERT INTO t (v) VALUES ('rolled back')
INSERT 0 1

> CREATE TEMP TABLE gone (x int)
CREATE TABLE

> INSERT INTO gone VALUES (1)
INSERT 0 1

> ROLLBACK
ROLLBACK

> SELECT v FROM t ORDER BY id
v
a!

> SELECT * FROM gone
ERROR 42P01: relation "gone" does not exist

> BEGIN
BEGIN

> INSERT INTO t (v) VALUES ('kept')
INSERT 0 1

> SAVEPOINT s1
SAVEPOINT

> INSERT INTO t (v) VALUES ('undone')
INSERT 0 1

> ROLLBACK TO SAVEPOINT s1
ROLLBACK

> COMMIT
COMMIT

> SELECT v FROM t ORDER BY id
v
a!
kept

> CREATE TEMP TABLE del_rows (x int) ON COMMIT DELETE ROWS
CREATE TABLE

> INSERT INTO del_rows VALUES (1)
INSERT 0 1

> SELECT count(*) FROM del_rows
count
0

> BEGIN
BEGIN

> INSERT INTO del_rows VALUES (1), (2)
INSERT 0 2

> SELECT count(*) FROM del_rows
count
2

> COMMIT
COMMIT

> SELECT count(*) FROM del_rows
count
0

> CREATE TEMP TABLE keep_rows (x int) ON COMMIT PRESERVE ROWS
CREATE TABLE

> INSERT INTO keep_rows VALUES (1)
INSERT 0 1

> SELECT count(*) FROM keep_rows
count
1

> BEGIN
BEGIN

> CREATE TEMP TABLE dropped (x int) ON COMMIT DROP
CREATE TABLE

> INSERT INTO dropped VALUES (1)
INSERT 0 1

> SELECT * FROM dropped
x
1

> COMMIT
COMMIT

> SELECT * FROM dropped
ERROR 42P01: relation "dropped" does not exist

> CREATE TEMP TABLE dropped_at_once (x int) ON COMMIT DROP
CREATE TABLE

> SELECT * FROM dropped_at_once
ERROR 42P01: relation "dropped_at_once" does not exist

> CREATE TABLE perm_on_commit (x int) ON COMMIT DELETE ROWS
ERROR 42P16: ON COMMIT can only be used on temporary tables

> CREATE TEMP TABLE public.wrong (x int)
ERROR 42P16: cannot create temporary relation in non-temporary schema

> CREATE TABLE pg_temp.implicit (x int)
CREATE TABLE

> SELECT relpersistence FROM pg_class WHERE relname = 'implicit'
relpersistence
t

> CREATE TEMP TABLE child (id int REFERENCES public.t (id))
ERROR 42P16: constraints on temporary tables may reference only temporary tables

> CREATE TABLE perm_child (id int REFERENCES pg_temp.t (id))
ERROR 42P16: constraints on permanent tables may reference only permanent tables

> CREATE TEMP TABLE tparent (id int PRIMARY KEY)
CREATE TABLE

> CREATE TEMP TABLE tchild (pid int REFERENCES tparent (id))
CREATE TABLE

> INSERT INTO tchild VALUES (1)
ERROR 23503: insert or update on table "tchild" violates foreign key constraint "tchild_pid_fkey"

> CREATE TEMP TABLE ctas AS SELECT id, v || '?' AS w FROM t ORDER BY id
SELECT 2

> SELECT * FROM ctas ORDER BY id
id | w
1 | a!?
5 | kept?

> CREATE TEMP TABLE ctas_cols (a, b) AS VALUES (1, 'x'), (2, 'y')
SELECT 2

> SELECT a, b FROM ctas_cols ORDER BY a
a | b
1 | x
2 | y

> SELECT id * 10 AS z INTO TEMP sel_into FROM t ORDER BY id
SELECT 2

> SELECT * FROM sel_into ORDER BY z
z
10
50

> CREATE TABLE perm_ctas AS SELECT 1 AS one, 'two' AS two
SELECT 1

> SELECT * FROM perm_ctas
one | two
1 | two

> SELECT relpersistence FROM pg_class WHERE relname = 'perm_ctas'
relpersistence
p

> CREATE TEMP VIEW tv AS SELECT id FROM t
CREATE VIEW

> CREATE VIEW auto_temp AS SELECT w FROM ctas
CREATE VIEW

> SELECT relname, relpersistence FROM pg_class WHERE relname IN ('tv', 'auto_temp') ORDER BY 1
relname | relpersistence
auto_temp | t
tv | t

> SELECT * FROM auto_temp ORDER BY w
w
a!?
kept?

> DROP TABLE t
ERROR 2BP01: cannot drop table t because other objects depend on it

> DROP TABLE t CASCADE
DROP TABLE

> SELECT * FROM t
id | v
1 | permanent

> SELECT * FROM tv
ERROR 42P01: relation "tv" does not exist

> SHOW search_path
search_path
"$user", public

> DISCARD TEMP
DISCARD TEMP

> SELECT * FROM ctas
ERROR 42P01: relation "ctas" does not exist

> CREATE TEMP TABLE after_discard (x int)
CREATE TABLE

> INSERT INTO after_discard VALUES (5)
INSERT 0 1

> SELECT * FROM after_discard
x
5

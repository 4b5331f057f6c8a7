# DDL, views, indexes, sequences, transactions, savepoints and settings.
> CREATE TABLE p (id int PRIMARY KEY, v text)
CREATE TABLE

> CREATE TABLE p (x int)
ERROR 42P07: relation "p" already exists

> CREATE TABLE IF NOT EXISTS p (x int)
CREATE TABLE

> CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p (id) ON DELETE CASCADE)
CREATE TABLE

> INSERT INTO p VALUES (1, 'one'), (2, 'two')
INSERT 0 2

> INSERT INTO c VALUES (10, 1), (20, 2)
INSERT 0 2

> DELETE FROM p WHERE id = 1
DELETE 1

> SELECT * FROM c ORDER BY id
id | pid
20 | 2

> CREATE VIEW pv AS SELECT id, upper(v) AS up FROM p
CREATE VIEW

> SELECT * FROM pv
id | up
2 | TWO

> DROP TABLE p
ERROR 2BP01: cannot drop table p because other objects depend on it

> DROP TABLE p CASCADE
DROP TABLE

> SELECT * FROM pv
ERROR 42P01: relation "pv" does not exist

> CREATE TABLE s (a int, b text)
CREATE TABLE

> CREATE INDEX s_b ON s (b)
CREATE INDEX

> INSERT INTO s VALUES (1, 'x'), (2, 'y'), (3, 'x')
INSERT 0 3

> SELECT a FROM s WHERE b = 'x' ORDER BY a
a
1
3

> ALTER TABLE s ADD COLUMN c int DEFAULT 7
ALTER TABLE

> ALTER TABLE s RENAME COLUMN a TO aa
ALTER TABLE

> ALTER TABLE s DROP COLUMN b
ALTER TABLE

> SELECT * FROM s ORDER BY aa
aa | c
1 | 7
2 | 7
3 | 7

> ALTER TABLE s ADD CONSTRAINT s_c_pos CHECK (c > 0)
ALTER TABLE

> UPDATE s SET c = 0
ERROR 23514: new row for relation "s" violates check constraint "s_c_pos"

> TRUNCATE s
TRUNCATE TABLE

> SELECT count(*) FROM s
count
0

> CREATE SEQUENCE q START 5 INCREMENT 5
CREATE SEQUENCE

> SELECT nextval('q'), nextval('q')
nextval | nextval
5 | 10

> BEGIN
BEGIN

> CREATE TABLE tx (x int)
CREATE TABLE

> INSERT INTO tx VALUES (1)
INSERT 0 1

> SAVEPOINT sp
SAVEPOINT

> INSERT INTO tx VALUES (2)
INSERT 0 1

> ROLLBACK TO SAVEPOINT sp
ROLLBACK

> SELECT * FROM tx
x
1

> COMMIT
COMMIT

> SELECT * FROM tx
x
1

> BEGIN
BEGIN

> DROP TABLE tx
DROP TABLE

> ROLLBACK
ROLLBACK

> SELECT count(*) FROM tx
count
1

> SET search_path = nosuch, public
SET

> SHOW search_path
search_path
nosuch, public

> SET extra_float_digits = 0
SET

> SELECT 0.1::float8 + 0.2::float8
?column?
0.3

> RESET extra_float_digits
RESET

> SET TimeZone = 'America/New_York'
SET

> SELECT '2024-07-01 12:00:00+00'::timestamptz
timestamptz
2024-07-01 08:00:00-04

> SHOW TimeZone
TimeZone
America/New_York

> SET nosuch_setting = 1
ERROR 42704: unrecognized configuration parameter "nosuch_setting"

> COMMIT
COMMIT

> DROP TABLE nosuch
ERROR 42P01: table "nosuch" does not exist

> DROP TABLE IF EXISTS nosuch
DROP TABLE

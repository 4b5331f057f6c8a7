# Read-only transactions: SET TRANSACTION READ ONLY, BEGIN READ ONLY,
# default_transaction_read_only and transaction_read_only. Any write is
# refused with 25006 when the statement starts, whether or not rows match,
# also from inside SQL and PL/pgSQL functions.
> CREATE TABLE ro (id int PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO ro VALUES (1, 'one'), (2, 'two')
INSERT 0 2

> CREATE SEQUENCE ro_seq
CREATE SEQUENCE

> CREATE FUNCTION ro_touch(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE ro SET v = 'x' WHERE id = k; RETURN k; END $$
CREATE FUNCTION

> CREATE FUNCTION ro_next() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('ro_seq') $$
CREATE FUNCTION

> CREATE FUNCTION ro_pl(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM ro WHERE id = k; RETURN k; END $$
CREATE FUNCTION

> CREATE FUNCTION ro_caught(k int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE ro SET v = 'c' WHERE id = k; RETURN k; EXCEPTION WHEN read_only_sql_transaction THEN RETURN -1; END $$
CREATE FUNCTION

> CREATE FUNCTION ro_read(k int) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT v FROM ro WHERE id = k); END $$
CREATE FUNCTION

> SHOW transaction_read_only
transaction_read_only
off

> BEGIN READ ONLY
BEGIN

> SHOW transaction_read_only
transaction_read_only
on

> SELECT * FROM ro ORDER BY id
id | v
1 | one
2 | two

> UPDATE ro SET v = 'z' WHERE id = 1
ERROR 25006: cannot execute UPDATE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> UPDATE ro SET v = 'z' WHERE false
ERROR 25006: cannot execute UPDATE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> DELETE FROM ro WHERE id = 99
ERROR 25006: cannot execute DELETE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> INSERT INTO ro SELECT 3, 'three' WHERE false
ERROR 25006: cannot execute INSERT in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> MERGE INTO ro USING (SELECT 1 AS id) s ON ro.id = s.id WHEN MATCHED THEN DO NOTHING
MERGE 0

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> CREATE TABLE ro2 (x int)
ERROR 25006: cannot execute CREATE TABLE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT nextval('ro_seq')
ERROR 25006: cannot execute nextval() in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT setval('ro_seq', 5)
ERROR 25006: cannot execute setval() in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT ro_touch(99)
ERROR 25006: cannot execute UPDATE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT ro_pl(99)
ERROR 25006: cannot execute DELETE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT ro_next()
ERROR 25006: cannot execute nextval() in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> COPY ro FROM STDIN
ERROR 25006: cannot execute COPY FROM in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> TRUNCATE ro
ERROR 25006: cannot execute TRUNCATE TABLE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN READ ONLY
BEGIN

> SELECT ro_caught(1)
ro_caught
-1

> SELECT ro_read(2)
ro_read
two

> COMMIT
COMMIT

> BEGIN
BEGIN

> SET TRANSACTION READ ONLY
SET

> SHOW transaction_read_only
transaction_read_only
on

> UPDATE ro SET v = 'z' WHERE id = 1
ERROR 25006: cannot execute UPDATE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> SET transaction_read_only = on
SET

> SELECT ro_pl(99)
ERROR 25006: cannot execute DELETE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> SET TRANSACTION READ ONLY
SET

> SELECT nextval('ro_seq')
ERROR 25006: cannot execute nextval() in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> SET TRANSACTION READ ONLY
SET

> DO $$ BEGIN CREATE TABLE ro3 (x int); END $$
ERROR 25006: cannot execute CREATE TABLE in a read-only transaction

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> SET TRANSACTION READ WRITE
SET

> UPDATE ro SET v = 'uno' WHERE id = 1
UPDATE 1

> COMMIT
COMMIT

> SET default_transaction_read_only = on
SET

> SHOW transaction_read_only
transaction_read_only
on

> INSERT INTO ro VALUES (3, 'three')
ERROR 25006: cannot execute INSERT in a read-only transaction

> SELECT ro_touch(1)
ERROR 25006: cannot execute UPDATE in a read-only transaction

> DO $$ BEGIN UPDATE ro SET v = 'y' WHERE id = -1; END $$
ERROR 25006: cannot execute UPDATE in a read-only transaction

> SELECT id, v FROM ro ORDER BY id
id | v
1 | uno
2 | two

> BEGIN READ WRITE
BEGIN

> UPDATE ro SET v = 'two!' WHERE id = 2
UPDATE 1

> COMMIT
COMMIT

> SET transaction_read_only = off
SET

> SELECT count(*) FROM ro
count
2

> RESET default_transaction_read_only
RESET

> SHOW transaction_read_only
transaction_read_only
off

> SELECT ro_touch(1)
ro_touch
1

> SELECT id, v FROM ro ORDER BY id
id | v
1 | x
2 | two!

# PL/pgSQL: DO blocks and LANGUAGE plpgsql functions (scalar, SETOF, TABLE,
# OUT parameters), control flow, SELECT INTO [STRICT], EXECUTE ... USING,
# RAISE, GET DIAGNOSTICS, FOUND, exception blocks as subtransactions, and
# the errors PostgreSQL raises (expected output from real PostgreSQL 15).
> CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0)
CREATE TABLE

> INSERT INTO item VALUES (1, 'apple', 5), (2, 'pear', 0), (3, 'plum', 12)
INSERT 0 3

> DO $$ BEGIN UPDATE item SET qty = qty + 1 WHERE id = 2; END $$
DO

> SELECT qty FROM item WHERE id = 2
qty
1

> CREATE FUNCTION add_one(a int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN a + 1; END $$
CREATE FUNCTION

> SELECT add_one(41), add_one(NULL)
add_one | add_one
42 | NULL

> SELECT id, add_one(qty) FROM item ORDER BY id
id | add_one
1 | 6
2 | 2
3 | 13

> CREATE FUNCTION classify(n int) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
> DECLARE
>   r text := 'none';
> BEGIN
>   IF n IS NULL THEN
>     r := 'null';
>   ELSIF n < 0 THEN
>     r := 'negative';
>   ELSIF n = 0 THEN
>     r := 'zero';
>   ELSE
>     r := 'positive';
>   END IF;
>   RETURN r;
> END $$
CREATE FUNCTION

> SELECT classify(-3), classify(0), classify(7), classify(NULL)
classify | classify | classify | classify
negative | zero | positive | null

> CREATE FUNCTION word(n int) RETURNS text LANGUAGE plpgsql AS $$
> BEGIN
>   CASE n
>     WHEN 1, 2 THEN RETURN 'small';
>     WHEN 3 THEN RETURN 'three';
>     ELSE RETURN 'big';
>   END CASE;
> END $$
CREATE FUNCTION

> SELECT word(1), word(3), word(9)
word | word | word
small | three | big

> CREATE FUNCTION sign_word(n int) RETURNS text LANGUAGE plpgsql AS $$
> BEGIN
>   CASE WHEN n > 0 THEN RETURN 'pos'; WHEN n < 0 THEN RETURN 'neg'; END CASE;
> END $$
CREATE FUNCTION

> SELECT sign_word(5)
sign_word
pos

> SELECT sign_word(0)
ERROR 20000: case not found

> CREATE FUNCTION sum_to(n int) RETURNS bigint LANGUAGE plpgsql AS $$
> DECLARE
>   total bigint := 0;
> BEGIN
>   FOR i IN 1..n LOOP
>     CONTINUE WHEN i % 2 = 0;
>     total := total + i;
>   END LOOP;
>   RETURN total;
> END $$
CREATE FUNCTION

> SELECT sum_to(10), sum_to(0)
sum_to | sum_to
25 | 0

> CREATE FUNCTION countdown(n int) RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   s text := '';
>   i int := n;
> BEGIN
>   WHILE i > 0 LOOP
>     s := s || i || ' ';
>     i := i - 1;
>   END LOOP;
>   FOR j IN REVERSE 10..1 BY 4 LOOP
>     s := s || '[' || j || ']';
>   END LOOP;
>   LOOP
>     i := i + 1;
>     EXIT WHEN i >= 3;
>   END LOOP;
>   RETURN s || i;
> END $$
CREATE FUNCTION

> SELECT countdown(4)
countdown
4 3 2 1 [10][6][2]3

> CREATE FUNCTION nested_exit() RETURNS int LANGUAGE plpgsql AS $$
> DECLARE
>   n int := 0;
> BEGIN
>   <<outer_loop>>
>   FOR a IN 1..5 LOOP
>     FOR b IN 1..5 LOOP
>       n := n + 1;
>       EXIT outer_loop WHEN a = 3 AND b = 2;
>       CONTINUE outer_loop WHEN b = 3;
>     END LOOP;
>   END LOOP;
>   RETURN n;
> END $$
CREATE FUNCTION

> SELECT nested_exit()
nested_exit
8

> CREATE FUNCTION total_qty() RETURNS int LANGUAGE plpgsql AS $$
> DECLARE
>   r record;
>   t int := 0;
> BEGIN
>   FOR r IN SELECT id, qty FROM item ORDER BY id LOOP
>     t := t + r.qty * r.id;
>   END LOOP;
>   RETURN t;
> END $$
CREATE FUNCTION

> SELECT total_qty()
total_qty
43

> CREATE FUNCTION name_of(i int) RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   n text;
> BEGIN
>   SELECT name INTO n FROM item WHERE id = i;
>   IF NOT FOUND THEN
>     RETURN 'missing';
>   END IF;
>   RETURN n;
> END $$
CREATE FUNCTION

> SELECT name_of(1), name_of(99)
name_of | name_of
apple | missing

> CREATE FUNCTION strict_name(i int) RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   n text;
> BEGIN
>   SELECT name INTO STRICT n FROM item WHERE id = i OR i = 0;
>   RETURN n;
> END $$
CREATE FUNCTION

> SELECT strict_name(3)
strict_name
plum

> SELECT strict_name(99)
ERROR P0002: query returned no rows

> SELECT strict_name(0)
ERROR P0003: query returned more than one row

> CREATE FUNCTION items_over(q int) RETURNS SETOF text LANGUAGE plpgsql AS $$
> DECLARE
>   r record;
> BEGIN
>   FOR r IN SELECT name FROM item WHERE qty > q ORDER BY id LOOP
>     RETURN NEXT upper(r.name);
>   END LOOP;
>   RETURN NEXT 'end';
> END $$
CREATE FUNCTION

> SELECT * FROM items_over(1)
items_over
APPLE
PLUM
end

> SELECT x FROM items_over(100) AS x
x
end

> CREATE FUNCTION item_table(min_qty int) RETURNS TABLE(item_id int, label text) LANGUAGE plpgsql AS $$
> BEGIN
>   RETURN QUERY SELECT id, name || ':' || qty FROM item WHERE qty >= min_qty ORDER BY id;
>   item_id := 0;
>   label := 'total';
>   RETURN NEXT;
> END $$
CREATE FUNCTION

> SELECT * FROM item_table(1)
item_id | label
1 | apple:5
2 | pear:1
3 | plum:12
0 | total

> SELECT label FROM item_table(10) WHERE item_id > 0
label
plum:12

> CREATE FUNCTION divmod(a int, b int, OUT q int, OUT r int) LANGUAGE plpgsql AS $$
> BEGIN
>   q := a / b;
>   r := a % b;
> END $$
CREATE FUNCTION

> SELECT * FROM divmod(17, 5)
q | r
3 | 2

> CREATE FUNCTION half(a numeric, OUT h numeric) LANGUAGE plpgsql AS $$ BEGIN h := a / 2; END $$
CREATE FUNCTION

> SELECT half(5)
half
2.5000000000000000

> CREATE FUNCTION dyn_count(tab text, min_id int) RETURNS bigint LANGUAGE plpgsql AS $$
> DECLARE
>   c bigint;
> BEGIN
>   EXECUTE 'SELECT count(*) FROM ' || quote_ident(tab) || ' WHERE id >= $1' INTO c USING min_id;
>   RETURN c;
> END $$
CREATE FUNCTION

> SELECT dyn_count('item', 2)
dyn_count
2

> SELECT dyn_count('nosuch', 2)
ERROR 42P01: relation "nosuch" does not exist

> CREATE FUNCTION bump(d int) RETURNS bigint LANGUAGE plpgsql AS $$
> DECLARE
>   n bigint;
> BEGIN
>   UPDATE item SET qty = qty + d WHERE qty > 0;
>   GET DIAGNOSTICS n = ROW_COUNT;
>   RETURN n;
> END $$
CREATE FUNCTION

> SELECT bump(1)
bump
3

> SELECT id, qty FROM item ORDER BY id
id | qty
1 | 6
2 | 2
3 | 13

> CREATE FUNCTION safe_div(a int, b int) RETURNS text LANGUAGE plpgsql AS $$
> BEGIN
>   RETURN (a / b)::text;
> EXCEPTION
>   WHEN division_by_zero THEN
>     RETURN 'div0 ' || SQLSTATE || ' ' || SQLERRM;
> END $$
CREATE FUNCTION

> SELECT safe_div(7, 2), safe_div(1, 0)
safe_div | safe_div
3 | div0 22012 division by zero

> CREATE FUNCTION try_insert(i int, n text) RETURNS text LANGUAGE plpgsql AS $$
> BEGIN
>   INSERT INTO item VALUES (i, n, 1);
>   INSERT INTO item VALUES (i, n, 1);
>   RETURN 'inserted';
> EXCEPTION
>   WHEN unique_violation THEN
>     RETURN 'duplicate ' || i;
> END $$
CREATE FUNCTION

> SELECT try_insert(10, 'fig')
try_insert
duplicate 10

> SELECT count(*) FROM item WHERE id = 10
count
0

> CREATE FUNCTION catch_class() RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   msg text;
>   st text;
> BEGIN
>   INSERT INTO item VALUES (20, NULL, 0);
>   RETURN 'no error';
> EXCEPTION
>   WHEN integrity_constraint_violation THEN
>     GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
>     RETURN st || ': ' || msg;
> END $$
CREATE FUNCTION

> SELECT catch_class()
catch_class
23502: null value in column "name" of relation "item" violates not-null constraint

> DO $$
> BEGIN
>   BEGIN
>     RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0001', DETAIL = 'some detail';
>   EXCEPTION WHEN raise_exception THEN
>     INSERT INTO item VALUES (30, 'caught ' || SQLERRM, 0);
>   END;
> END $$
DO

> SELECT name FROM item WHERE id = 30
name
caught custom failure

> DO $$ BEGIN RAISE EXCEPTION 'value % is bad', 42; END $$
ERROR P0001: value 42 is bad

> DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'unique_violation', MESSAGE = 'dup!'; END $$
ERROR 23505: dup!

> DO $$ BEGIN RAISE division_by_zero; END $$
ERROR 22012: division_by_zero

> DO $$ BEGIN RAISE SQLSTATE '22003'; END $$
ERROR 22003: 22003

> DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'not_a_condition'; END $$
ERROR 42704: unrecognized exception condition "not_a_condition"

> DO $$ BEGIN RAISE NOTICE 'hello %', 'world'; RAISE WARNING 'careful'; RAISE INFO 'info'; END $$
DO

> DO $$ BEGIN PERFORM 1/0; EXCEPTION WHEN others THEN RAISE; END $$
ERROR 22012: division by zero

> DO $$ BEGIN RAISE; END $$
ERROR 0Z002: RAISE without parameters cannot be used outside an exception handler

> DO $$ DECLARE c CONSTANT int := 1; BEGIN c := 2; END $$
ERROR 22005: variable "c" is declared CONSTANT

> DO $$ BEGIN x := 1; END $$
ERROR 42601: "x" is not a known variable

> DO $$ BEGIN SELECT 1; END $$
ERROR 42601: query has no destination for result data

> DO $$ BEGIN ASSERT 1 = 2, 'one is not two'; END $$
ERROR P0004: one is not two

> CREATE FUNCTION no_return(a int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM a; END $$
CREATE FUNCTION

> SELECT no_return(1)
ERROR 2F005: control reached end of function without RETURN

> CREATE FUNCTION bad_syntax() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1 END $$
ERROR 42601: syntax error at end of input

> CREATE OR REPLACE FUNCTION add_one(a int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN a + 100; END $$
CREATE FUNCTION

> SELECT add_one(1)
add_one
101

> CREATE FUNCTION fact(n int) RETURNS numeric LANGUAGE plpgsql AS $$
> BEGIN
>   IF n <= 1 THEN RETURN 1; END IF;
>   RETURN n * fact(n - 1);
> END $$
CREATE FUNCTION

> SELECT fact(20)
fact
2432902008176640000

> CREATE FUNCTION arr_sum(a int[]) RETURNS int LANGUAGE plpgsql AS $$
> DECLARE
>   x int;
>   s int := 0;
> BEGIN
>   FOREACH x IN ARRAY a LOOP
>     s := s + x;
>   END LOOP;
>   RETURN s;
> END $$
CREATE FUNCTION

> SELECT arr_sum(ARRAY[1, 2, 3, 4])
arr_sum
10

> CREATE FUNCTION typed(a int) RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   n item.name%TYPE;
>   r item%ROWTYPE;
> BEGIN
>   SELECT * INTO r FROM item WHERE id = a;
>   n := r.name;
>   RETURN n || '/' || r.qty;
> END $$
CREATE FUNCTION

> SELECT typed(3)
typed
plum/13

> BEGIN
BEGIN

> DO $$ BEGIN INSERT INTO item VALUES (40, 'in block', 0); END $$
DO

> ROLLBACK
ROLLBACK

> SELECT count(*) FROM item WHERE id = 40
count
0

> DROP FUNCTION add_one(int)
DROP FUNCTION

> SELECT add_one(1)
ERROR 42883: function add_one(integer) does not exist

# DDL inside PL/pgSQL: the migration pattern (create when missing) and dynamic DDL.
> DO $$
> BEGIN
>   IF NOT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'made_in_do') THEN
>     CREATE TABLE made_in_do (id int PRIMARY KEY, note text);
>     INSERT INTO made_in_do VALUES (1, 'first run');
>   END IF;
> END $$
DO

> DO $$
> BEGIN
>   IF NOT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'made_in_do') THEN
>     CREATE TABLE made_in_do (id int PRIMARY KEY, note text);
>   END IF;
>   INSERT INTO made_in_do VALUES (2, 'second run');
> END $$
DO

> SELECT id, note FROM made_in_do ORDER BY id
id | note
1 | first run
2 | second run

> CREATE FUNCTION make_log(suffix text) RETURNS text LANGUAGE plpgsql AS $$
> DECLARE
>   tab text := 'log_' || suffix;
> BEGIN
>   EXECUTE format('CREATE TABLE %I (id int, msg text)', tab);
>   EXECUTE format('INSERT INTO %I VALUES ($1, $2)', tab) USING 1, 'created';
>   RETURN tab;
> END $$
CREATE FUNCTION

> SELECT make_log('a')
make_log
log_a

> SELECT * FROM log_a
id | msg
1 | created

> SELECT make_log('a')
ERROR 42P07: relation "log_a" already exists

> DO $$ BEGIN ALTER TABLE made_in_do ADD COLUMN extra int DEFAULT 7; DROP TABLE log_a; END $$
DO

> SELECT id, extra FROM made_in_do ORDER BY id
id | extra
1 | 7
2 | 7

> SELECT count(*) FROM pg_tables WHERE tablename = 'log_a'
count
0

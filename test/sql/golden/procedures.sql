# Function parameter defaults and named arguments (f(a => 1), mixed with positional ones), CREATE PROCEDURE
# (PL/pgSQL and SQL bodies) and CALL (positional, named, defaults), DROP PROCEDURE, and the errors: a procedure
# in SELECT, CALL of a function, unknown names, missing arguments, defaults that are not trailing.
> CREATE FUNCTION add3(a int, b int DEFAULT 10, c int DEFAULT 100) RETURNS int LANGUAGE sql AS 'SELECT a + b + c'
CREATE FUNCTION

> SELECT add3(1) AS one, add3(1, 2) AS two, add3(1, 2, 3) AS three
one | two | three
111 | 103 | 6

> SELECT add3(1, c => 5) AS a, add3(c => 5, a => 1) AS b, add3(a => 1, b => 2) AS c
a | b | c
16 | 16 | 103

> SELECT add3()
ERROR 42883: function add3() does not exist

> SELECT add3(1, d => 2)
ERROR 42883: function add3(integer, d => integer) does not exist

> SELECT add3(a => 1, 2)
ERROR 42601: positional argument cannot follow named argument

> CREATE FUNCTION greet(name text, greeting text = 'hello') RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN greeting || ', ' || name; END $$
CREATE FUNCTION

> SELECT greet('ann') AS a, greet('bob', 'hi') AS b, greet(greeting => 'hey', name => 'cy') AS c
a | b | c
hello, ann | hi, bob | hey, cy

> CREATE FUNCTION bad(a int DEFAULT 1, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'
ERROR 42P13: input parameters after one with a default value must also have defaults

> SELECT x FROM add3(1, c => 0) AS x
x
11

> CREATE TABLE log (id serial PRIMARY KEY, msg text, n int)
CREATE TABLE

> CREATE PROCEDURE note(m text, n int DEFAULT 1) LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log (msg, n) VALUES (m, n); END $$
CREATE PROCEDURE

> CALL note('first')
CALL

> CALL note('second', 2)
CALL

> CALL note(n => 3, m => 'third')
CALL

> CREATE PROCEDURE note_sql(m text) LANGUAGE sql AS $$ INSERT INTO log (msg, n) VALUES (m, 0); INSERT INTO log (msg, n) VALUES (m || '!', 0); SELECT 1 $$
CREATE PROCEDURE

> CALL note_sql('sql')
CALL

> SELECT msg, n FROM log ORDER BY id
msg | n
first | 1
second | 2
third | 3
sql | 0
sql! | 0

> SELECT note('x')
ERROR 42809: note(unknown) is a procedure

> CALL add3(1)
ERROR 42809: add3(integer) is not a procedure

> CALL nope(1)
ERROR 42883: procedure nope(integer) does not exist

> BEGIN
BEGIN

> CALL note('rolled back')
CALL

> ROLLBACK
ROLLBACK

> SELECT count(*) FROM log WHERE msg = 'rolled back'
count
0

> SELECT proname, prokind FROM pg_proc WHERE proname IN ('note', 'add3') ORDER BY 1
proname | prokind
add3 | f
note | p

> SELECT proname, pg_get_function_arguments(oid) AS args FROM pg_proc WHERE proname IN ('add3', 'greet') ORDER BY 1
proname | args
add3 | a integer, b integer DEFAULT 10, c integer DEFAULT 100
greet | name text, greeting text DEFAULT 'hello'::text

> DROP PROCEDURE note
DROP PROCEDURE

> CALL note('gone')
ERROR 42883: procedure note(unknown) does not exist

> DROP PROCEDURE IF EXISTS note
DROP PROCEDURE

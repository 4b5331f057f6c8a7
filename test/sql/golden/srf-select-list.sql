# Set-returning functions in the select list (PostgreSQL 10+ semantics): a
# ProjectSet runs the select list's SRFs in lockstep per input row (rows =
# the longest one's count, shorter ones padded with NULL; an input row whose
# SRFs all return nothing disappears); they run after aggregation and window
# functions unless GROUP BY reads them; and the clauses that refuse them.
> CREATE TABLE t (id int PRIMARY KEY, x int, tags text[], doc jsonb)
CREATE TABLE

> INSERT INTO t VALUES (1, 2, '{a,b}', '{"items": [1, "a"]}'), (2, 0, '{}', '{"items": []}'), (3, 3, NULL, NULL)
INSERT 0 3

> SELECT generate_series(1, 3)
generate_series
1
2
3

> SELECT generate_series(1, 3) AS g ORDER BY g DESC
g
3
2
1

> SELECT generate_series(1, 3) + 1 AS g, -generate_series(1, 3) AS n, generate_series(1, 3)::text || 'x' AS s
g | n | s
2 | -1 | 1x
3 | -2 | 2x
4 | -3 | 3x

> SELECT unnest(ARRAY[1, 2]) AS a, unnest(ARRAY['a', 'b', 'c']) AS b
a | b
1 | a
2 | b
NULL | c

> SELECT unnest(ARRAY[1, 2]) AS a, generate_series(1, 3) AS b ORDER BY a NULLS FIRST
a | b
NULL | 3
1 | 1
2 | 2

> SELECT id, unnest(tags) FROM t ORDER BY 1, 2
id | unnest
1 | a
1 | b

> SELECT id, jsonb_array_elements(doc -> 'items') AS e FROM t ORDER BY id, e
id | e
1 | "a"
1 | 1

> SELECT x, generate_series(1, x) FROM t ORDER BY 1, 2
x | generate_series
2 | 1
2 | 2
3 | 1
3 | 2
3 | 3

> SELECT generate_series(1, 0)
generate_series

> SELECT 1 AS one, generate_series(1, NULL::int)
one | generate_series

> SELECT generate_series(1, generate_series(1, 3))
generate_series
1
1
2
1
2
3

> SELECT generate_series(1, 3) AS a, generate_series(1, generate_series(1, 2)) AS b
a | b
1 | 1
2 | 1
2 | 2

> SELECT count(*), generate_series(1, 2) FROM t
count | generate_series
3 | 1
3 | 2

> SELECT generate_series(1, count(*)::int) AS g FROM t
g
1
2
3

> SELECT x, generate_series(1, 2) AS g FROM t GROUP BY x ORDER BY 1, 2
x | g
0 | 1
0 | 2
2 | 1
2 | 2
3 | 1
3 | 2

> SELECT generate_series(1, 2) AS g, count(*) FROM t GROUP BY g ORDER BY 1
g | count
1 | 3
2 | 3

> SELECT generate_series(1, 2) + 1 AS g, count(*) FROM t GROUP BY generate_series(1, 2) ORDER BY 1
g | count
2 | 3
3 | 3

> SELECT generate_series(1, 3) AS g GROUP BY 1 ORDER BY 1
g
1
2
3

> SELECT DISTINCT generate_series(1, 6) % 3 AS r ORDER BY r
r
0
1
2

> SELECT generate_series(1, 10) AS g LIMIT 3
g
1
2
3

> SELECT generate_series(1, 10) AS g ORDER BY g DESC LIMIT 2 OFFSET 1
g
9
8

> SELECT 1 AS one ORDER BY generate_series(1, 3)
one
1
1
1

> SELECT row_number() OVER (), generate_series(1, 2)
row_number | generate_series
1 | 1
1 | 2

> SELECT generate_series(1, 2) AS g, *  FROM t ORDER BY id, g LIMIT 3
g | id | x | tags | doc
1 | 1 | 2 | {a,b} | {"items": [1, "a"]}
2 | 1 | 2 | {a,b} | {"items": [1, "a"]}
1 | 2 | 0 | {} | {"items": []}

> SELECT random() >= 0 AS r, generate_series(1, 2) AS g
r | g
t | 1
t | 2

> SELECT jsonb_each('{"a": 1, "b": [2]}') AS e
e
(a,1)
(b,[2])

> SELECT jsonb_object_keys('{"a": 1, "b": 2}') AS k
k
a
b

> SELECT generate_subscripts(ARRAY[5, 6, 7], 1) AS s
s
1
2
3

> SELECT generate_series('2020-01-01'::timestamp, '2020-01-03'::timestamp, '1 day') AS d
d
2020-01-01 00:00:00
2020-01-02 00:00:00
2020-01-03 00:00:00

> SELECT jsonb_array_elements('[[1], [2, 3]]') -> 0 AS e
e
1
2

> SELECT abs(generate_series(-2, 0)) AS a, nullif(generate_series(1, 3), 2) AS n, greatest(generate_series(1, 3), 2) AS g
a | n | g
2 | 1 | 2
1 | NULL | 2
0 | 3 | 3

> SELECT array(SELECT generate_series(1, 3)) AS a
a
{1,2,3}

> SELECT * FROM t WHERE x IN (SELECT generate_series(1, 2)) ORDER BY id
id | x | tags | doc
1 | 2 | {a,b} | {"items": [1, "a"]}

> SELECT s.g FROM (SELECT generate_series(1, 3) AS g) s WHERE s.g > 1 ORDER BY 1
g
2
3

> SELECT generate_series(1, 2) AS g UNION ALL SELECT 9 ORDER BY 1
g
1
2
9

> SELECT pg_typeof(generate_series(1, 2)) AS t
t
integer
integer

> INSERT INTO t (id) SELECT generate_series(20, 21) RETURNING id
id
20
21

> SELECT count(*) FROM t
count
5

> CREATE FUNCTION evens(n int) RETURNS SETOF int LANGUAGE sql AS 'SELECT g * 2 FROM generate_series(1, n) g'
CREATE FUNCTION

> SELECT evens(3) AS e
e
2
4
6

> SELECT id, evens(x) AS e FROM t WHERE id < 10 ORDER BY id, e
id | e
1 | 2
1 | 4
3 | 2
3 | 4
3 | 6

> CREATE FUNCTION countdown(n int) RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN FOR i IN REVERSE n..1 LOOP RETURN NEXT i; END LOOP; END $$
CREATE FUNCTION

> SELECT countdown(3) AS c, generate_series(1, 4) AS g
c | g
3 | 1
2 | 2
1 | 3
NULL | 4

# A strict operator with a constant NULL operand folds away the function (PostgreSQL's planner does): one row.
> SELECT NULL::int + generate_series(3, 4) AS n
n
NULL

> SELECT id, abs(NULL) + generate_series(1, 3) AS n FROM t ORDER BY id
id | n
1 | NULL
2 | NULL
3 | NULL
20 | NULL
21 | NULL

# A window's PARTITION BY / ORDER BY reads the function: it runs below the window.
> SELECT id, row_number() OVER (PARTITION BY generate_series(1, 2) ORDER BY id) AS r FROM t ORDER BY 1, 2
id | r
1 | 1
1 | 1
2 | 2
2 | 2
3 | 3
3 | 3
20 | 4
20 | 4
21 | 5
21 | 5

> SELECT generate_series(1, 2) AS g, sum(id) OVER (PARTITION BY generate_series(1, 2)) AS s FROM t ORDER BY 1, 2
g | s
1 | 47
1 | 47
1 | 47
1 | 47
1 | 47
2 | 47
2 | 47
2 | 47
2 | 47
2 | 47

> SELECT id, rank() OVER (ORDER BY generate_series(1, id % 3) DESC) AS r FROM t ORDER BY 1, 2
id | r
1 | 3
2 | 1
2 | 3
20 | 1
20 | 3

> SELECT count(*), row_number() OVER (ORDER BY generate_series(1, 3)) AS r FROM t
count | r
5 | 1
5 | 2
5 | 3

> SELECT count(*) FROM t GROUP BY generate_series(1, 2), x ORDER BY 1
count
1
1
1
1
1
1
2
2

> SELECT generate_series(1, 2) AS g, x FROM t WHERE id < 10 GROUP BY CUBE (g, x) ORDER BY 1, 2
g | x
1 | 0
1 | 2
1 | 3
1 | NULL
2 | 0
2 | 2
2 | 3
2 | NULL
NULL | 0
NULL | 2
NULL | 3
NULL | NULL

> SELECT generate_series(1, 2) AS g FROM t WHERE false
g

# One VALUES row of an INSERT may call them: a row is inserted per value.
> CREATE TABLE v (id int PRIMARY KEY, x int DEFAULT 7)
CREATE TABLE

> INSERT INTO v (id) VALUES (generate_series(1, 3)) RETURNING *
id | x
1 | 7
2 | 7
3 | 7

> INSERT INTO v VALUES (unnest(ARRAY[10, 11, 12]), generate_series(1, 2)) RETURNING *
id | x
10 | 1
11 | 2
12 | NULL

# In views, CREATE TABLE AS, CTEs, joins of derived tables and PL/pgSQL queries.
> CREATE VIEW sv AS SELECT generate_series(1, 3) AS g, 'x' AS s
CREATE VIEW

> SELECT * FROM sv WHERE g > 1 ORDER BY g
g | s
2 | x
3 | x

> CREATE TABLE ctas AS SELECT unnest(ARRAY['a', 'b']) AS u
SELECT 2

> SELECT * FROM ctas ORDER BY u
u
a
b

> WITH w AS (SELECT generate_series(1, 3) AS g) SELECT sum(g) FROM w
sum
6

> SELECT * FROM (SELECT generate_series(1, 3) AS g) s JOIN (SELECT generate_series(2, 4) AS h) s2 ON g = h ORDER BY g
g | h
2 | 2
3 | 3

> CREATE FUNCTION rq() RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT generate_series(1, 3); END $$
CREATE FUNCTION

> SELECT rq() AS r, generate_series(1, 2) AS g
r | g
1 | 1
2 | 2
3 | NULL

# A function with several result columns: a record, its fields by (f(x)).name or all of them by (f(x)).*.
> SELECT id, (jsonb_each(doc)).key FROM t WHERE doc IS NOT NULL ORDER BY 1, 2
id | key
1 | items
2 | items

> SELECT (jsonb_each('{"a": 1, "b": [2]}')).* ORDER BY 1
key | value
a | 1
b | [2]

> SELECT (jsonb_each('{"a": 1, "b": [2]}')).value, (jsonb_each('{"a": 1, "b": [2]}')).key ORDER BY 2
value | key
1 | a
[2] | b

> SELECT (jsonb_each('{"a": 1}')).nope
ERROR 42703: could not identify column "nope" in record data type

> CREATE FUNCTION pairs(n int) RETURNS TABLE (k int, v text) LANGUAGE sql AS 'SELECT g, g::text || ''x'' FROM generate_series(1, n) g'
CREATE FUNCTION

> SELECT pairs(2) AS p
p
(1,1x)
(2,2x)

> SELECT (pairs(3)).v, (pairs(3)).k
v | k
1x | 1
2x | 2
3x | 3

> SELECT (pairs(2)).*
k | v
1 | 1x
2 | 2x

> CREATE FUNCTION plpairs(n int) RETURNS TABLE (k int, v text) LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..n LOOP k := i; v := 'p' || i; RETURN NEXT; END LOOP; END $$
CREATE FUNCTION

> SELECT id, (plpairs(id)).* FROM t WHERE id < 3 ORDER BY 1, 2
id | k | v
1 | 1 | p1
2 | 1 | p1
2 | 2 | p2

> SELECT (SELECT generate_series(1, t.id) LIMIT 1) AS f FROM t ORDER BY 1
f
1
1
1
1
1

> SELECT t.id, s.g FROM t, LATERAL (SELECT generate_series(1, t.id) AS g) s WHERE t.id < 3 ORDER BY 1, 2
id | g
1 | 1
2 | 1
2 | 2

# Where PostgreSQL refuses them.
> INSERT INTO v VALUES (generate_series(20, 21)), (3)
ERROR 0A000: set-returning functions are not allowed in VALUES

> UPDATE v SET x = generate_series(1, 2)
ERROR 0A000: set-returning functions are not allowed in UPDATE

> INSERT INTO v VALUES (30, 1) ON CONFLICT (id) DO UPDATE SET x = generate_series(1, 2)
ERROR 0A000: set-returning functions are not allowed in UPDATE

> CREATE TABLE d (a int DEFAULT generate_series(1, 2))
ERROR 0A000: set-returning functions are not allowed in DEFAULT expressions

> CREATE INDEX ON v ((generate_series(1, 2)))
ERROR 0A000: set-returning functions are not allowed in index expressions

> CREATE INDEX ON v (x) WHERE generate_series(1, 2) > 0
ERROR 0A000: set-returning functions are not allowed in index predicates

> SELECT generate_series(1, 2) BETWEEN 1 AND 2
ERROR 42804: argument of AND must not return a set

> SELECT 1 WHERE generate_series(1, 2) > 1
ERROR 0A000: set-returning functions are not allowed in WHERE

> SELECT 1 FROM t JOIN t t2 ON generate_series(1, 2) = 1
ERROR 0A000: set-returning functions are not allowed in JOIN conditions

> SELECT count(generate_series(1, 2))
ERROR 0A000: aggregate function calls cannot contain set-returning function calls

> SELECT array_agg(x ORDER BY generate_series(1, 2)) FROM t
ERROR 0A000: aggregate function calls cannot contain set-returning function calls

> SELECT sum(x) FILTER (WHERE generate_series(1, 2) > 0) FROM t
ERROR 0A000: set-returning functions are not allowed in FILTER

> SELECT lag(generate_series(1, 2)) OVER ()
ERROR 0A000: window function calls cannot contain set-returning function calls

> SELECT CASE WHEN x > 1 THEN generate_series(1, 2) END FROM t
ERROR 0A000: set-returning functions are not allowed in CASE

> SELECT CASE generate_series(1, 2) WHEN 1 THEN 'a' END
ERROR 0A000: set-returning functions are not allowed in CASE

> SELECT coalesce(generate_series(1, 2), 0)
ERROR 0A000: set-returning functions are not allowed in COALESCE

> SELECT 1 LIMIT generate_series(1, 2)
ERROR 0A000: set-returning functions are not allowed in LIMIT

> SELECT 1 OFFSET generate_series(1, 2)
ERROR 0A000: set-returning functions are not allowed in OFFSET

> SELECT x FROM t GROUP BY x HAVING generate_series(1, 2) > 1
ERROR 0A000: set-returning functions are not allowed in HAVING

> VALUES (generate_series(1, 2))
ERROR 0A000: set-returning functions are not allowed in VALUES

> SELECT * FROM (VALUES (generate_series(1, 2))) v
ERROR 0A000: set-returning functions are not allowed in VALUES

> UPDATE t SET x = 1 WHERE id = 1 RETURNING generate_series(1, 2)
ERROR 0A000: set-returning functions are not allowed in RETURNING

> SELECT * FROM generate_series(generate_series(1, 2), 3)
ERROR 0A000: set-returning functions must appear at top level of FROM

> SELECT NOT generate_series(1, 2) > 1
ERROR 42804: argument of NOT must not return a set

> SELECT true AND generate_series(1, 2) > 0
ERROR 42804: argument of AND must not return a set

> SELECT (SELECT x FROM t WHERE generate_series(1, 2) = 1 LIMIT 1)
ERROR 0A000: set-returning functions are not allowed in WHERE

> SELECT id, generate_series(1, 2) FROM t FOR UPDATE
ERROR 0A000: FOR UPDATE is not allowed with set-returning functions in the target list

> SELECT generate_series(1, 2) FILTER (WHERE true)
ERROR 42809: FILTER specified, but generate_series is not an aggregate function

# Subqueries, CTEs, generate_series and window functions.
> CREATE TABLE t (a int, b int)
CREATE TABLE

> INSERT INTO t VALUES (1, 10), (2, 20), (3, NULL), (4, 20)
INSERT 0 4

> SELECT a, (SELECT max(b) FROM t) FROM t ORDER BY a
a | max
1 | 20
2 | 20
3 | 20
4 | 20

> SELECT a FROM t WHERE b = (SELECT min(b) FROM t)
a
1

> SELECT a FROM t x WHERE EXISTS (SELECT 1 FROM t y WHERE y.b = x.b AND y.a <> x.a) ORDER BY a
a
2
4

> SELECT a, (SELECT count(*) FROM t y WHERE y.a < x.a) FROM t x ORDER BY a
a | count
1 | 0
2 | 1
3 | 2
4 | 3

> SELECT a FROM t WHERE b IN (SELECT b FROM t WHERE a > 1) ORDER BY a
a
2
4

> SELECT a FROM t WHERE b NOT IN (SELECT b FROM t WHERE a < 3) ORDER BY a
a

> SELECT a FROM t WHERE b NOT IN (SELECT b FROM t WHERE a = 1) ORDER BY a
a
2
4

> SELECT a FROM t WHERE b > ALL (SELECT b FROM t WHERE a < 2) ORDER BY a
a
2
4

> SELECT a FROM t WHERE b > ANY (SELECT b FROM t) ORDER BY a
a
2
4

> SELECT (SELECT a FROM t)
ERROR 21000: more than one row returned by a subquery used as an expression

> SELECT ARRAY(SELECT a FROM t ORDER BY a DESC)
array
{4,3,2,1}

> WITH big AS (SELECT * FROM t WHERE b >= 20) SELECT count(*) FROM big
count
2

> WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n), max(n) FROM r
sum | max
15 | 5

> WITH RECURSIVE fib(i, x, y) AS (SELECT 1, 0::numeric, 1::numeric UNION ALL SELECT i + 1, y, x + y FROM fib WHERE i < 80) SELECT x FROM fib WHERE i = 80
x
14472334024676221

> SELECT * FROM generate_series(1, 3) g, generate_series(10, 30, 10) h ORDER BY 1, 2
g | h
1 | 10
1 | 20
1 | 30
2 | 10
2 | 20
2 | 30
3 | 10
3 | 20
3 | 30

> SELECT g FROM generate_series(5, 1, -2) AS g
g
5
3
1

> SELECT a, b, row_number() OVER (ORDER BY a), rank() OVER (ORDER BY b), dense_rank() OVER (ORDER BY b), sum(a) OVER (PARTITION BY b), lag(a) OVER (ORDER BY a), lead(a, 2, 0) OVER (ORDER BY a) FROM t ORDER BY a
a | b | row_number | rank | dense_rank | sum | lag | lead
1 | 10 | 1 | 1 | 1 | 1 | NULL | 3
2 | 20 | 2 | 2 | 2 | 6 | 1 | 4
3 | NULL | 3 | 4 | 3 | 3 | 2 | 0
4 | 20 | 4 | 2 | 2 | 6 | 3 | 0

> SELECT a, sum(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), avg(a) OVER (), first_value(a) OVER (ORDER BY a DESC), count(*) OVER (ORDER BY b) FROM t ORDER BY a
a | sum | avg | first_value | count
1 | 3 | 2.5000000000000000 | 4 | 1
2 | 6 | 2.5000000000000000 | 4 | 3
3 | 9 | 2.5000000000000000 | 4 | 4
4 | 7 | 2.5000000000000000 | 4 | 3

> SELECT b, count(*), sum(count(*)) OVER () FROM t GROUP BY b ORDER BY b
b | count | sum
10 | 1 | 4
20 | 2 | 4
NULL | 1 | 4

> SELECT string_agg(a::text, ',' ORDER BY a DESC), array_agg(a ORDER BY a), count(DISTINCT b), sum(a) FILTER (WHERE b > 10), bool_and(a > 0), bool_or(a > 3) FROM t
string_agg | array_agg | count | sum | bool_and | bool_or
4,3,2,1 | {1,2,3,4} | 2 | 6 | t | t

> SELECT x FROM (SELECT a * 2 AS x FROM t) s WHERE x > 4 ORDER BY x
x
6
8

> SELECT t.a, s.x FROM t, LATERAL (SELECT t.a * 2 AS x) s ORDER BY 1
a | x
1 | 2
2 | 4
3 | 6
4 | 8

> SELECT t.a, g FROM t, generate_series(1, t.a) g WHERE t.a < 3 ORDER BY 1, 2
a | g
1 | 1
2 | 1
2 | 2

> SELECT t.a, s.c FROM t LEFT JOIN LATERAL (SELECT count(*) AS c FROM t y WHERE y.a > t.a HAVING count(*) > 1) s ON true ORDER BY 1
a | c
1 | 3
2 | 2
3 | NULL
4 | NULL

> SELECT b, a, count(*) FROM t GROUP BY ROLLUP (b, a) ORDER BY 1, 2
b | a | count
10 | 1 | 1
10 | NULL | 1
20 | 2 | 1
20 | 4 | 1
20 | NULL | 2
NULL | 3 | 1
NULL | NULL | 1
NULL | NULL | 4

> SELECT b, count(*) FROM t GROUP BY CUBE (b) ORDER BY 1 NULLS FIRST, 2
b | count
NULL | 1
NULL | 4
10 | 1
20 | 2

> SELECT a > 2 AS big, b, sum(a) FROM t GROUP BY GROUPING SETS ((a > 2), (b), ()) ORDER BY 1, 2, 3
big | b | sum
f | NULL | 3
t | NULL | 7
NULL | 10 | 1
NULL | 20 | 6
NULL | NULL | 3
NULL | NULL | 10

> SELECT (SELECT x FROM (SELECT t.a AS x) s) FROM t ORDER BY 1
x
1
2
3
4

> SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a), percentile_disc(0.5) WITHIN GROUP (ORDER BY a), percentile_cont(0.25) WITHIN GROUP (ORDER BY b), mode() WITHIN GROUP (ORDER BY b) FROM t
percentile_cont | percentile_disc | percentile_cont | mode
2.5 | 2 | 15 | 20

> SELECT b, percentile_disc(0.9) WITHIN GROUP (ORDER BY a DESC) FROM t GROUP BY b ORDER BY b
b | percentile_disc
10 | 1
20 | 2
NULL | 3

> SELECT b, a, GROUPING(b), GROUPING(b, a), count(*) FROM t GROUP BY ROLLUP (b, a) ORDER BY 4, 1, 2
b | a | grouping | grouping | count
10 | 1 | 0 | 0 | 1
20 | 2 | 0 | 0 | 1
20 | 4 | 0 | 0 | 1
NULL | 3 | 0 | 0 | 1
10 | NULL | 0 | 1 | 1
20 | NULL | 0 | 1 | 2
NULL | NULL | 0 | 1 | 1
NULL | NULL | 1 | 3 | 4

> SELECT a, GROUPING(a) FROM t GROUP BY a ORDER BY 1
a | grouping
1 | 0
2 | 0
3 | 0
4 | 0

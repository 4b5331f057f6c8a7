# CASE and COALESCE evaluate only what they need: a subquery (or nextval())
# in a branch not taken never runs, so its error or side effect never happens.
> CREATE TABLE n (id int PRIMARY KEY, d int)
CREATE TABLE

> INSERT INTO n VALUES (1, 0), (2, 5), (3, NULL)
INSERT 0 3

> CREATE SEQUENCE s
CREATE SEQUENCE

> SELECT id, CASE WHEN d = 0 THEN 'zero' ELSE (SELECT (100 / n2.d)::text FROM n n2 WHERE n2.id = n.id) END AS r FROM n ORDER BY id
id | r
1 | zero
2 | 20
3 | NULL

> SELECT id, CASE WHEN d <> 0 THEN (SELECT 10 / d) END AS r FROM n ORDER BY id
id | r
1 | NULL
2 | 2
3 | NULL

> SELECT id, CASE WHEN id > 5 THEN (SELECT 1 / (id - id)) ELSE 7 END AS r FROM n ORDER BY id
id | r
1 | 7
2 | 7
3 | 7

> SELECT CASE WHEN true THEN 7 ELSE (SELECT 1 / 0) END AS r
r
7

> SELECT CASE WHEN (SELECT count(*) FROM n) > 2 THEN 'many' WHEN (SELECT 1 / (count(*) - count(*)) FROM n) = 1 THEN 'never' END AS r
r
many

> SELECT id, CASE WHEN id = 1 THEN nextval('s') END AS v FROM n ORDER BY id
id | v
1 | 1
2 | NULL
3 | NULL

> SELECT nextval('s') AS next
next
2

> SELECT id, COALESCE(d, (SELECT 100 / (d - d) FROM n n2 WHERE n2.id = n.id), -1) AS c FROM n WHERE d IS NOT NULL ORDER BY id
id | c
1 | 0
2 | 5

> SELECT COALESCE(1, (SELECT 1 / 0)) AS c
c
1

> SELECT id, CASE WHEN d IS NULL THEN CASE WHEN id = 3 THEN 'null3' ELSE (SELECT 'x' || (1 / (id - id))) END ELSE 'set' END AS r FROM n ORDER BY id
id | r
1 | set
2 | set
3 | null3

> UPDATE n SET d = CASE WHEN id = 2 THEN (SELECT max(id) FROM n) ELSE d END RETURNING id, d
id | d
1 | 0
2 | 3
3 | NULL

# A branch that is taken still raises its error.
> SELECT id, CASE WHEN d = 0 THEN (SELECT 1 / d) ELSE 1 END AS r FROM n ORDER BY id
ERROR 22012: division by zero

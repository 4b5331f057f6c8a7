# SELECT: filters, ordering, limits, grouping, joins, set operations.
> CREATE TABLE emp (id int PRIMARY KEY, name text NOT NULL, dept text, salary numeric(10,2), boss int)
CREATE TABLE

> INSERT INTO emp VALUES (1, 'ann', 'eng', 120.50, NULL), (2, 'bob', 'eng', 100, 1), (3, 'cid', 'ops', 90, 1), (4, 'dee', NULL, 80, 3), (5, 'eve', 'ops', NULL, 3)
INSERT 0 5

> SELECT name FROM emp WHERE salary > 85 ORDER BY salary DESC
name
ann
bob
cid

> SELECT name, salary FROM emp ORDER BY salary NULLS FIRST, name
name | salary
eve | NULL
dee | 80.00
cid | 90.00
bob | 100.00
ann | 120.50

> SELECT name FROM emp ORDER BY id LIMIT 2 OFFSET 1
name
bob
cid

> SELECT name FROM emp ORDER BY id OFFSET 3
name
dee
eve

> SELECT name FROM emp ORDER BY id FETCH FIRST 2 ROWS ONLY
name
ann
bob

> SELECT DISTINCT dept FROM emp ORDER BY dept
dept
eng
ops
NULL

> SELECT DISTINCT ON (dept) dept, name FROM emp ORDER BY dept, salary DESC
dept | name
eng | ann
ops | eve
NULL | dee

> SELECT dept, count(*), count(salary), sum(salary), avg(salary), min(name), max(salary) FROM emp GROUP BY dept ORDER BY dept
dept | count | count | sum | avg | min | max
eng | 2 | 2 | 220.50 | 110.2500000000000000 | ann | 120.50
ops | 2 | 1 | 90.00 | 90.0000000000000000 | cid | 90.00
NULL | 1 | 1 | 80.00 | 80.0000000000000000 | dee | 80.00

> SELECT dept, count(*) FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY 1
dept | count
eng | 2
ops | 2

> SELECT count(*), sum(salary) FROM emp WHERE false
count | sum
0 | NULL

> SELECT dept, name FROM emp GROUP BY dept
ERROR 42803: column "emp.name" must appear in the GROUP BY clause or be used in an aggregate function

> SELECT e.name, b.name AS boss FROM emp e JOIN emp b ON e.boss = b.id ORDER BY e.id
name | boss
bob | ann
cid | ann
dee | cid
eve | cid

> SELECT e.name, b.name AS boss FROM emp e LEFT JOIN emp b ON e.boss = b.id ORDER BY e.id
name | boss
ann | NULL
bob | ann
cid | ann
dee | cid
eve | cid

> SELECT e.name, b.name FROM emp e RIGHT JOIN emp b ON e.boss = b.id ORDER BY b.id, e.id
name | name
bob | ann
cid | ann
NULL | bob
dee | cid
eve | cid
NULL | dee
NULL | eve

> SELECT a.x, b.y FROM (VALUES (1), (2)) a(x) FULL JOIN (VALUES (2), (3)) b(y) ON a.x = b.y ORDER BY 1, 2
x | y
1 | NULL
2 | 2
NULL | 3

> SELECT count(*) FROM emp a CROSS JOIN emp b
count
25

> SELECT name FROM emp JOIN (VALUES ('eng', 'Engineering')) d(dept, title) USING (dept) ORDER BY name
name
ann
bob

> SELECT * FROM (VALUES (1, 'a')) x(id, v) NATURAL JOIN (VALUES (1, 'b')) y(id, w)
id | v | w
1 | a | b

> SELECT dept FROM emp WHERE dept IS NOT NULL UNION SELECT 'hr' ORDER BY 1
dept
eng
hr
ops

> SELECT dept FROM emp UNION ALL SELECT dept FROM emp ORDER BY 1 NULLS LAST LIMIT 4
dept
eng
eng
eng
eng

> SELECT id FROM emp INTERSECT SELECT boss FROM emp ORDER BY 1
id
1
3

> SELECT id FROM emp EXCEPT SELECT boss FROM emp ORDER BY 1
id
2
4
5

> SELECT x FROM (VALUES (1), (1), (2)) v(x) EXCEPT ALL SELECT 1 ORDER BY 1
x
1
2

> SELECT name, CASE WHEN salary >= 100 THEN 'high' WHEN salary IS NULL THEN 'none' ELSE 'low' END, COALESCE(dept, '-'), NULLIF(dept, 'eng'), GREATEST(id, 3), LEAST(id, 3) FROM emp ORDER BY id
name | case | coalesce | nullif | greatest | least
ann | high | eng | NULL | 3 | 1
bob | high | eng | NULL | 3 | 2
cid | low | ops | ops | 3 | 3
dee | low | - | NULL | 4 | 3
eve | none | ops | ops | 5 | 3

> SELECT name FROM emp WHERE name LIKE '_e%' OR name ILIKE 'A%' ORDER BY 1
name
ann
dee

> SELECT name FROM emp WHERE id BETWEEN 2 AND 4 AND dept IN ('eng', 'ops') ORDER BY 1
name
bob
cid

> SELECT name FROM emp WHERE dept NOT IN ('eng') ORDER BY 1
name
cid
eve

> SELECT upper(name), length(name), substr(name, 2), name || '!' || id, concat(name, NULL, id), replace(name, 'e', 'E'), lpad(name, 5, '*'), trim('  x  '), position('e' IN name) FROM emp ORDER BY id LIMIT 3
upper | length | substr | ?column? | concat | replace | lpad | btrim | position
ANN | 3 | nn | ann!1 | ann1 | ann | **ann | x | 0
BOB | 3 | ob | bob!2 | bob2 | bob | **bob | x | 0
CID | 3 | id | cid!3 | cid3 | cid | **cid | x | 0

> SELECT abs(-5), mod(10, 3), power(2, 10), sqrt(16), floor(-1.5), ceil(1.2), sign(-3), greatest(1.5, 2)
abs | mod | power | sqrt | floor | ceil | sign | greatest
5 | 1 | 1024 | 4 | -2 | 2 | -1 | 2

> SELECT nosuch FROM emp
ERROR 42703: column "nosuch" does not exist

> SELECT * FROM nosuch
ERROR 42P01: relation "nosuch" does not exist

> SELECT id FROM emp, emp
ERROR 42712: table name "emp" specified more than once

> SELECT 1 FROM emp e JOIN emp f ON true WHERE id = 1
ERROR 42702: column reference "id" is ambiguous

> SELECT 'a_c' LIKE 'a\_c', 'abc' LIKE 'a\_c', 'a%c' LIKE 'a#%c' ESCAPE '#', 'abc' LIKE 'a#%c' ESCAPE '#', 'ABC' ILIKE 'a!_c' ESCAPE '!'
?column? | ?column? | ?column? | ?column? | ?column?
t | f | t | f | f

> SELECT 'abc' SIMILAR TO 'a(b|x)c', 'abd' SIMILAR TO 'a(b|x)c', 'aaa' SIMILAR TO 'a+', 'a.c' SIMILAR TO 'a.c', 'abc' SIMILAR TO 'a.c', 'ab' NOT SIMILAR TO '%b'
?column? | ?column? | ?column? | ?column? | ?column? | ?column?
t | f | t | t | f | f

> SELECT * FROM (VALUES (1, 'a'), (2, 'b')) x(id, v) FULL JOIN (VALUES (2, 'B'), (3, 'C')) y(id, w) USING (id) ORDER BY id
id | v | w
1 | a | NULL
2 | b | B
3 | NULL | C

> SELECT id, x.id, y.id FROM (VALUES (1), (2)) x(id) NATURAL FULL JOIN (VALUES (2), (3)) y(id) ORDER BY 1
id | id | id
1 | 1 | NULL
2 | 2 | 2
3 | NULL | 3

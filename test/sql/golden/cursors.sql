# SQL cursors: DECLARE [NO] SCROLL CURSOR [WITH HOLD] FOR query, FETCH/MOVE in every direction (NEXT, PRIOR,
# FIRST, LAST, ABSOLUTE n, RELATIVE n, n, ALL, FORWARD/BACKWARD), CLOSE / CLOSE ALL, pg_cursors, the end of a
# cursor with its transaction, WITH HOLD across COMMIT, and the errors (25P01, 34000, 42P03, 55000).
> CREATE TABLE c (id int PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO c SELECT g, 'v' || g FROM generate_series(1, 10) g
INSERT 0 10

> DECLARE cur CURSOR FOR SELECT * FROM c ORDER BY id
ERROR 25P01: DECLARE CURSOR can only be used in transaction blocks

> FETCH cur
ERROR 34000: cursor "cur" does not exist

> BEGIN
BEGIN

> DECLARE cur SCROLL CURSOR FOR SELECT id, v FROM c ORDER BY id
DECLARE CURSOR

> DECLARE cur CURSOR FOR SELECT 1
ERROR 42P03: cursor "cur" already exists

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> DECLARE cur SCROLL CURSOR FOR SELECT id, v FROM c ORDER BY id
DECLARE CURSOR

> FETCH cur
id | v
1 | v1

> FETCH NEXT FROM cur
id | v
2 | v2

> FETCH 3 FROM cur
id | v
3 | v3
4 | v4
5 | v5

> FETCH FORWARD 2 IN cur
id | v
6 | v6
7 | v7

> FETCH PRIOR FROM cur
id | v
6 | v6

> FETCH BACKWARD 2 FROM cur
id | v
5 | v5
4 | v4

> FETCH RELATIVE 0 FROM cur
id | v
4 | v4

> FETCH FORWARD 0 FROM cur
id | v
4 | v4

> FETCH RELATIVE 3 FROM cur
id | v
7 | v7

> FETCH RELATIVE -2 FROM cur
id | v
5 | v5

> FETCH FIRST FROM cur
id | v
1 | v1

> FETCH LAST FROM cur
id | v
10 | v10

> FETCH NEXT FROM cur
id | v

> FETCH NEXT FROM cur
id | v

> FETCH PRIOR FROM cur
id | v
10 | v10

> FETCH ABSOLUTE 3 FROM cur
id | v
3 | v3

> FETCH ABSOLUTE -2 FROM cur
id | v
9 | v9

> FETCH ABSOLUTE 20 FROM cur
id | v

> FETCH PRIOR FROM cur
id | v
10 | v10

> FETCH ABSOLUTE 0 FROM cur
id | v

> FETCH NEXT FROM cur
id | v
1 | v1

> MOVE FORWARD 3 IN cur
MOVE 3

> FETCH cur
id | v
5 | v5

> MOVE LAST IN cur
MOVE 1

> MOVE FORWARD 5 IN cur
MOVE 0

> FETCH BACKWARD ALL FROM cur
id | v
10 | v10
9 | v9
8 | v8
7 | v7
6 | v6
5 | v5
4 | v4
3 | v3
2 | v2
1 | v1

> MOVE ABSOLUTE 8 IN cur
MOVE 1

> FETCH ALL FROM cur
id | v
9 | v9
10 | v10

> FETCH FORWARD ALL FROM cur
id | v

> MOVE BACKWARD ALL IN cur
MOVE 10

> FETCH 2 FROM cur
id | v
1 | v1
2 | v2

> DECLARE ns NO SCROLL CURSOR FOR SELECT id FROM c WHERE id <= 3 ORDER BY id
DECLARE CURSOR

> FETCH ns
id
1

> FETCH ABSOLUTE 3 FROM ns
id
3

> FETCH ns
id

> SELECT name, is_holdable, is_binary, is_scrollable FROM pg_cursors ORDER BY name
name | is_holdable | is_binary | is_scrollable
cur | f | f | t
ns | f | f | f

> CLOSE cur
CLOSE CURSOR

> FETCH cur
ERROR 34000: cursor "cur" does not exist

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> DECLARE ns NO SCROLL CURSOR FOR SELECT id FROM c ORDER BY id
DECLARE CURSOR

> FETCH 2 FROM ns
id
1
2

> FETCH PRIOR FROM ns
ERROR 55000: cursor can only scan forward

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> DECLARE a CURSOR FOR SELECT 1 AS x
DECLARE CURSOR

> DECLARE b CURSOR FOR SELECT 2 AS y
DECLARE CURSOR

> CLOSE ALL
CLOSE CURSOR ALL

> SELECT count(*) FROM pg_cursors
count
0

> CLOSE a
ERROR 34000: cursor "a" does not exist

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> DECLARE snap CURSOR FOR SELECT id FROM c WHERE id > 8 ORDER BY id
DECLARE CURSOR

> INSERT INTO c VALUES (11, 'v11')
INSERT 0 1

> FETCH ALL FROM snap
id
9
10

> DECLARE held CURSOR WITH HOLD FOR SELECT id, v FROM c WHERE id > 8 ORDER BY id
DECLARE CURSOR

> DECLARE not_held CURSOR FOR SELECT 1
DECLARE CURSOR

> COMMIT
COMMIT

> FETCH not_held
ERROR 34000: cursor "not_held" does not exist

> FETCH held
id | v
9 | v9

> SELECT name, is_holdable FROM pg_cursors
name | is_holdable
held | t

> DELETE FROM c WHERE id > 8
DELETE 3

> FETCH ALL FROM held
id | v
10 | v10
11 | v11

> CLOSE held
CLOSE CURSOR

> DECLARE outside CURSOR WITH HOLD FOR SELECT id FROM c ORDER BY id DESC
DECLARE CURSOR

> FETCH 2 FROM outside
id
8
7

> BEGIN
BEGIN

> FETCH outside
id
6

> DECLARE rolled CURSOR WITH HOLD FOR SELECT 1 AS one
DECLARE CURSOR

> ROLLBACK
ROLLBACK

> FETCH rolled
ERROR 34000: cursor "rolled" does not exist

> FETCH outside
id
5

> CLOSE outside
CLOSE CURSOR

> BEGIN
BEGIN

> DECLARE w CURSOR FOR WITH d AS (DELETE FROM c RETURNING id) SELECT * FROM d
ERROR 0A000: DECLARE CURSOR must not contain data-modifying statements in WITH

> ROLLBACK
ROLLBACK

> BEGIN
BEGIN

> DECLARE e CURSOR FOR SELECT 1 / 0
ERROR 22012: division by zero

> ROLLBACK
ROLLBACK

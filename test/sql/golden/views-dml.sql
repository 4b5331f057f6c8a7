# INSERT / UPDATE / DELETE through automatically updatable views (one
# table or view in FROM, no DISTINCT / GROUP BY / HAVING / set operation /
# WITH / LIMIT / aggregate / window function in the output), RETURNING
# through the view, columns that are expressions (not updatable: 0A000),
# views that are not updatable (55000 with PostgreSQL's reason), and WITH
# LOCAL / CASCADED CHECK OPTION (44000). Expected output from PostgreSQL 15.
> CREATE TABLE vt (id int PRIMARY KEY, a int, b text DEFAULT 'dflt')
CREATE TABLE

> INSERT INTO vt VALUES (1, 10, 'x'), (2, -5, 'y'), (3, 20, 'z')
INSERT 0 3

> CREATE VIEW v AS SELECT id, a AS aa, b, a * 2 AS dbl FROM vt WHERE a > 0
CREATE VIEW

> INSERT INTO v (id, aa) VALUES (4, 40) RETURNING *
id | aa | b | dbl
4 | 40 | dflt | 80

> INSERT INTO v VALUES (5, 50, 'five')
INSERT 0 1

> INSERT INTO v (id, dbl) VALUES (6, 1)
ERROR 0A000: cannot insert into column "dbl" of view "v"

> INSERT INTO v (id, nope) VALUES (6, 1)
ERROR 42703: column "nope" of relation "v" does not exist

> UPDATE v SET aa = aa + 1 WHERE dbl > 30 RETURNING id, aa, dbl
id | aa | dbl
3 | 21 | 42
4 | 41 | 82
5 | 51 | 102

> UPDATE v SET b = 'hidden' WHERE id = 2
UPDATE 0

> UPDATE v SET dbl = 3
ERROR 0A000: cannot update column "dbl" of view "v"

> DELETE FROM v WHERE aa < 15 RETURNING *
id | aa | b | dbl
1 | 10 | x | 20

> DELETE FROM v WHERE id = 2
DELETE 0

> SELECT * FROM vt ORDER BY id
id | a | b
2 | -5 | y
3 | 21 | z
4 | 41 | dflt
5 | 51 | five

> UPDATE v AS w SET b = upper(w.b) WHERE w.id IN (SELECT id FROM vt WHERE a > 40) RETURNING w.id, w.b
id | b
4 | DFLT
5 | FIVE

> CREATE VIEW vsub AS SELECT t.id AS key, t.b FROM vt t WHERE t.b <> 'Z'
CREATE VIEW

> UPDATE vsub SET b = b || '!' WHERE key >= 4 RETURNING key, b
key | b
4 | DFLT!
5 | FIVE!

> CREATE VIEW vc AS SELECT * FROM vt WHERE a > 0 WITH CHECK OPTION
CREATE VIEW

> INSERT INTO vc VALUES (7, -1, 'neg')
ERROR 44000: new row violates check option for view "vc"

> INSERT INTO vc VALUES (8, NULL, 'null')
ERROR 44000: new row violates check option for view "vc"

> UPDATE vc SET a = -a WHERE id = 3
ERROR 44000: new row violates check option for view "vc"

> INSERT INTO vc VALUES (7, 1, 'pos')
INSERT 0 1

> CREATE VIEW vnc AS SELECT * FROM v WHERE aa < 100
CREATE VIEW

> INSERT INTO vnc VALUES (9, 500, 'out of view')
INSERT 0 1

> CREATE VIEW vloc AS SELECT * FROM vnc WHERE aa > 5 WITH LOCAL CHECK OPTION
CREATE VIEW

> INSERT INTO vloc VALUES (10, 200, 'local ignores vnc')
INSERT 0 1

> INSERT INTO vloc VALUES (11, 2, 'fails vloc')
ERROR 44000: new row violates check option for view "vloc"

> CREATE VIEW vcas AS SELECT * FROM vnc WHERE aa > 5 WITH CASCADED CHECK OPTION
CREATE VIEW

> INSERT INTO vcas VALUES (12, 300, 'fails vnc')
ERROR 44000: new row violates check option for view "vnc"

> INSERT INTO vcas VALUES (12, -300, 'fails v')
ERROR 44000: new row violates check option for view "v"

> INSERT INTO vcas VALUES (12, 30, 'ok')
INSERT 0 1

> CREATE VIEW vopt WITH (check_option = local) AS SELECT * FROM vt WHERE id < 100
CREATE VIEW

> INSERT INTO vopt VALUES (100, 1, 'no')
ERROR 44000: new row violates check option for view "vopt"

> SELECT id, a, b FROM vt ORDER BY id
id | a | b
2 | -5 | y
3 | 21 | z
4 | 41 | DFLT!
5 | 51 | FIVE!
7 | 1 | pos
9 | 500 | out of view
10 | 200 | local ignores vnc
12 | 30 | ok

> CREATE VIEW vdist AS SELECT DISTINCT a FROM vt
CREATE VIEW

> INSERT INTO vdist VALUES (1)
ERROR 55000: cannot insert into view "vdist"

> CREATE VIEW vgrp AS SELECT a, count(*) AS n FROM vt GROUP BY a
CREATE VIEW

> UPDATE vgrp SET a = 1
ERROR 55000: cannot update view "vgrp"

> CREATE VIEW vagg AS SELECT sum(a) AS s FROM vt
CREATE VIEW

> DELETE FROM vagg
ERROR 55000: cannot delete from view "vagg"

> CREATE VIEW vjoin AS SELECT t.id FROM vt t, vt t2 WHERE t.id = t2.id
CREATE VIEW

> DELETE FROM vjoin
ERROR 55000: cannot delete from view "vjoin"

> CREATE VIEW vunion AS SELECT id FROM vt UNION SELECT id FROM vt
CREATE VIEW

> DELETE FROM vunion
ERROR 55000: cannot delete from view "vunion"

> CREATE VIEW vlim AS SELECT * FROM vt LIMIT 2
CREATE VIEW

> UPDATE vlim SET a = 0
ERROR 55000: cannot update view "vlim"

> CREATE VIEW vwin AS SELECT id, row_number() OVER () AS rn FROM vt
CREATE VIEW

> DELETE FROM vwin
ERROR 55000: cannot delete from view "vwin"

> CREATE VIEW vbad AS SELECT DISTINCT a FROM vt WITH CHECK OPTION
ERROR 0A000: WITH CHECK OPTION is supported only on automatically updatable views

> CREATE VIEW valias (k, label) AS SELECT id, b FROM vt
CREATE VIEW

> UPDATE valias SET label = 'renamed' WHERE k = 3 RETURNING *
k | label
3 | renamed

> INSERT INTO valias VALUES (13, 'via alias') RETURNING k, label
k | label
13 | via alias

> SELECT * FROM vt ORDER BY id
id | a | b
2 | -5 | y
3 | 21 | renamed
4 | 41 | DFLT!
5 | 51 | FIVE!
7 | 1 | pos
9 | 500 | out of view
10 | 200 | local ignores vnc
12 | 30 | ok
13 | NULL | via alias

# MERGE (PostgreSQL 15): WHEN [NOT] MATCHED [AND cond] THEN UPDATE / DELETE /
# INSERT / DO NOTHING, first matching clause wins, command tag counts the rows
# changed; a target row matched twice is 21000.
> CREATE TABLE inv (sku text PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0), note text DEFAULT 'new')
CREATE TABLE

> CREATE TABLE delivery (sku text, qty int)
CREATE TABLE

> INSERT INTO inv VALUES ('a', 10, 'old'), ('b', 5, 'old'), ('c', 1, 'old')
INSERT 0 3

> INSERT INTO delivery VALUES ('a', 5), ('b', -5), ('d', 7), ('e', NULL)
INSERT 0 4

> MERGE INTO inv i USING delivery d ON i.sku = d.sku WHEN MATCHED AND i.qty + d.qty = 0 THEN DELETE WHEN MATCHED THEN UPDATE SET qty = i.qty + d.qty, note = 'restocked' WHEN NOT MATCHED AND d.qty IS NOT NULL THEN INSERT (sku, qty) VALUES (d.sku, d.qty) WHEN NOT MATCHED THEN DO NOTHING
MERGE 3

> SELECT sku, qty, note FROM inv ORDER BY sku
sku | qty | note
a | 15 | restocked
c | 1 | old
d | 7 | new

> MERGE INTO inv USING (VALUES ('a', 1), ('z', 2)) AS v(sku, n) ON inv.sku = v.sku WHEN MATCHED THEN UPDATE SET qty = inv.qty * v.n WHEN NOT MATCHED THEN INSERT VALUES (v.sku, v.n, DEFAULT)
MERGE 2

> SELECT sku, qty, note FROM inv ORDER BY sku
sku | qty | note
a | 15 | restocked
c | 1 | old
d | 7 | new
z | 2 | new

> MERGE INTO inv USING (SELECT 'c' AS sku) s ON inv.sku = s.sku WHEN MATCHED THEN DO NOTHING
MERGE 0

> MERGE INTO inv USING (SELECT 'q' AS sku, -1 AS qty) s ON inv.sku = s.sku WHEN NOT MATCHED THEN INSERT VALUES (s.sku, s.qty)
ERROR 23514: new row for relation "inv" violates check constraint "inv_qty_check"

> INSERT INTO delivery VALUES ('a', 1)
INSERT 0 1

> MERGE INTO inv i USING delivery d ON i.sku = d.sku WHEN MATCHED THEN UPDATE SET qty = i.qty + 1
ERROR 21000: MERGE command cannot affect row a second time

> SELECT sku, qty FROM inv ORDER BY sku
sku | qty
a | 15
c | 1
d | 7
z | 2

> MERGE INTO inv i USING delivery d ON i.sku = d.sku WHEN NOT MATCHED THEN INSERT VALUES (i.sku, 1)
ERROR 42P01: invalid reference to FROM-clause entry for table "i"

> MERGE INTO inv i USING delivery d ON i.sku = d.sku WHEN MATCHED THEN UPDATE SET nope = 1
ERROR 42703: column "nope" of relation "inv" does not exist

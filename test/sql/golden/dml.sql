# INSERT / UPDATE / DELETE, RETURNING, ON CONFLICT, defaults and constraints.
> CREATE TABLE item (id serial PRIMARY KEY, name text UNIQUE NOT NULL, qty int DEFAULT 0 CHECK (qty >= 0), note text)
CREATE TABLE

> INSERT INTO item (name) VALUES ('a'), ('b') RETURNING id, name, qty
id | name | qty
1 | a | 0
2 | b | 0

> INSERT INTO item (name, qty) VALUES ('c', DEFAULT), ('d', 5) RETURNING *
id | name | qty | note
3 | c | 0 | NULL
4 | d | 5 | NULL

> INSERT INTO item (name, qty) VALUES ('e', -1)
ERROR 23514: new row for relation "item" violates check constraint "item_qty_check"

> INSERT INTO item (name) VALUES ('a')
ERROR 23505: duplicate key value violates unique constraint "item_name_key"

> INSERT INTO item (name) VALUES (NULL)
ERROR 23502: null value in column "name" of relation "item" violates not-null constraint

> INSERT INTO item (name, qty) VALUES ('a', 9) ON CONFLICT (name) DO UPDATE SET qty = item.qty + EXCLUDED.qty RETURNING name, qty
name | qty
a | 9

> INSERT INTO item (name) VALUES ('b') ON CONFLICT DO NOTHING
INSERT 0 0

> UPDATE item SET qty = qty + 1 WHERE name IN ('b', 'c') RETURNING name, qty
name | qty
b | 1
c | 1

> UPDATE item SET note = 'x' WHERE false
UPDATE 0

> DELETE FROM item WHERE qty = 0 RETURNING name
name

> SELECT id, name, qty, note FROM item ORDER BY id
id | name | qty | note
1 | a | 9 | NULL
2 | b | 1 | NULL
3 | c | 1 | NULL
4 | d | 5 | NULL

> CREATE TABLE stock (name text, extra int)
CREATE TABLE

> INSERT INTO stock VALUES ('a', 100), ('d', 200)
INSERT 0 2

> UPDATE item SET qty = qty + s.extra FROM stock s WHERE s.name = item.name
UPDATE 2

> DELETE FROM item USING stock WHERE stock.name = item.name AND stock.extra > 150
DELETE 1

> SELECT name, qty FROM item ORDER BY name
name | qty
a | 109
b | 1
c | 1

> INSERT INTO item (name, qty) SELECT 'z' || g, g FROM generate_series(1, 3) g
INSERT 0 3

> SELECT count(*), sum(qty) FROM item
count | sum
6 | 117

> INSERT INTO item (id, name) VALUES (1, 'dup')
ERROR 23505: duplicate key value violates unique constraint "item_pkey"

> UPDATE item SET qty = NULL WHERE name = 'z1'
UPDATE 1

> SELECT nextval('item_id_seq'), currval('item_id_seq')
nextval | currval
13 | 13

> CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY, v text)
CREATE TABLE

> INSERT INTO ident (v) VALUES ('x'), ('y') RETURNING id, v
id | v
1 | x
2 | y

> INSERT INTO ident (id, v) VALUES (10, 'z')
ERROR 428C9: cannot insert a non-DEFAULT value into column "id"

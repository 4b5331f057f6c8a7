# Data-modifying CTEs: WITH x AS (INSERT/UPDATE/DELETE ... RETURNING) ...
# Each runs exactly once, even when nothing reads it; the main query sees its
# RETURNING rows but reads the tables as they were before the statement.
> CREATE TABLE stock (id serial PRIMARY KEY, item text UNIQUE NOT NULL, qty int NOT NULL CHECK (qty >= 0))
CREATE TABLE

> CREATE TABLE moves (id serial PRIMARY KEY, item text NOT NULL, delta int NOT NULL)
CREATE TABLE

> INSERT INTO stock (item, qty) VALUES ('apple', 10), ('pear', 5), ('plum', 0)
INSERT 0 3

> WITH added AS (INSERT INTO stock (item, qty) VALUES ('fig', 3), ('kiwi', 7) RETURNING id, item) SELECT id, item FROM added ORDER BY id
id | item
4 | fig
5 | kiwi

# The main query does not see the rows the CTE inserted.
> WITH added AS (INSERT INTO stock (item, qty) VALUES ('lime', 1) RETURNING item) SELECT (SELECT count(*) FROM stock) AS before, (SELECT count(*) FROM added) AS added
before | added
5 | 1

> SELECT count(*) FROM stock
count
6

# Nor the CTE's updates: the old and new values side by side.
> WITH up AS (UPDATE stock SET qty = qty + 100 WHERE item IN ('apple', 'pear') RETURNING item, qty) SELECT s.item, s.qty AS old, up.qty AS new FROM stock s JOIN up ON up.item = s.item ORDER BY s.item
item | old | new
apple | 10 | 110
pear | 5 | 105

> SELECT item, qty FROM stock ORDER BY item
item | qty
apple | 110
fig | 3
kiwi | 7
lime | 1
pear | 105
plum | 0

# Nor its deletions.
> WITH gone AS (DELETE FROM stock WHERE qty = 0 RETURNING item) SELECT s.item, g.item IS NOT NULL AS deleted FROM stock s LEFT JOIN gone g ON g.item = s.item ORDER BY s.item
item | deleted
apple | f
fig | f
kiwi | f
lime | f
pear | f
plum | t

> SELECT item FROM stock ORDER BY item
item
apple
fig
kiwi
lime
pear

# Moving rows between tables in one statement.
> WITH sold AS (UPDATE stock SET qty = qty - 2 WHERE item = 'kiwi' RETURNING item, -2 AS delta) INSERT INTO moves (item, delta) SELECT item, delta FROM sold RETURNING item, delta
item | delta
kiwi | -2

> WITH d AS (DELETE FROM stock WHERE item = 'fig' RETURNING item, qty) INSERT INTO moves (item, delta) SELECT item, -qty FROM d
INSERT 0 1

> SELECT item, delta FROM moves ORDER BY id
item | delta
kiwi | -2
fig | -3

# A CTE nobody reads still runs, and to completion.
> WITH x AS (UPDATE stock SET qty = 0 WHERE item = 'lime' RETURNING 1) SELECT 42 AS answer
answer
42

> WITH x AS (DELETE FROM moves) SELECT 1 AS one
one
1

> SELECT (SELECT qty FROM stock WHERE item = 'lime') AS lime, (SELECT count(*) FROM moves) AS moves
lime | moves
0 | 0

# Several CTEs; a later one reads an earlier one's RETURNING rows.
> WITH a AS (INSERT INTO stock (item, qty) VALUES ('date', 4) RETURNING item, qty), b AS (INSERT INTO moves (item, delta) SELECT item, qty FROM a RETURNING item, delta) SELECT a.item, b.delta FROM a, b
item | delta
date | 4

# UPDATE and DELETE as the main statement, reading a CTE.
> WITH m AS (INSERT INTO moves (item, delta) VALUES ('apple', -5) RETURNING item, delta) UPDATE stock s SET qty = s.qty + m.delta FROM m WHERE s.item = m.item RETURNING s.item, s.qty
item | qty
apple | 105

> WITH m AS (INSERT INTO moves (item, delta) VALUES ('date', -4) RETURNING item) DELETE FROM stock s USING m WHERE s.item = m.item RETURNING s.item
item
date

> SELECT item, qty FROM stock ORDER BY item
item | qty
apple | 105
kiwi | 5
lime | 0
pear | 105

# ON CONFLICT inside a CTE.
> WITH up AS (INSERT INTO stock (item, qty) VALUES ('pear', 1), ('quince', 2) ON CONFLICT (item) DO UPDATE SET qty = stock.qty + excluded.qty RETURNING item, qty) SELECT item, qty FROM up ORDER BY item
item | qty
pear | 106
quince | 2

# Errors: a constraint violation in a CTE fails the statement and changes nothing.
> WITH x AS (UPDATE stock SET qty = qty - 1000 RETURNING item) SELECT count(*) FROM x
ERROR 23514: new row for relation "stock" violates check constraint "stock_qty_check"

> WITH x AS (DELETE FROM stock WHERE item = 'pear' RETURNING item), y AS (INSERT INTO stock (item, qty) VALUES ('apple', 1) RETURNING item) SELECT * FROM x, y
ERROR 23505: duplicate key value violates unique constraint "stock_item_key"

> SELECT item, qty FROM stock ORDER BY item
item | qty
apple | 105
kiwi | 5
lime | 0
pear | 106
quince | 2

> WITH x AS (DELETE FROM moves) SELECT * FROM x
ERROR 0A000: WITH query "x" does not have a RETURNING clause

> SELECT (WITH x AS (DELETE FROM moves RETURNING 1) SELECT count(*) FROM x)
ERROR 0A000: WITH clause containing a data-modifying statement must be at the top level

> SELECT * FROM (WITH x AS (DELETE FROM moves RETURNING 1) SELECT * FROM x) s
ERROR 0A000: WITH clause containing a data-modifying statement must be at the top level

> WITH x AS (DELETE FROM moves RETURNING id), x AS (SELECT 1) SELECT * FROM x
ERROR 42712: WITH query name "x" specified more than once

> WITH x (a, b) AS (DELETE FROM moves RETURNING id) SELECT * FROM x
ERROR 42P10: WITH query "x" has 1 columns available but 2 columns specified

> SELECT count(*) FROM moves
count
3

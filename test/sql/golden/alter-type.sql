# ALTER TABLE ... ALTER COLUMN ... TYPE [USING]: rows converted and rewritten,
# keys and indexes re-encoded, constraints kept; SET/DROP NOT NULL.
> CREATE TABLE m (id int PRIMARY KEY, code text NOT NULL, amount numeric(8,2) DEFAULT 1.5, flag text, born text)
CREATE TABLE

> CREATE UNIQUE INDEX m_code ON m (code)
CREATE INDEX

> CREATE INDEX m_amount2 ON m ((amount * 2))
CREATE INDEX

> INSERT INTO m VALUES (1, '10', 12.25, 'yes', '2024-01-02'), (2, '9', 3.50, 'no', '2023-12-31'), (3, '100', NULL, NULL, NULL)
INSERT 0 3

> ALTER TABLE m ALTER COLUMN code TYPE int USING code::int
ALTER TABLE

> SELECT id, code FROM m ORDER BY code
id | code
2 | 9
1 | 10
3 | 100

> SELECT id FROM m WHERE code = 9
id
2

> INSERT INTO m (id, code) VALUES (4, 10)
ERROR 23505: duplicate key value violates unique constraint "m_code"

> ALTER TABLE m ALTER COLUMN id TYPE bigint
ALTER TABLE

> SELECT pg_typeof(id), id FROM m WHERE id = 2
pg_typeof | id
bigint | 2

> ALTER TABLE m ALTER amount TYPE float8
ALTER TABLE

> SELECT id, amount, amount * 2 AS twice FROM m WHERE amount * 2 = 24.5
id | amount | twice
1 | 12.25 | 24.5

> INSERT INTO m (id, code) VALUES (5, 55) RETURNING amount
amount
1.5

> ALTER TABLE m ALTER COLUMN flag SET DATA TYPE boolean USING flag = 'yes'
ALTER TABLE

> ALTER TABLE m ALTER COLUMN born TYPE date USING born::date
ALTER TABLE

> SELECT id, flag, born + 1 AS next_day FROM m ORDER BY id
id | flag | next_day
1 | t | 2024-01-03
2 | f | 2024-01-01
3 | NULL | NULL
5 | NULL | NULL

> ALTER TABLE m ALTER COLUMN code TYPE varchar(2)
ERROR 22001: value too long for type character varying(2)

> ALTER TABLE m ALTER COLUMN code TYPE varchar(3)
ALTER TABLE

> SELECT id, code FROM m ORDER BY id
id | code
1 | 10
2 | 9
3 | 100
5 | 55

> SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'm' ORDER BY ordinal_position
column_name | data_type
id | bigint
code | character varying
amount | double precision
flag | boolean
born | date

# Errors.
> ALTER TABLE m ALTER COLUMN born TYPE int
ERROR 42804: column "born" cannot be cast automatically to type integer

> ALTER TABLE m ALTER COLUMN born TYPE int USING born
ERROR 42804: result of USING clause for column "born" cannot be cast automatically to type integer

> ALTER TABLE m ALTER COLUMN nope TYPE int
ERROR 42703: column "nope" of relation "m" does not exist

> ALTER TABLE m ALTER COLUMN code TYPE nosuchtype
ERROR 42704: type "nosuchtype" does not exist

> ALTER TABLE m ALTER COLUMN code TYPE int USING code::int / 0
ERROR 22012: division by zero

> ALTER TABLE m ALTER COLUMN code TYPE int USING 1
ERROR 23505: could not create unique index "m_code"

> SELECT id, code FROM m ORDER BY id
id | code
1 | 10
2 | 9
3 | 100
5 | 55

> CREATE TABLE src (id int PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO src VALUES (1, 'a'), (2, NULL)
INSERT 0 2

> ALTER TABLE src ALTER COLUMN v SET NOT NULL
ERROR 23502: column "v" of relation "src" contains null values

> UPDATE src SET v = 'b' WHERE id = 2
UPDATE 1

> ALTER TABLE src ALTER COLUMN v SET NOT NULL
ALTER TABLE

> INSERT INTO src VALUES (3, NULL)
ERROR 23502: null value in column "v" of relation "src" violates not-null constraint

> ALTER TABLE src ALTER COLUMN v DROP NOT NULL
ALTER TABLE

> INSERT INTO src VALUES (3, NULL)
INSERT 0 1

> ALTER TABLE src ALTER COLUMN id DROP NOT NULL
ERROR 42P16: column "id" is in a primary key

> CREATE VIEW src_v AS SELECT id, v FROM src
CREATE VIEW

> ALTER TABLE src ALTER COLUMN v TYPE varchar(10)
ERROR 0A000: cannot alter type of a column used by a view or rule

> CREATE TABLE ref (id int PRIMARY KEY, src_id int REFERENCES src (id))
CREATE TABLE

> SELECT count(*) FROM src
count
3

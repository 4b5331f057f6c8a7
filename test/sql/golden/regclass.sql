# regclass input and output for every kind of relation: tables, indexes,
# sequences, views (PostgreSQL prints the name; qualified when not on the search path).
> CREATE TABLE rc_t (id int PRIMARY KEY, name text, n serial)
CREATE TABLE

> CREATE INDEX rc_name ON rc_t (name)
CREATE INDEX

> CREATE SEQUENCE rc_seq
CREATE SEQUENCE

> CREATE VIEW rc_v AS SELECT id FROM rc_t
CREATE VIEW

> SELECT 'rc_t'::regclass::text, 'rc_name'::regclass::text, 'rc_t_pkey'::regclass::text, 'rc_seq'::regclass::text, 'rc_t_n_seq'::regclass::text, 'rc_v'::regclass::text
text | text | text | text | text | text
rc_t | rc_name | rc_t_pkey | rc_seq | rc_t_n_seq | rc_v

> SELECT 'rc_name'::regclass, 'rc_seq'::regclass, 'rc_v'::regclass
regclass | regclass | regclass
rc_name | rc_seq | rc_v

> SELECT c.relname, c.oid::regclass::text = c.relname AS same FROM pg_class c WHERE c.relname LIKE 'rc\_%' ORDER BY c.relname
relname | same
rc_name | t
rc_seq | t
rc_t | t
rc_t_n_seq | t
rc_t_pkey | t
rc_v | t

> SELECT i.indexrelid::regclass, i.indrelid::regclass FROM pg_index i WHERE i.indrelid = 'rc_t'::regclass ORDER BY i.indexrelid::regclass::text
indexrelid | indrelid
rc_name | rc_t
rc_t_pkey | rc_t

> SELECT 'no_such_rel'::regclass
ERROR 42P01: relation "no_such_rel" does not exist

> CREATE SCHEMA rc_s
CREATE SCHEMA

> CREATE TABLE rc_s.t2 (a int)
CREATE TABLE

> CREATE INDEX t2_a ON rc_s.t2 (a)
CREATE INDEX

> SELECT 'rc_s.t2'::regclass, 'rc_s.t2_a'::regclass
regclass | regclass
rc_s.t2 | rc_s.t2_a

> DROP SCHEMA rc_s CASCADE
DROP SCHEMA

> DROP VIEW rc_v
DROP VIEW

> DROP TABLE rc_t
DROP TABLE

> DROP SEQUENCE rc_seq
DROP SEQUENCE

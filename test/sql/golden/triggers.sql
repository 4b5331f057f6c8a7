# Triggers: BEFORE/AFTER INSERT/UPDATE/DELETE, FOR EACH ROW and FOR EACH
# STATEMENT, NEW/OLD/TG_* in PL/pgSQL, BEFORE returning NULL skips the row,
# a changed NEW changes it, UPDATE OF columns, WHEN conditions, the common
# updated_at and audit-table patterns, DROP TRIGGER, pg_trigger, errors.
> CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL, body text, version int NOT NULL DEFAULT 1, updated_at timestamptz)
CREATE TABLE

> CREATE TABLE audit (seq serial PRIMARY KEY, op text, tab text, old_id int, new_id int, info text)
CREATE TABLE

> CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
> BEGIN
>   NEW.updated_at := '2024-05-06 07:08:09+00';
>   IF TG_OP = 'UPDATE' THEN
>     NEW.version := OLD.version + 1;
>   END IF;
>   RETURN NEW;
> END $$
CREATE FUNCTION

> CREATE TRIGGER doc_touch BEFORE INSERT OR UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch()
CREATE TRIGGER

> INSERT INTO doc (id, title) VALUES (1, 'first'), (2, 'second')
INSERT 0 2

> SELECT id, title, version, updated_at FROM doc ORDER BY id
id | title | version | updated_at
1 | first | 1 | 2024-05-06 07:08:09+00
2 | second | 1 | 2024-05-06 07:08:09+00

> UPDATE doc SET title = 'First' WHERE id = 1
UPDATE 1

> SELECT id, title, version, updated_at FROM doc ORDER BY id
id | title | version | updated_at
1 | First | 2 | 2024-05-06 07:08:09+00
2 | second | 1 | 2024-05-06 07:08:09+00

> UPDATE doc SET version = 100 WHERE id = 2 RETURNING id, version
id | version
2 | 2

> CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
> BEGIN
>   IF TG_OP = 'INSERT' THEN
>     INSERT INTO audit (op, tab, new_id, info) VALUES (TG_OP, TG_TABLE_NAME, NEW.id, TG_WHEN || ' ' || TG_LEVEL);
>     RETURN NEW;
>   ELSIF TG_OP = 'UPDATE' THEN
>     INSERT INTO audit (op, tab, old_id, new_id, info) VALUES (TG_OP, TG_TABLE_NAME, OLD.id, NEW.id, OLD.title || ' -> ' || NEW.title);
>     RETURN NEW;
>   ELSE
>     INSERT INTO audit (op, tab, old_id, info) VALUES (TG_OP, TG_TABLE_NAME, OLD.id, OLD.title);
>     RETURN OLD;
>   END IF;
> END $$
CREATE FUNCTION

> CREATE TRIGGER doc_audit AFTER INSERT OR UPDATE OR DELETE ON doc FOR EACH ROW EXECUTE FUNCTION log_change()
CREATE TRIGGER

> INSERT INTO doc (id, title) VALUES (3, 'third')
INSERT 0 1

> UPDATE doc SET title = title || '!' WHERE id >= 2
UPDATE 2

> DELETE FROM doc WHERE id = 1
DELETE 1

> SELECT seq, op, tab, old_id, new_id, info FROM audit ORDER BY seq
seq | op | tab | old_id | new_id | info
1 | INSERT | doc | NULL | 3 | AFTER ROW
2 | UPDATE | doc | 2 | 2 | second -> second!
3 | UPDATE | doc | 3 | 3 | third -> third!
4 | DELETE | doc | 1 | NULL | First

> CREATE FUNCTION no_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
> BEGIN
>   IF NEW.title LIKE 'draft%' THEN
>     RETURN NULL;
>   END IF;
>   RETURN NEW;
> END $$
CREATE FUNCTION

> CREATE TRIGGER doc_no_drafts BEFORE INSERT ON doc FOR EACH ROW EXECUTE FUNCTION no_drafts()
CREATE TRIGGER

> INSERT INTO doc (id, title) VALUES (10, 'draft one'), (11, 'real one')
INSERT 0 1

> SELECT id, title FROM doc WHERE id >= 10 ORDER BY id
id | title
11 | real one

> CREATE FUNCTION keep_rows() RETURNS trigger LANGUAGE plpgsql AS $$
> BEGIN
>   IF OLD.title = 'real one' THEN
>     RAISE NOTICE 'keeping %', OLD.id;
>     RETURN NULL;
>   END IF;
>   RETURN OLD;
> END $$
CREATE FUNCTION

> CREATE TRIGGER doc_keep BEFORE DELETE ON doc FOR EACH ROW EXECUTE FUNCTION keep_rows()
CREATE TRIGGER

> DELETE FROM doc WHERE id IN (3, 11)
DELETE 1

> SELECT id FROM doc ORDER BY id
id
2
11

> CREATE TABLE counter (name text PRIMARY KEY, n int NOT NULL)
CREATE TABLE

> INSERT INTO counter VALUES ('stmts', 0), ('body_changes', 0)
INSERT 0 2

> CREATE FUNCTION count_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
> BEGIN
>   UPDATE counter SET n = n + 1 WHERE name = TG_ARGV[0];
>   RETURN NULL;
> END $$
CREATE FUNCTION

> CREATE TRIGGER doc_stmt AFTER UPDATE ON doc FOR EACH STATEMENT EXECUTE FUNCTION count_stmt('stmts')
CREATE TRIGGER

> CREATE TRIGGER doc_body AFTER UPDATE OF body ON doc FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body) EXECUTE FUNCTION count_stmt('body_changes')
CREATE TRIGGER

> UPDATE doc SET title = upper(title)
UPDATE 2

> UPDATE doc SET body = 'x' WHERE id = 2
UPDATE 1

> UPDATE doc SET body = 'x'
UPDATE 2

> UPDATE doc SET title = title WHERE false
UPDATE 0

> SELECT name, n FROM counter ORDER BY name
name | n
body_changes | 2
stmts | 4

> SELECT tgname, tgtype, tgenabled, tgnargs FROM pg_trigger WHERE tgrelid = 'doc'::regclass ORDER BY tgname
tgname | tgtype | tgenabled | tgnargs
doc_audit | 29 | O | 0
doc_body | 17 | O | 1
doc_keep | 11 | O | 0
doc_no_drafts | 7 | O | 0
doc_stmt | 16 | O | 1
doc_touch | 23 | O | 0

> SELECT relhastriggers FROM pg_class WHERE relname IN ('doc', 'counter') ORDER BY relname
relhastriggers
f
t

> SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'doc_stmt'
pg_get_triggerdef
CREATE TRIGGER doc_stmt AFTER UPDATE ON public.doc FOR EACH STATEMENT EXECUTE FUNCTION count_stmt('stmts')

> ALTER TABLE doc DISABLE TRIGGER doc_touch
ALTER TABLE

> UPDATE doc SET title = 'plain' WHERE id = 2 RETURNING version
version
6

> ALTER TABLE doc ENABLE TRIGGER doc_touch
ALTER TABLE

> UPDATE doc SET title = 'touched' WHERE id = 2 RETURNING version
version
7

> DROP TRIGGER doc_no_drafts ON doc
DROP TRIGGER

> INSERT INTO doc (id, title) VALUES (12, 'draft two')
INSERT 0 1

> SELECT count(*) FROM doc WHERE id = 12
count
1

> DROP TRIGGER doc_no_drafts ON doc
ERROR 42704: trigger "doc_no_drafts" for table "doc" does not exist

> DROP TRIGGER IF EXISTS doc_no_drafts ON doc
DROP TRIGGER

> DROP FUNCTION touch()
ERROR 2BP01: cannot drop function touch() because other objects depend on it

> CREATE TRIGGER doc_audit AFTER INSERT ON doc FOR EACH ROW EXECUTE FUNCTION log_change()
ERROR 42710: trigger "doc_audit" for relation "doc" already exists

> CREATE TRIGGER bad AFTER INSERT ON doc FOR EACH ROW EXECUTE FUNCTION nosuch()
ERROR 42883: function nosuch() does not exist

> CREATE FUNCTION not_trigger() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$
CREATE FUNCTION

> CREATE TRIGGER bad AFTER INSERT ON doc FOR EACH ROW EXECUTE FUNCTION not_trigger()
ERROR 42P17: function not_trigger must return type trigger

> CREATE TRIGGER bad AFTER INSERT ON doc FOR EACH ROW WHEN (OLD.id > 0) EXECUTE FUNCTION log_change()
ERROR 42P17: INSERT trigger's WHEN condition cannot reference OLD values

> CREATE TRIGGER bad AFTER INSERT ON nosuch FOR EACH ROW EXECUTE FUNCTION log_change()
ERROR 42P01: relation "nosuch" does not exist

> SELECT touch()
ERROR 0A000: trigger functions can only be called as triggers

> CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.nosuch := 1; RETURN NEW; END $$
CREATE FUNCTION

> CREATE TRIGGER doc_broken BEFORE INSERT ON doc FOR EACH ROW EXECUTE FUNCTION broken()
CREATE TRIGGER

> INSERT INTO doc (id, title) VALUES (13, 'x')
ERROR 42703: record "new" has no field "nosuch"

> DROP TRIGGER doc_broken ON doc
DROP TRIGGER

> CREATE FUNCTION reject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no deletes on %', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$
CREATE FUNCTION

> CREATE TRIGGER doc_reject BEFORE DELETE ON doc FOR EACH STATEMENT EXECUTE FUNCTION reject()
CREATE TRIGGER

> DELETE FROM doc
ERROR 42501: no deletes on doc

> SELECT count(*) FROM doc
count
3

> DROP TABLE doc
DROP TABLE

> SELECT count(*) FROM pg_trigger
count
0

# SET ROLE / RESET ROLE / SET SESSION AUTHORIZATION: current_user and session_user, privilege checks that
# follow current_user (also for a statement planned before the SET), SHOW role, and the errors: an unknown
# role, a non-superuser setting another role or session authorization.
> CREATE ROLE alice LOGIN
CREATE ROLE

> CREATE ROLE bob
CREATE ROLE

> CREATE TABLE secret (id int PRIMARY KEY, v text)
CREATE TABLE

> INSERT INTO secret VALUES (1, 'x')
INSERT 0 1

> CREATE TABLE open_t (id int PRIMARY KEY)
CREATE TABLE

> GRANT SELECT ON open_t TO alice
GRANT

> SELECT current_user, session_user
current_user | session_user
postgres | postgres

> SHOW role
role
none

> SET ROLE alice
SET

> SELECT current_user, session_user
current_user | session_user
alice | postgres

> SHOW role
role
alice

> SELECT * FROM secret
ERROR 42501: permission denied for table secret

> SELECT count(*) FROM open_t
count
0

> INSERT INTO open_t VALUES (1)
ERROR 42501: permission denied for table open_t

> SET ROLE bob
SET

> SELECT current_user
current_user
bob

> RESET ROLE
RESET

> SELECT current_user, count(*) FROM secret
current_user | count
postgres | 1

> SET ROLE nobody
ERROR 22023: role "nobody" does not exist

> SET ROLE NONE
SET

> SET SESSION AUTHORIZATION alice
SET

> SELECT current_user, session_user
current_user | session_user
alice | alice

> SET ROLE bob
ERROR 42501: permission denied to set role "bob"

> SELECT * FROM secret
ERROR 42501: permission denied for table secret

> RESET SESSION AUTHORIZATION
RESET

> SELECT current_user, session_user
current_user | session_user
postgres | postgres

> SET SESSION AUTHORIZATION alice
SET

> SET ROLE alice
SET

> SET SESSION AUTHORIZATION DEFAULT
SET

> SELECT current_user, session_user, count(*) FROM secret
current_user | session_user | count
postgres | postgres | 1

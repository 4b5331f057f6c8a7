# 'infinity' and '-infinity' for date, timestamp and timestamptz: input, output, ordering and comparison,
# casts between them, arithmetic with intervals and days, isfinite, extract/date_part, date_trunc, storage
# and index order in a table, and the errors (subtracting infinite values).
> SELECT 'infinity'::date AS d, '-infinity'::date AS nd, ' Infinity '::date AS pd, 'INFINITY'::timestamp AS t, '-infinity'::timestamptz AS tz
d | nd | pd | t | tz
infinity | -infinity | infinity | infinity | -infinity

> SELECT 'infinity'::date > '9999-12-31'::date AS a, '-infinity'::date < '0001-01-01 BC'::date AS b, 'infinity'::timestamp = 'infinity'::timestamp AS c, '-infinity'::timestamptz < now() AS e
a | b | c | e
t | t | t | t

> SELECT 'infinity'::date::timestamp AS a, '-infinity'::timestamp::date AS b, 'infinity'::timestamp::timestamptz AS c, '-infinity'::timestamptz::timestamp AS e, 'infinity'::timestamptz::date AS f
a | b | c | e | f
infinity | -infinity | infinity | -infinity | infinity

> SELECT 'infinity'::timestamp + interval '1 day' AS a, '-infinity'::timestamptz - interval '1 year' AS b, 'infinity'::date + 1 AS c, '-infinity'::date - 7 AS e, 'infinity'::date + interval '1 hour' AS f
a | b | c | e | f
infinity | -infinity | infinity | -infinity | infinity

> SELECT isfinite('infinity'::date) AS a, isfinite('2024-01-01'::date) AS b, isfinite('-infinity'::timestamp) AS c, isfinite(now()) AS e, isfinite(interval '1 day') AS f
a | b | c | e | f
f | t | f | t | t

> SELECT extract(year FROM 'infinity'::timestamp) AS y, extract(epoch FROM '-infinity'::timestamptz) AS ep, extract(month FROM 'infinity'::timestamp) AS m, date_part('day', '-infinity'::timestamp) AS dd
y | ep | m | dd
Infinity | -Infinity | NULL | NULL

> SELECT date_trunc('day', 'infinity'::timestamp) AS a, date_trunc('month', '-infinity'::timestamptz) AS b
a | b
infinity | -infinity

> SELECT 'infinity'::date - '2024-01-01'::date
ERROR 22008: cannot subtract infinite dates

> SELECT 'infinity'::timestamp - '2024-01-01'::timestamp
ERROR 22008: cannot subtract infinite timestamps

> CREATE TABLE ev (id int PRIMARY KEY, d date, t timestamptz)
CREATE TABLE

> CREATE INDEX ev_t ON ev (t)
CREATE INDEX

> INSERT INTO ev VALUES (1, 'infinity', 'infinity'), (2, '2024-05-01', '2024-05-01 10:00+00'), (3, '-infinity', '-infinity'), (4, NULL, '1999-12-31 23:59:59+00')
INSERT 0 4

> SELECT id, d, t FROM ev ORDER BY t
id | d | t
3 | -infinity | -infinity
4 | NULL | 1999-12-31 23:59:59+00
2 | 2024-05-01 | 2024-05-01 10:00:00+00
1 | infinity | infinity

> SELECT id FROM ev WHERE t > '2000-01-01' ORDER BY id
id
1
2

> SELECT id FROM ev WHERE d = 'infinity'
id
1

> SELECT min(d) AS lo, max(d) AS hi, min(t) AS tlo, max(t) AS thi FROM ev
lo | hi | tlo | thi
-infinity | infinity | -infinity | infinity

> SELECT 'infinity'::timestamp::time
time
NULL

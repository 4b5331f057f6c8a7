# Literals, casts and text output of the built-in types.
> SELECT 1 AS i, -2147483648 AS min4, 9223372036854775807 AS max8, 1.50 AS n, 'x' AS t, NULL AS z, true AS b
i | min4 | max8 | n | t | z | b
1 | -2147483648 | 9223372036854775807 | 1.50 | x | NULL | t

> SELECT 2147483647 + 1
ERROR 22003: integer out of range

> SELECT (-9223372036854775807 - 1)::int8 - 1
ERROR 22003: bigint out of range

> SELECT 32767::int2 + 1::int2
ERROR 22003: smallint out of range

> SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3, 7.0 / 2, 1 / 3.0, 2 ^ 10
?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column?
3 | -3 | 1 | -1 | 3.5000000000000000 | 0.33333333333333333333 | 1024

> SELECT 1/0
ERROR 22012: division by zero

> SELECT 1.0/0
ERROR 22012: division by zero

> SELECT 0.1::float8 + 0.2::float8, 1e15::float8, 1e16::float8, 123456789012345::float8, 1e-5::float8, 0.0001::float8, 3.14::float4, 1e6::float4, 100000::float4
?column? | float8 | float8 | float8 | float8 | float8 | float4 | float4 | float4
0.30000000000000004 | 1e+15 | 1e+16 | 123456789012345 | 1e-05 | 0.0001 | 3.14 | 1e+06 | 100000

> SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8, -0.0::float8
float8 | float8 | float8 | ?column?
NaN | Infinity | -Infinity | -0

> SELECT 1.23456789012345678901234567890::numeric * 2, 10::numeric / 3, 2::numeric / 3, 1::numeric / 7 * 7, round(2.5), round(-2.5), round(2.5::float8), round(3.14159, 2), trunc(-3.7)
?column? | ?column? | ?column? | ?column? | round | round | round | round | trunc
2.46913578024691357802469135780 | 3.3333333333333333 | 0.66666666666666666667 | 0.99999999999999999998 | 3 | -3 | 2 | 3.14 | -3

> SELECT 12345.678::numeric(6,2)
ERROR 22003: numeric field overflow

> SELECT 123.456::numeric(5,2), 0.001::numeric(3,3)
numeric | numeric
123.46 | 0.001

> SELECT avg(x), sum(x) FROM (VALUES (1), (2), (2)) v(x)
avg | sum
1.6666666666666667 | 5

> SELECT 'abc'::varchar(2), 'ab'::char(4) || '|', length('ab'::char(4)), 'ab '::char(4) = 'ab'::char(4)
varchar | ?column? | length | ?column?
ab | ab| | 2 | t

> SELECT '\x0102ff'::bytea, 'abc'::bytea, length('\x0102'::bytea)
bytea | bytea | length
\x0102ff | \x616263 | 2

> SELECT '2024-02-29'::date, '2024-02-29'::date + 1, '2024-03-01'::date - '2024-02-01'::date, '2023-02-29'::date
ERROR 22008: date/time field value out of range: "2023-02-29"

> SELECT '2024-01-02 03:04:05.678'::timestamp, '2024-01-02 03:04:05+02'::timestamptz, '2024-01-02'::timestamp + interval '1 month 2 days 3 hours'
timestamp | timestamptz | ?column?
2024-01-02 03:04:05.678 | 2024-01-02 01:04:05+00 | 2024-02-04 03:00:00

> SELECT interval '1 year 2 months 3 days 04:05:06', interval '-1 day', interval '90 minutes', '2024-03-01 00:00'::timestamp - '2024-01-01 12:00'::timestamp
interval | interval | interval | ?column?
1 year 2 mons 3 days 04:05:06 | -1 days | 01:30:00 | 59 days 12:00:00

> SELECT extract(year FROM '2024-05-06 07:08:09'::timestamp), date_part('dow', '2024-05-06'::date), date_trunc('month', '2024-05-06 07:08:09'::timestamp)
extract | date_part | date_trunc
2024 | 1 | 2024-05-01 00:00:00

> SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid, 'true'::boolean, 'off'::boolean, 'yes'::boolean
uuid | bool | bool | bool
a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 | t | f | t

> SELECT 'maybe'::boolean
ERROR 22P02: invalid input syntax for type boolean: "maybe"

> SELECT 'abc'::int
ERROR 22P02: invalid input syntax for type integer: "abc"

> SELECT '{"b": 1, "a": [1, 2.50, "x"], "aa": null}'::jsonb, '{"b": 1}'::json, '{"a":{"b":2}}'::jsonb -> 'a' ->> 'b', '[1,2,3]'::jsonb -> 1, '{"a":1}'::jsonb @> '{"a":1}', '{"a":1}'::jsonb ? 'a'
jsonb | json | ?column? | ?column? | ?column? | ?column?
{"a": [1, 2.50, "x"], "b": 1, "aa": null} | {"b": 1} | 2 | 2 | t | t

> SELECT ARRAY[1,2,3], ARRAY['a', NULL, 'b c'], (ARRAY[10,20,30])[2], array_length(ARRAY[1,2], 1), 2 = ANY(ARRAY[1,2]), 3 = ALL(ARRAY[3,3])
array | array | array | array_length | ?column? | ?column?
{1,2,3} | {a,NULL,"b c"} | 20 | 2 | t | t

> SELECT '{1,2,3}'::int[], '{}'::text[], cardinality('{a,b}'::text[])
int4 | text | cardinality
{1,2,3} | {} | 2

> SELECT CAST(3.7 AS int), CAST(-3.5 AS int), CAST(2.5 AS int), 3.5::float8::int, 4.5::float8::int, '12'::int + 1, 1 + '12'
int4 | int4 | int4 | int4 | int4 | ?column? | ?column?
4 | -4 | 3 | 4 | 4 | 13 | 13

> SELECT NULL = NULL, NULL IS NULL, 1 IS DISTINCT FROM NULL, NULL IS NOT DISTINCT FROM NULL, true AND NULL, false AND NULL, true OR NULL, NOT NULL::bool
?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column?
NULL | t | t | t | NULL | f | t | NULL

> SELECT pg_typeof(1), pg_typeof(1.5), pg_typeof('a'::text), pg_typeof(1::int8 + 1), pg_typeof(now())
pg_typeof | pg_typeof | pg_typeof | pg_typeof | pg_typeof
integer | numeric | text | bigint | timestamp with time zone

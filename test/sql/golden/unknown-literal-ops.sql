# An untyped literal next to a date/time operand: PostgreSQL first tries the
# operand's own type (timestamp - 'x' parses x as a timestamp), then the one
# candidate left (timestamp + 'x' is plus an interval); date + 'x' is ambiguous.
> SELECT timestamptz '2020-01-01 00:00+00' + '1 day' AS r
r
2020-01-02 00:00:00+00

> SELECT '1 day' + timestamptz '2020-01-01 00:00+00' AS r
r
2020-01-02 00:00:00+00

> SELECT timestamp '2020-01-01 10:00' + '90 minutes' AS r
r
2020-01-01 11:30:00

> SELECT time '10:00' + '1 hour' AS r
r
11:00:00

> SELECT '1 hour' + time '23:30' AS r
r
00:30:00

> SELECT time '10:00' - time '08:30' AS r
r
01:30:00

> SELECT time '10:00' - '1 hour' AS r
ERROR 22007: invalid input syntax for type time: "1 hour"

> SELECT timestamp '2020-01-01' - '1 hour' AS r
ERROR 22007: invalid input syntax for type timestamp: "1 hour"

> SELECT timestamptz '2020-01-01 00:00+00' - '1 day' AS r
ERROR 22007: invalid input syntax for type timestamp with time zone: "1 day"

> SELECT date '2020-01-01' + '1 day' AS r
ERROR 42725: operator is not unique: date + unknown

> SELECT date '2020-01-02' - '2020-01-01' AS r
r
1

> SELECT interval '1 day' + '1 hour' AS r
r
1 day 01:00:00

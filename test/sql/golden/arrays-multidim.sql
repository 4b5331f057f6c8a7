# Multidimensional arrays: ARRAY[[...]], ARRAY[arr, arr], '{{...}}' literals, text output, subscripts a[i][j],
# array_dims / array_ndims / array_length / array_upper / array_lower / cardinality, unnest, comparison, ||,
# array_agg(arr) and ARRAY(SELECT arr), storage in a table, and the errors.
> SELECT ARRAY[[1,2],[3,4]] AS a
a
{{1,2},{3,4}}

> SELECT ARRAY[ARRAY[1,2],ARRAY[3,4]] AS a
a
{{1,2},{3,4}}

> SELECT '{{1,2},{3,4}}'::int[] AS a
a
{{1,2},{3,4}}

> SELECT '{{{1},{2}},{{3},{4}}}'::int[] AS a, array_dims('{{{1},{2}},{{3},{4}}}'::int[]) AS d
a | d
{{{1},{2}},{{3},{4}}} | [1:2][1:2][1:1]

> SELECT ARRAY[['a','b c'],['NULL',NULL]] AS a
a
{{a,"b c"},{"NULL",NULL}}

> SELECT '{{"a,b", "c"}, {"d\"", e}}'::text[] AS a
a
{{"a,b",c},{"d\"",e}}

> SELECT (ARRAY[[1,2,3],[4,5,6]])[2][3] AS e, (ARRAY[[1,2,3],[4,5,6]])[1][1] AS f
e | f
6 | 1

> SELECT (ARRAY[[1,2],[3,4]])[1] AS too_few, (ARRAY[[1,2],[3,4]])[3][1] AS out_of_range, (ARRAY[[1,2],[3,4]])[1][1][1] AS too_many
too_few | out_of_range | too_many
NULL | NULL | NULL

> SELECT array_dims(ARRAY[[1,2,3],[4,5,6]]) AS d, array_ndims(ARRAY[[1,2,3],[4,5,6]]) AS n, array_ndims(ARRAY[1]) AS n1, array_ndims('{}'::int[]) AS n0
d | n | n1 | n0
[1:2][1:3] | 2 | 1 | NULL

> SELECT array_length(ARRAY[[1,2,3],[4,5,6]], 1) AS l1, array_length(ARRAY[[1,2,3],[4,5,6]], 2) AS l2, array_length(ARRAY[[1,2,3],[4,5,6]], 3) AS l3
l1 | l2 | l3
2 | 3 | NULL

> SELECT array_upper(ARRAY[[1,2,3],[4,5,6]], 2) AS u, array_lower(ARRAY[[1,2,3],[4,5,6]], 2) AS l, cardinality(ARRAY[[1,2,3],[4,5,6]]) AS c
u | l | c
3 | 1 | 6

> SELECT x FROM unnest(ARRAY[[1,2],[3,4]]) AS x
x
1
2
3
4

> SELECT ARRAY[[1,2],[3,4]] = '{{1,2},{3,4}}'::int[] AS same, ARRAY[[1,2],[3,4]] = ARRAY[1,2,3,4] AS flat, ARRAY[[1,2],[3,4]] = ARRAY[[1,2,3,4]] AS shape
same | flat | shape
t | f | f

> SELECT ARRAY[[1,2],[3,4]] < ARRAY[[1,2],[3,5]] AS lt, ARRAY[1,2,3,4] < ARRAY[[1,2],[3,4]] AS ndims
lt | ndims
t | t

> SELECT 3 = ANY(ARRAY[[1,2],[3,4]]) AS any3, 5 = ANY(ARRAY[[1,2],[3,4]]) AS any5
any3 | any5
t | f

> SELECT ARRAY[[1,2]] || ARRAY[[3,4]] AS rows, ARRAY[[1,2]] || ARRAY[3,4] AS row_added, ARRAY[1,2] || ARRAY[[3,4]] AS row_first
rows | row_added | row_first
{{1,2},{3,4}} | {{1,2},{3,4}} | {{1,2},{3,4}}

> SELECT ARRAY[[1,2]] || ARRAY[3]
ERROR 2202E: cannot concatenate incompatible arrays

> SELECT array_append(ARRAY[[1,2]], 3)
ERROR 22000: argument must be empty or one-dimensional array

> SELECT ARRAY[[1,2],[3]]
ERROR 2202E: multidimensional arrays must have array expressions with matching dimensions

> SELECT '{{1,2},{3}}'::int[]
ERROR 22P02: malformed array literal: "{{1,2},{3}}"

> SELECT '{{1,2},3}'::int[]
ERROR 22P02: malformed array literal: "{{1,2},3}"

> SELECT '{1,{2}}'::int[]
ERROR 22P02: malformed array literal: "{1,{2}}"

> SELECT array_to_string(ARRAY[[1,2],[3,4]], ',') AS s
s
1,2,3,4

> SELECT ARRAY[[1,2],[3,4]]::text[] AS t
t
{{1,2},{3,4}}

> CREATE TABLE md (id int PRIMARY KEY, a int[], t text[])
CREATE TABLE

> INSERT INTO md VALUES (1, '{{1,2},{3,4}}', '{{a,b},{c,d}}'), (2, ARRAY[5,6], '{x}'), (3, ARRAY[[7],[8],[9]], NULL)
INSERT 0 3

> SELECT id, a, t, array_dims(a) AS d FROM md ORDER BY id
id | a | t | d
1 | {{1,2},{3,4}} | {{a,b},{c,d}} | [1:2][1:2]
2 | {5,6} | {x} | [1:2]
3 | {{7},{8},{9}} | NULL | [1:3][1:1]

> SELECT a[2][1] AS e FROM md WHERE id = 1
e
3

> SELECT array_agg(a ORDER BY id) AS agg FROM md WHERE id <> 3
ERROR 2202E: cannot accumulate arrays of different dimensionality

> SELECT array_agg(a) FROM md
ERROR 2202E: cannot accumulate arrays of different dimensionality

> SELECT ARRAY(SELECT a FROM md WHERE id = 2 UNION ALL SELECT ARRAY[10,11]) AS sub
sub
{{5,6},{10,11}}

> SELECT array_agg(x) FROM (VALUES (ARRAY[1,2]), (NULL::int[])) v(x)
ERROR 22004: cannot accumulate null arrays

> SELECT ARRAY[ARRAY[1,2], NULL] AS a
ERROR 2202E: multidimensional arrays must have array expressions with matching dimensions

> SELECT ARRAY[NULL::int[], NULL::int[]] AS a
a
{}

> SELECT id FROM md WHERE a = '{{1,2},{3,4}}' ORDER BY id
id
1

> SELECT a FROM md ORDER BY a
a
{{1,2},{3,4}}
{5,6}
{{7},{8},{9}}

> UPDATE md SET a = a || ARRAY[[0,0]] WHERE id = 1 RETURNING a
a
{{1,2},{3,4},{0,0}}

> SELECT array_position(ARRAY[[1,2],[3,4]], 3)
ERROR 0A000: searching for elements in multidimensional arrays is not supported

> SELECT array_agg(x) AS a, json_agg(x) AS j, jsonb_agg(x) AS jb, string_agg(x::text, ',') AS s, count(x) AS n FROM (VALUES (1), (NULL)) v(x)
a | j | jb | s | n
{1,NULL} | [1, null] | [1, null] | 1 | 1

> SELECT array_agg(x ORDER BY x DESC NULLS LAST) AS a FROM (VALUES (1), (NULL), (2)) v(x)
a
{2,1,NULL}

> SELECT array_agg(x) OVER () AS a FROM (VALUES (1), (NULL)) v(x)
a
{1,NULL}
{1,NULL}

> SELECT array_agg(ARRAY[id, id * 10] ORDER BY id) AS agg, ARRAY(SELECT ARRAY[id] FROM md ORDER BY id) AS sub FROM md
agg | sub
{{1,10},{2,20},{3,30}} | {{1},{2},{3}}

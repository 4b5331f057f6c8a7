/**
 * PL/pgSQL condition names (EXCEPTION WHEN name, RAISE name) and their
 * SQLSTATEs: PostgreSQL's errcodes.txt, the classes and the conditions
 * applications name most. A name not listed here is 42704 at run time
 * ("unrecognized exception condition").
 */

const CONDITIONS: Readonly<Record<string, string>> = {
  successful_completion: '00000',
  warning: '01000',
  no_data: '02000',
  sql_statement_not_yet_complete: '03000',
  connection_exception: '08000',
  feature_not_supported: '0A000',
  invalid_transaction_initiation: '0B000',
  cardinality_violation: '21000',
  data_exception: '22000',
  array_subscript_error: '2202E',
  character_not_in_repertoire: '22021',
  datetime_field_overflow: '22008',
  division_by_zero: '22012',
  invalid_datetime_format: '22007',
  invalid_parameter_value: '22023',
  invalid_text_representation: '22P02',
  invalid_binary_representation: '22P03',
  invalid_escape_sequence: '22025',
  null_value_not_allowed: '22004',
  numeric_value_out_of_range: '22003',
  string_data_right_truncation: '22001',
  invalid_json_text: '22032',
  integrity_constraint_violation: '23000',
  restrict_violation: '23001',
  not_null_violation: '23502',
  foreign_key_violation: '23503',
  unique_violation: '23505',
  check_violation: '23514',
  exclusion_violation: '23P01',
  invalid_cursor_state: '24000',
  invalid_transaction_state: '25000',
  active_sql_transaction: '25001',
  read_only_sql_transaction: '25006',
  in_failed_sql_transaction: '25P02',
  invalid_authorization_specification: '28000',
  invalid_password: '28P01',
  transaction_rollback: '40000',
  serialization_failure: '40001',
  deadlock_detected: '40P01',
  syntax_error_or_access_rule_violation: '42000',
  syntax_error: '42601',
  insufficient_privilege: '42501',
  undefined_column: '42703',
  undefined_function: '42883',
  undefined_table: '42P01',
  undefined_parameter: '42P02',
  undefined_object: '42704',
  duplicate_column: '42701',
  duplicate_function: '42723',
  duplicate_object: '42710',
  duplicate_schema: '42P06',
  duplicate_table: '42P07',
  ambiguous_column: '42702',
  ambiguous_function: '42725',
  datatype_mismatch: '42804',
  wrong_object_type: '42809',
  invalid_schema_name: '3F000',
  insufficient_resources: '53000',
  out_of_memory: '53200',
  program_limit_exceeded: '54000',
  object_not_in_prerequisite_state: '55000',
  object_in_use: '55006',
  lock_not_available: '55P03',
  operator_intervention: '57000',
  query_canceled: '57014',
  system_error: '58000',
  plpgsql_error: 'P0000',
  raise_exception: 'P0001',
  no_data_found: 'P0002',
  too_many_rows: 'P0003',
  assert_failure: 'P0004',
  internal_error: 'XX000',
};

/** The SQLSTATE a condition name stands for (a 5-character SQLSTATE stands for itself). */
export function conditionCode(name: string): string | undefined {
  if (/^[0-9A-Z]{5}$/.test(name)) return name;
  return CONDITIONS[name.toLowerCase()];
}

/**
 * Whether `WHEN cond` catches an error with `code`: equal codes, or a class
 * condition (xx000) catching its class; OTHERS catches everything but
 * query_canceled and assert_failure, as in PostgreSQL.
 */
export function conditionMatches(cond: string, code: string): boolean {
  if (cond === 'others') return code !== '57014' && code !== 'P0004';
  const c = conditionCode(cond);
  if (c === undefined) return false;
  if (c === code) return true;
  return c.endsWith('000') && c !== '00000' && c.slice(0, 2) === code.slice(0, 2);
}

/**
 * Session settings (GUCs) that clients send and read: defaults, value
 * normalization and validation. Unknown names are 42704 like PostgreSQL,
 * except names with a dot (custom "extension.name" settings), which any
 * session may set.
 */

import { NextDbError } from '../util/errors.ts';
import { normalizeZone } from './types/datetime.ts';
import { formatMemoryKb, parseMemorySetting } from './exec/spill.ts';

export interface SettingDef {
  readonly default: string;
  /** Normalizes a value; throws 22023 when invalid. */
  readonly normalize?: (v: string) => string;
  /** Sent to clients in ParameterStatus when changed. */
  readonly report?: boolean;
  readonly readOnly?: boolean;
}

function bool(v: string): string {
  const s = v.trim().toLowerCase();
  if (['on', 'true', 'yes', '1', 't', 'y'].includes(s)) return 'on';
  if (['off', 'false', 'no', '0', 'f', 'n'].includes(s)) return 'off';
  throw new NextDbError('22023', `parameter requires a Boolean value`);
}

function isolation(v: string): string {
  const s = v.trim().toLowerCase().replace(/\s+/g, ' ');
  if (['serializable', 'repeatable read', 'read committed'].includes(s)) return s;
  if (s === 'read uncommitted') return 'read committed';
  throw new NextDbError('22023', `invalid value for parameter "transaction_isolation": "${v}"`);
}

function duration(v: string): string {
  const m = /^\s*(\d+)\s*(ms|s|min|h|d)?\s*$/i.exec(v);
  if (m === null) throw new NextDbError('22023', `invalid value for parameter "statement_timeout": "${v}"`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const ms =
    unit === 'ms'
      ? n
      : unit === 's'
        ? n * 1000
        : unit === 'min'
          ? n * 60000
          : unit === 'h'
            ? n * 3600000
            : n * 86400000;
  return String(ms);
}

/** A memory setting in kB units (PostgreSQL's work_mem, temp_file_limit): validated, shown in its largest whole unit. */
function memory(name: string, v: string, minKb: number, maxKb: number): string {
  const bytes = parseMemorySetting(v);
  if (bytes === undefined) throw new NextDbError('22023', `invalid value for parameter "${name}": "${v}"`);
  const kb = Math.floor(bytes / 1024);
  if (kb < minKb || kb > maxKb)
    throw new NextDbError(
      '22023',
      `${kb} kB is outside the valid range for parameter "${name}" (${minKb} .. ${maxKb})`,
    );
  return kb < 0 ? String(kb) : formatMemoryKb(kb);
}

export const SETTINGS: Record<string, SettingDef> = {
  server_version: { default: '15.18', readOnly: true, report: true },
  server_version_num: { default: '150018', readOnly: true },
  server_encoding: { default: 'UTF8', readOnly: true, report: true },
  client_encoding: {
    default: 'UTF8',
    report: true,
    normalize: (v) => {
      const s = v.trim().toUpperCase().replace(/[-_]/g, '');
      if (s === 'UTF8' || s === 'UNICODE') return 'UTF8';
      if (s === 'SQLASCII') return 'SQL_ASCII';
      throw new NextDbError('22023', `invalid value for parameter "client_encoding": "${v}"`);
    },
  },
  datestyle: {
    default: 'ISO, MDY',
    report: true,
    normalize: (v) => {
      const parts = v.split(',').map((p) => p.trim().toUpperCase());
      if (parts.some((p) => !['ISO', 'MDY', 'DMY', 'YMD'].includes(p)))
        throw new NextDbError('0A000', `DateStyle "${v}" is not supported yet (only ISO)`);
      const order = parts.find((p) => p !== 'ISO') ?? 'MDY';
      return `ISO, ${order}`;
    },
  },
  intervalstyle: {
    default: 'postgres',
    report: true,
    normalize: (v) => {
      if (v.trim().toLowerCase() !== 'postgres')
        throw new NextDbError('0A000', `IntervalStyle "${v}" is not supported yet`);
      return 'postgres';
    },
  },
  timezone: {
    default: 'UTC',
    report: true,
    normalize: (v) => {
      const z = normalizeZone(v);
      if (z === undefined) throw new NextDbError('22023', `invalid value for parameter "TimeZone": "${v}"`);
      return z;
    },
  },
  application_name: { default: '', report: true },
  search_path: { default: '"$user", public' },
  extra_float_digits: {
    default: '1',
    normalize: (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < -15 || n > 3)
        throw new NextDbError('22023', `${v} is outside the valid range for parameter "extra_float_digits" (-15 .. 3)`);
      return String(n);
    },
  },
  statement_timeout: { default: '0', normalize: duration },
  lock_timeout: { default: '0', normalize: duration },
  idle_in_transaction_session_timeout: { default: '0', normalize: duration },
  default_transaction_isolation: { default: 'serializable', normalize: isolation },
  transaction_isolation: { default: 'serializable', normalize: isolation },
  default_transaction_read_only: { default: 'off', normalize: bool, report: true },
  transaction_read_only: { default: 'off', normalize: bool },
  standard_conforming_strings: { default: 'on', report: true, readOnly: true },
  integer_datetimes: { default: 'on', report: true, readOnly: true },
  is_superuser: { default: 'on', report: true, readOnly: true },
  in_hot_standby: { default: 'off', report: true, readOnly: true },
  session_authorization: { default: '', report: true, readOnly: true },
  max_identifier_length: { default: '63', readOnly: true },
  lc_collate: { default: 'C', readOnly: true },
  lc_ctype: { default: 'C', readOnly: true },
  lc_messages: { default: 'C' },
  lc_monetary: { default: 'C' },
  lc_numeric: { default: 'C' },
  lc_time: { default: 'C' },
  client_min_messages: { default: 'notice' },
  synchronous_commit: { default: 'on' },
  row_security: { default: 'on', normalize: bool },
  bytea_output: {
    default: 'hex',
    normalize: (v) => {
      if (v.trim().toLowerCase() !== 'hex')
        throw new NextDbError('0A000', 'bytea_output "escape" is not supported yet');
      return 'hex';
    },
  },
  enable_seqscan: { default: 'on', normalize: bool },
  jit: { default: 'off', normalize: bool },
  work_mem: { default: '4MB', normalize: (v) => memory('work_mem', v, 64, 2147483647) },
  temp_file_limit: { default: '-1', normalize: (v) => memory('temp_file_limit', v, -1, 2147483647) },
  maintenance_work_mem: { default: '64MB' },
  max_parallel_workers_per_gather: { default: '0' },
  block_size: { default: '8192', readOnly: true },
  escape_string_warning: { default: 'on', normalize: bool },
  check_function_bodies: { default: 'on', normalize: bool },
  xmloption: { default: 'content' },
  default_tablespace: { default: '' },
  temp_tablespaces: { default: '' },
  search_path_dummy: { default: '' },
};

/** PostgreSQL's canonical spelling of names whose ParameterStatus differs from lower case. */
export const DISPLAY_NAMES: Record<string, string> = {
  datestyle: 'DateStyle',
  timezone: 'TimeZone',
  intervalstyle: 'IntervalStyle',
};

export function settingKey(name: string): string {
  return name.toLowerCase();
}

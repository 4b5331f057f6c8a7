/**
 * The SQL layer's public surface (curated): the engine the protocol server
 * and the embedded API use, and the session contract.
 */
export { SqlEngine, type SqlEngineOptions, type StartupInfo } from './sql-engine.ts';
export { SqlSession } from './session.ts';
export type * from './api.ts';
export { FormatCode } from './api.ts';

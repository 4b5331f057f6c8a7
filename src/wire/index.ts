/**
 * The PostgreSQL protocol v3 codec: pure, no sockets. The server (src/server)
 * drives it; tests, benchmarks and clients use the inverse halves.
 */
export {
  FrontendParser,
  defaultMaxMessageBytes,
  maxStartupPacketBytes,
  type FrontendParserOptions,
} from './frontend-parser.ts';
export { FrontendWriter } from './frontend-writer.ts';
export { BackendWriter, AuthCode, type ErrorNoticeFields } from './backend-writer.ts';
export { BackendParser, type BackendMessage, type FieldDescription } from './backend-parser.ts';
export {
  RequestCode,
  parsePasswordMessage,
  parseSaslInitialResponse,
  type FrontendMessage,
  type FrontendMessageKind,
} from './frontend-messages.ts';
export { ProtocolError } from './protocol-error.ts';
export {
  ScramServerExchange,
  checkPassword,
  md5ExpectedResponse,
  md5Verifier,
  parseScramVerifier,
  scramSecret,
  scramSecretFor,
  scramVerifier,
  scramMechanism,
} from './password-auth.ts';
export { CopyRowParser, formatCopyRow, type CopyFormatOptions, type CopyRow } from './copy-format.ts';

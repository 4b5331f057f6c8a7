/**
 * The encoding layer: the order-preserving key codec (byte order of keys ==
 * SQL order of values) and varints. See docs/internals/encoding.md.
 */
export { KeyWriter, KeyReader, prefixSuccessor, type KeyValueKind } from './key-codec.ts';
export {
  type VarintRead,
  VarintCursor,
  uvarint32Length,
  writeUvarint32,
  readUvarint32,
  uvarint64Length,
  writeUvarint64,
  readUvarint64,
  varint32Length,
  writeVarint32,
  readVarint32,
  varint64Length,
  writeVarint64,
  readVarint64,
  zigzagEncode32,
  zigzagDecode32,
  zigzagEncode64,
  zigzagDecode64,
} from './varint.ts';

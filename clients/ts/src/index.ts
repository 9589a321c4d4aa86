// @gsio/client: everything a web or Node app needs to use a gsio-net node and to check its ledger.
export type { Entry, ErrorReply, JsonValue, KnownNode, NodeInfo, Reorg } from './types.js';
export { canonicalize, canonicalBytes, CanonicalJsonError } from './canonical.js';
export { bytesToHex, hexToBytes, isHex } from './hex.js';
export {
  GENESIS_HASH, ChainVerifier, computeEntryHash, createEntry, entryHashInput, nodeIdFromSeed, relayProof, verifyChain,
  verifyEntry,
} from './verify.js';
export type { ChainProblem, ChainVerification, NewEntry, VerifyChainOptions, VerifyProblem, VerifyReason } from './verify.js';
export { GsioClient, GsioRequestError, GsioTimeoutError, connect } from './client.js';
export type { ConnectionState, ConnectionStatus, GsioClientOptions, TransportName } from './client.js';
export {
  EnvelopeError, RelayConnection, decodeEnvelope, encodeEnvelope, makeEnvelope, newMessageId,
} from './p2p.js';
export type { Envelope, MessageType, RelayConnectOptions, WebSocketConstructor, WebSocketLike } from './p2p.js';
export type { Unsubscribe } from './emitter.js';
export { LiveLedger } from './live.js';
export type { LedgerChange, Verification } from './live.js';

// @gsio/client: everything a web or Node app needs to use a gsio-net node and to check its ledger.
export type { Entry, ErrorReply, HistoryPage, HistoryQuery, JsonValue, KnownNode, KnownNodes, NodeHealth, NodeInfo, Reorg } from './types.js';
export { PROTOCOL_VERSION } from './types.js';
export { canonicalize, canonicalBytes, CanonicalJsonError } from './canonical.js';
export { bytesToHex, hexToBytes, isHex } from './hex.js';
export { MAX_JSON_DEPTH, MAX_NUMBER_CHARS, StrictJsonError, parseStrictJson } from './json.js';
export { MAX_UNIX_US, nowUnixUs, timestampFromUnixUs, unixMsFromId, unixUsFromId } from './ids.js';
export {
  DEFAULT_ENTRY_LIMITS, ENTRY_FIELDS, GENESIS_HASH, ChainVerifier, computeEntryHash, createEntry, entryHashInput,
  nodeIdFromSeed, parseEntryText, relayProof, verifyChain, verifyEntry, verifyEntryText, verifySignature,
  charterNetworkId, signedDigest, verifyAuthorBlock, verifySignatureAsync, verifySignatureWebCrypto,
  webCryptoEd25519Available,
} from './verify.js';
export {
  InviteError, MAX_NICK_BYTES, clientProof, fingerprint, newSeed, nickProblem, readInvite, redeemInvite, signAsAuthor,
} from './members.js';
export type { Challenge, Invite, InviteProblem, MemberRecord, Members, MembershipChange, Role } from './members.js';
export type {
  BatchProblem, ChainProblem, ChainVerification, ChainVerifierOptions, EntryLimits, SignatureEngine, NewEntry, VerifyChainOptions, VerifyProblem, VerifyReason,
} from './verify.js';
export { GsioClient, GsioRequestError, GsioTimeoutError, connect } from './client.js';
export type { ConnectionState, ConnectionStatus, GsioClientOptions, TransportName } from './client.js';
export {
  EnvelopeError, RelayConnection, decodeEnvelope, encodeEnvelope, makeEnvelope, newMessageId,
} from './p2p.js';
export type {
  Envelope, EntryAnnouncePayload, MessageType, NodeAnnouncePayload, NodeListResponsePayload, RelayConnectOptions,
  WebSocketConstructor, WebSocketLike,
} from './p2p.js';
export type { Unsubscribe } from './emitter.js';
export { LiveLedger, MemoryCheckpoints } from './live.js';
export type { Checkpoint, CheckpointStore, LedgerChange, LiveLedgerOptions, LiveSource, Verification } from './live.js';

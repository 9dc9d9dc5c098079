/**
 * @proj/transport (private, bundled into @proj/server and @proj/client): the
 * one Node I/O path between a socket and the sans-I/O connection.
 * @packageDocumentation
 */
export {
  CLOSE_LINGER_MS,
  ReadMark,
  SocketTransport,
  type SocketTransportInit,
  type TransportEvents,
  type TransportSettings,
  type TransportSocket,
  type WriteBoundary,
  kOnCallbackError,
  kOnClose,
  kOnClosing,
  kOnDrain,
  kOnError,
  kOnEvicted,
  kOnMessage,
  kOnOpen,
  kOnPing,
  kOnPong,
  kOnSocketError,
  toBuffer,
} from './socket-transport.js';
export {
  type BudgetReader,
  MemoryBudget,
  PAUSE_FLOOR,
  type PressureListener,
  RESUME_FRACTION,
} from './memory-budget.js';
export {
  MESSAGE_SLAB_SIZE,
  SLAB_MESSAGE_LIMIT,
  SLAB_MESSAGE_MIN,
  allocateUnsafe,
} from './message-slab.js';
export {
  RECYCLE_KEEP,
  RECYCLE_MIN,
  isLent,
  lentBuffers,
  ownIfLent,
  recycledBytesFree,
} from './lent-messages.js';
export { READ_SIZE } from './lent-reads.js';
export { type SendCallback, SendQueue, type SendSink } from './send-queue.js';
export { withStreamAbort } from './stream-socket.js';

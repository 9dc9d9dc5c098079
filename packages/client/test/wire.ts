/**
 * Kept for e2e/wire-tap.ts and e2e/tests/extensions.spec.ts, which import it
 * by path: the wire tools live in @proj/test-utils (frames read by hand from
 * RFC 6455 §5.2, messages inflated as RFC 7692 §7.2.2 says).
 */
export {
  DEFLATE_TAIL,
  FrameReader,
  type RawFrame,
  type RawMessage,
  inflateMessages,
  rawMessages,
} from '@proj/test-utils/wire';

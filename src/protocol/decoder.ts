import { ErrorCodes, ProtocolError } from './errors.js';
import { PRELUDE_SIZE, readPrelude } from './prelude.js';

/** One frame as cut from the byte stream; header and body are views. */
export interface RawFrame {
  type: number;
  header: Buffer;
  body: Buffer;
}

export interface DecoderLimits {
  /** Largest header + body accepted, checked before anything is allocated for the frame. */
  maxFrameSize: number;
  /** Largest header accepted; headers are small, so a huge one is a broken peer. */
  maxHeaderSize: number;
}

export const DEFAULT_DECODER_LIMITS: DecoderLimits = {
  maxFrameSize: 64 * 1024 * 1024,
  maxHeaderSize: 16 * 1024 * 1024,
};

const enum State {
  Prelude,
  Payload,
  Failed,
}

/**
 * Cuts a byte stream into frames. An explicit two-state machine:
 *
 *   Prelude: collect 12 bytes, validate version and lengths against the limits
 *   Payload: collect headerLength + bodyLength bytes, emit, back to Prelude
 *
 * A frame wholly inside one input chunk is emitted as views of that chunk (no
 * copy). Only a frame that spans chunks is gathered into one buffer, allocated
 * at its exact size after the limit check. After a ProtocolError the decoder
 * stays failed: the connection it serves must be closed.
 */
export class FrameDecoder {
  private state = State.Prelude;
  private readonly prelude = Buffer.alloc(PRELUDE_SIZE);
  private preludeFill = 0;
  private type = 0;
  private headerLength = 0;
  private payload: Buffer | undefined;
  private payloadLength = 0;
  private payloadFill = 0;

  constructor(private limits: DecoderLimits = DEFAULT_DECODER_LIMITS) {}

  /**
   * Limits for the frames whose prelude is read from now on (a connection
   * allows only small frames until its peer is authenticated).
   */
  setLimits(limits: DecoderLimits): void {
    this.limits = limits;
  }

  /** Bytes held for an incomplete frame, including the gather buffer's full size (for memory accounting). */
  get buffered(): number {
    return this.preludeFill + (this.payload?.length ?? 0);
  }

  push(chunk: Buffer, onFrame: (frame: RawFrame) => void): void {
    if (this.state === State.Failed) throw new ProtocolError('decoder already failed');
    let at = 0;
    const end = chunk.length;
    try {
      while (at < end) {
        if (this.state === State.Prelude) {
          let payloadLength: number;
          if (this.preludeFill === 0 && end - at >= PRELUDE_SIZE) {
            // The whole prelude is in this chunk: read it in place.
            payloadLength = this.startFrame(chunk, at);
            at += PRELUDE_SIZE;
          } else {
            const take = Math.min(PRELUDE_SIZE - this.preludeFill, end - at);
            chunk.copy(this.prelude, this.preludeFill, at, at + take);
            this.preludeFill += take;
            at += take;
            if (this.preludeFill < PRELUDE_SIZE) return;
            this.preludeFill = 0;
            payloadLength = this.startFrame(this.prelude, 0);
          }
          if (payloadLength === 0) this.emit(chunk, at, 0, onFrame);
          else this.beginGather(payloadLength); // the Payload state hands out a view when this chunk holds it all
          continue;
        }
        // State.Payload: the prelude is known, the payload is not complete yet.
        if (this.payload === undefined) {
          // Nothing of the payload arrived yet: if this chunk holds all of it, hand out a view.
          if (end - at >= this.payloadLength) {
            this.state = State.Prelude;
            this.emit(chunk, at, this.payloadLength, onFrame);
            at += this.payloadLength;
            continue;
          }
          this.payload = Buffer.allocUnsafe(this.payloadLength);
        }
        const payload = this.payload;
        const take = Math.min(payload.length - this.payloadFill, end - at);
        chunk.copy(payload, this.payloadFill, at, at + take);
        this.payloadFill += take;
        at += take;
        if (this.payloadFill === payload.length) {
          this.payload = undefined;
          this.payloadFill = 0;
          this.state = State.Prelude;
          this.emit(payload, 0, payload.length, onFrame);
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.fail();
      throw err;
    }
  }

  /** Validates a prelude and returns the payload length (header + body). */
  private startFrame(buf: Buffer, at: number): number {
    const p = readPrelude(buf, at);
    if (p.headerLength > this.limits.maxHeaderSize) {
      throw new ProtocolError(`header of ${p.headerLength} bytes exceeds ${this.limits.maxHeaderSize}`, ErrorCodes.FRAME_TOO_LARGE);
    }
    const total = p.headerLength + p.bodyLength;
    if (total > this.limits.maxFrameSize) {
      throw new ProtocolError(`frame of ${total} bytes exceeds ${this.limits.maxFrameSize}`, ErrorCodes.FRAME_TOO_LARGE);
    }
    this.type = p.type;
    this.headerLength = p.headerLength;
    return total;
  }

  /** Waits for the rest of a frame; the gather buffer is allocated only if the payload really spans chunks. */
  private beginGather(payloadLength: number): void {
    this.payload = undefined;
    this.payloadLength = payloadLength;
    this.payloadFill = 0;
    this.state = State.Payload;
  }

  private emit(buf: Buffer, at: number, length: number, onFrame: (frame: RawFrame) => void): void {
    const headerEnd = at + this.headerLength;
    onFrame({ type: this.type, header: buf.subarray(at, headerEnd), body: buf.subarray(headerEnd, at + length) });
  }

  private fail(): void {
    this.state = State.Failed;
    this.payload = undefined;
    this.payloadFill = 0;
    this.preludeFill = 0;
  }
}

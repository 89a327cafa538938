/**
 * What the remote said in its latest offer or answer. Written only by the Handshaker; the meeting
 * rule and the guard read it.
 */
export class RemoteView {
  caps: readonly string[] = [];
  /** Its home relay; null while it has none. */
  relayUrl: string | null = null;
  /** Controller side: the relay the remote (the follower) said it cannot reach. */
  unreachable: string | null = null;
  iceSession: string | null = null;

  /** False until the first offer or answer arrived. */
  get heard(): boolean {
    return this.caps.length > 0;
  }

  has(cap: string): boolean {
    return this.caps.includes(cap);
  }
}

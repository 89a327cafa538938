// This package's defaults, defined once and imported where used. Times in ms.

/** IceWorker: deadline from building an agent to a nominated pair. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** IceWorker: remote candidates held at most until their session's agent exists (oldest dropped first). */
export const CANDIDATE_BUFFER_MAX = 32;
/** IceWorker: how long a held remote candidate stays usable. */
export const CANDIDATE_BUFFER_TTL_MS = 15_000;
/** IceWorker: ended remote sessions remembered, so that their late candidates are dropped, not held. */
export const DEAD_SESSIONS_REMEMBERED = 16;
/** WeriftIceAgent: cap on waiting for STUN answers while gathering. */
export const STUN_TIMEOUT_MS = 5_000;
/** IcePath: largest UDP payload over IPv4; anything bigger cannot be sent as one datagram. */
export const MAX_DATAGRAM_BYTES = 65_507;
/**
 * Consent (RFC 7675): consent to send expires this long after the last authenticated answer from
 * the remote on the selected pair — a STUN consent response, or a probe answer reported through
 * `IcePath.consentEvidence()` (werift uses the same 30 s for its STUN-only consent).
 */
export const CONSENT_TIMEOUT_MS = 30_000;
/** Consent: while kept by probe answers alone, how often expiry is checked. */
export const CONSENT_CHECK_MS = 1_000;

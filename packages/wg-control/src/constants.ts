// WireGuard's own protocol constants, as wireguard-go defines them (device/constants.go,
// device/noise-protocol.go; whitepaper §5.4 and §6). Times in ms. Defined once here: everything in
// this package that reasons about WireGuard's timing or framing imports them.

/** A session older than this is renewed by its initiator. */
export const REKEY_AFTER_TIME_MS = 120_000;
/** A session older than this carries no more data: without a newer handshake the tunnel is down. */
export const REJECT_AFTER_TIME_MS = 180_000;
/** WireGuard keeps retrying a handshake this long before it gives up (until new traffic). */
export const REKEY_ATTEMPT_TIME_MS = 90_000;
/** Retry interval of an unanswered initiation: after it, WireGuard has sent a newer one of its own. */
export const REKEY_TIMEOUT_MS = 5_000;
/** A passive keepalive goes out this long after data was received and none was sent back. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;

/** Message types: the first byte of every message, followed by three zero bytes. */
export const MESSAGE_INITIATION_TYPE = 1;
/** Type byte of a handshake response. */
export const MESSAGE_RESPONSE_TYPE = 2;
/** Type byte of a cookie reply (sent by a peer under load). */
export const MESSAGE_COOKIE_REPLY_TYPE = 3;
/** Type byte of a transport (data or keepalive) message. */
export const MESSAGE_TRANSPORT_TYPE = 4;

/** Message sizes in bytes. Handshake messages have a fixed size; transport ones a header and a tag. */
export const MESSAGE_INITIATION_SIZE = 148;
/** Size of a handshake response. */
export const MESSAGE_RESPONSE_SIZE = 92;
/** Size of a cookie reply. */
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
/** Size of a transport message's header (type, receiver index, counter). */
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
/** Poly1305 tag after every transport payload. */
export const MESSAGE_TRANSPORT_TAG_SIZE = 16;
/** A keepalive is a transport message with an empty payload. */
export const MESSAGE_KEEPALIVE_SIZE = MESSAGE_TRANSPORT_HEADER_SIZE + MESSAGE_TRANSPORT_TAG_SIZE;

/** Byte offset of the receiver's index (LE u32) in a transport message: the recipient's index for the session. */
export const MESSAGE_TRANSPORT_RECEIVER_INDEX_OFFSET = 4;
/** Byte offset of the sender's index (LE u32) in an initiation or a response. */
export const MESSAGE_SENDER_INDEX_OFFSET = 4;
/** Byte offset of the receiver's index (LE u32) in a response: the initiation's sender index. */
export const MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET = 8;

// This package's own defaults (not WireGuard's).

/** Largest payload one UDP datagram can carry over IPv4. */
export const MAX_UDP_PAYLOAD = 65_507;

/** HandshakeWatcher: a handshake newer than the baseline must appear this soon (NetBird: 30 s). */
export const FIRST_HANDSHAKE_TIMEOUT_MS = 30_000;
/** HandshakeWatcher: a last handshake older than this is dead (NetBird: 3 min 30 s; WireGuard rekeys every 2 min). */
export const HANDSHAKE_STALE_AFTER_MS = 210_000;
/** HandshakeWatcher: longest gap between two reads of the device. */
export const HANDSHAKE_CHECK_INTERVAL_MS = 5_000;
/** HandshakeWatcher: wall vs monotonic drift between two checks that counts as a clock jump. */
export const CLOCK_JUMP_TOLERANCE_MS = 5_000;

/** PeerEndpoint: one probe per attached path this often. */
export const PROBE_INTERVAL_MS = 1_000;
/** PeerEndpoint: a path whose remote answers probes is `silent` after this long without a datagram. */
export const TRUST_WINDOW_MS = 3_000;
/** PeerEndpoint: same for a path judged by WireGuard traffic alone; above the 25 s persistent keepalive. */
export const TRAFFIC_TRUST_WINDOW_MS = 30_000;
/** PeerEndpoint: probe round trips this long or longer are implausible (a clock step) and not recorded. */
export const MAX_PROBE_RTT_MS = 60_000;
/**
 * PeerEndpoint: a probe whose pong has not come back this long after the ping is lost. Far above
 * any usable path's RTT; a pong later than this still gives an RTT sample, but the probe stays lost
 * (an answer that late is no use to a real-time tunnel, and each probe is judged once).
 */
export const PROBE_LOSS_TIMEOUT_MS = 2_000;
/** PeerEndpoint: loss is estimated over the last this many judged probes of a path (10 s at one probe a second). */
export const QUALITY_WINDOW = 10;
/** PeerEndpoint: no loss estimate (null) until this many probes of the window are judged. */
export const QUALITY_MIN_SAMPLES = 5;
/** PeerEndpoint: weight of a new RTT sample in the smoothed RTT (TCP's SRTT, RFC 6298). */
export const RTT_SMOOTHING = 1 / 8;
/**
 * PeerEndpoint: WireGuard's latest unanswered handshake message that went out on a path this
 * shortly before another path became active is sent again on the new one: the old path is
 * usually being abandoned because it fails, and a handshake round trip takes far less than this.
 */
export const HANDSHAKE_RESEND_WINDOW_MS = 1_000;
/**
 * PeerEndpoint: how long a remote initiation that crossed ours waits for the answer to ours before
 * it goes to WireGuard anyway (ours may have been lost): far below the 5 s retry it saves, above a relay RTT.
 */
export const CROSSED_INITIATION_WAIT_MS = 1_000;
/** PeerEndpoint: WireGuard answers an initiation within milliseconds; no answer by then means it rejected it. */
export const ANSWER_WAIT_MS = 250;

/** UapiDevice / WgCliDevice: how long the device may take to answer one request. */
export const DEVICE_REQUEST_TIMEOUT_MS = 5_000;
/** UapiDevice: peer writes sent as one `set=1` request at most (as `wg setconf` does). */
export const UAPI_MAX_BATCHED_WRITES = 64;

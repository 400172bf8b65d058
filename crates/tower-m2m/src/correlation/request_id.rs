use http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};
use uuid::Uuid;

/// The header that carries the request id, in and out.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from outside: 128 bytes. A UUID is 36, the longest ids in
/// common use (a trace id with a prefix) stay under 100; longer is abuse, and would bloat every
/// log line and upstream request it is copied into.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether an incoming request id may be forwarded: 1 to [`MAX_REQUEST_ID_LEN`] bytes of
/// visible ASCII (no spaces, no control characters, nothing a log line could be forged with).
pub fn is_valid_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// A fresh request id: a random UUID (v4).
///
/// The randomness comes from `rand`'s thread-local generator, not a system call per id, so
/// minting stays off the profile of the request path.
pub fn new_request_id() -> RequestId {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buffer = Uuid::encode_buffer();
    let id = uuid.hyphenated().encode_lower(&mut buffer);
    RequestId::new(HeaderValue::from_str(id).expect("a UUID is a valid header value"))
}

/// Mints [`new_request_id`]s for tower-http's [`SetRequestId`](tower_http::request_id::SetRequestId).
#[derive(Clone, Copy, Debug, Default)]
pub struct MintRequestId;

impl MakeRequestId for MintRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(new_request_id())
    }
}

//! A request body that knows whether it can be sent again.
//!
//! Two layers of this crate may send a request a second time: the token layer replays a request
//! once when upstream rejects its token (see [`token`](crate::token)), and a retry layer sends it
//! again after a transient failure. Both need the same answer to one question: *can this body be
//! sent again?* A buffered body can: its bytes are kept and cloning them is a reference-count
//! increment. A streaming body cannot: once polled, its bytes are gone, and sending half of it
//! again would be worse than failing.
//!
//! [`ReplayBody`] carries that answer in its type. Build it from bytes (`From<Bytes>`,
//! `From<String>`, `From<Vec<u8>>`, `From<&'static str>`, [`ReplayBody::empty`]) and it is
//! replayable; wrap a stream with [`ReplayBody::streaming`] and it never is. Layers that want to
//! send a request again call [`try_clone_request`], which clones the request only when its body
//! allows it. The [`TryCloneBody`] trait extends the same question to other body types.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use tower_m2m::body::{try_clone_request, ReplayBody};
//!
//! let buffered = Request::post("https://api.example.com/users")
//!     .body(ReplayBody::from(r#"{"name":"Ada"}"#))
//!     .unwrap();
//! assert!(try_clone_request(&buffered).is_some());
//!
//! let stream = http_body_util::Full::new(Bytes::from_static(b"chunk"));
//! let streaming = Request::post("https://api.example.com/upload")
//!     .body(ReplayBody::streaming(stream))
//!     .unwrap();
//! assert!(try_clone_request(&streaming).is_none());
//! ```

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;

/// The error type of boxed bodies and of the middleware in this crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that is either buffered (replayable) or streaming (sent at most once).
///
/// See the [module docs](crate::body) for why the distinction matters.
pub struct ReplayBody {
    kind: Kind,
}

enum Kind {
    /// The whole body, kept so it can be sent again; `sent` once this copy has yielded it.
    Buffered { bytes: Bytes, sent: bool },
    /// A stream, polled at most once.
    Streaming(BoxBody<Bytes, BoxError>),
}

impl ReplayBody {
    /// An empty, replayable body.
    pub fn empty() -> Self {
        Self::from(Bytes::new())
    }

    /// Wraps a streaming body. The result is never replayed: [`ReplayBody::try_clone`] returns
    /// `None` for it.
    pub fn streaming<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            kind: Kind::Streaming(body.map_err(Into::into).boxed()),
        }
    }

    /// Whether this body can be sent again.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Buffered { .. })
    }

    /// The buffered bytes, or `None` for a streaming body.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Buffered { bytes, .. } => Some(bytes),
            Kind::Streaming(_) => None,
        }
    }

    /// A fresh copy of a buffered body (not yet sent), or `None` for a streaming body.
    ///
    /// Cloning shares the bytes; nothing is copied.
    pub fn try_clone(&self) -> Option<Self> {
        self.as_bytes().cloned().map(Self::from)
    }
}

impl Default for ReplayBody {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for ReplayBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The content may be a credential (a token request form), so only its shape is shown.
        match &self.kind {
            Kind::Buffered { bytes, .. } => f
                .debug_struct("ReplayBody::Buffered")
                .field("len", &bytes.len())
                .finish(),
            Kind::Streaming(_) => f.write_str("ReplayBody::Streaming"),
        }
    }
}

impl From<Bytes> for ReplayBody {
    fn from(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Buffered { bytes, sent: false },
        }
    }
}

impl From<Vec<u8>> for ReplayBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<String> for ReplayBody {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl From<&'static str> for ReplayBody {
    fn from(text: &'static str) -> Self {
        Self::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for ReplayBody {
    fn from(bytes: &'static [u8]) -> Self {
        Self::from(Bytes::from_static(bytes))
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Buffered { bytes, sent } => {
                if *sent || bytes.is_empty() {
                    return Poll::Ready(None);
                }
                *sent = true;
                Poll::Ready(Some(Ok(Frame::data(bytes.clone()))))
            }
            Kind::Streaming(stream) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Buffered { bytes, sent } => *sent || bytes.is_empty(),
            Kind::Streaming(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Buffered { bytes, sent } if !*sent => SizeHint::with_exact(bytes.len() as u64),
            Kind::Buffered { .. } => SizeHint::with_exact(0),
            Kind::Streaming(stream) => stream.size_hint(),
        }
    }
}

/// A body type that may be cloned so that its request can be sent again.
///
/// Implemented for [`ReplayBody`] (buffered bodies only) and for the always-buffered bodies
/// `String`, `Bytes`, [`http_body_util::Full`] and [`http_body_util::Empty`]. Implement it for your
/// own body type to let the token layer replay its requests; return `None` for anything that
/// cannot be reproduced exactly.
pub trait TryCloneBody: Sized {
    /// A copy of this body, ready to be sent from the start, or `None` if it cannot be replayed.
    fn try_clone_body(&self) -> Option<Self>;
}

impl TryCloneBody for ReplayBody {
    fn try_clone_body(&self) -> Option<Self> {
        self.try_clone()
    }
}

impl TryCloneBody for String {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for Bytes {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for http_body_util::Full<Bytes> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for http_body_util::Empty<Bytes> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(Self::new())
    }
}

/// Clones a request so it can be sent again, or returns `None` if its body is not replayable.
///
/// Method, URI, version, headers and extensions are copied. Call it *before* handing the
/// original to the inner service, since a sent request cannot be recovered.
pub fn try_clone_request<B: TryCloneBody>(request: &Request<B>) -> Option<Request<B>> {
    let body = request.body().try_clone_body()?;

    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_buffered_body_replays_the_same_bytes() {
        let body = ReplayBody::from("grant_type=client_credentials");
        let copy = body.try_clone().expect("buffered bodies replay");

        let first = body.collect().await.unwrap().to_bytes();
        let second = copy.collect().await.unwrap().to_bytes();
        assert_eq!(first, second);
        assert_eq!(&first[..], b"grant_type=client_credentials");
    }

    #[tokio::test]
    async fn a_streaming_body_is_never_replayable() {
        let body = ReplayBody::streaming(http_body_util::Full::new(Bytes::from_static(b"x")));
        assert!(!body.is_replayable());
        assert!(body.try_clone().is_none());
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"x");
    }

    #[test]
    fn the_clone_keeps_method_uri_headers_and_extensions() {
        #[derive(Clone, Debug, PartialEq)]
        struct Marker(u8);

        let mut request = Request::put("https://api.example.com/a?b=c")
            .header("x-request-id", "42")
            .body(ReplayBody::from("{}"))
            .unwrap();
        request.extensions_mut().insert(Marker(7));

        let copy = try_clone_request(&request).unwrap();
        assert_eq!(copy.method(), http::Method::PUT);
        assert_eq!(copy.uri(), request.uri());
        assert_eq!(copy.headers()["x-request-id"], "42");
        assert_eq!(copy.extensions().get::<Marker>(), Some(&Marker(7)));
    }

    #[test]
    fn debug_shows_the_length_not_the_content() {
        let body = ReplayBody::from("client_secret=hunter2");
        let printed = format!("{body:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("21"), "{printed}");
    }
}

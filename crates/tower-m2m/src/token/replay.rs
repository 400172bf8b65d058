//! The copy of a request that the token layer keeps for a replay.

use http::{Extensions, HeaderName, HeaderValue, Method, Request, Uri, Version};

use crate::body::TryCloneBody;

/// Everything needed to send a request again: method, URI, version, header fields, extensions
/// and a fresh copy of the body.
///
/// It is taken on every call whose body is replayable, and used only on a rejected token, so it
/// is built to be cheap to take and to drop: the header fields are kept as one list (one
/// allocation) rather than as a cloned `HeaderMap` (an index table and an entry list, two
/// allocations), and the map is rebuilt only for the replay.
pub(crate) struct RequestCopy<B> {
    method: Method,
    uri: Uri,
    version: Version,
    /// Every field, in the map's iteration order (which `append` reproduces).
    headers: Vec<(HeaderName, HeaderValue)>,
    extensions: Extensions,
    body: B,
}

impl<B: TryCloneBody> RequestCopy<B> {
    /// A copy of `request`, or `None` if its body cannot be sent again.
    pub(crate) fn of(request: &Request<B>) -> Option<Self> {
        let body = request.body().try_clone_body()?;

        let mut headers = Vec::with_capacity(request.headers().len());
        headers.extend(
            request
                .headers()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );

        Some(Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers,
            extensions: request.extensions().clone(),
            body,
        })
    }
}

impl<B> RequestCopy<B> {
    /// The request again, as it was when copied.
    pub(crate) fn into_request(self) -> Request<B> {
        let mut request = Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.extensions_mut() = self.extensions;
        let headers = request.headers_mut();
        headers.reserve(self.headers.len());
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use http::header::{ACCEPT, AUTHORIZATION};

    use super::*;
    use crate::ReplayBody;

    #[derive(Clone, Debug, PartialEq)]
    struct Marker(u8);

    fn request(fields: usize) -> Request<ReplayBody> {
        let mut request = Request::put("https://api.example.com/a?b=c")
            .version(Version::HTTP_2)
            .header(ACCEPT, "application/json")
            .header(ACCEPT, "text/plain")
            .body(ReplayBody::from("{}"))
            .unwrap();
        let mut secret = HeaderValue::from_static("Bearer x");
        secret.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, secret);
        for index in 3..fields {
            let name = HeaderName::try_from(format!("x-field-{index}")).unwrap();
            request.headers_mut().insert(name, HeaderValue::from(index));
        }
        request.extensions_mut().insert(Marker(7));
        request
    }

    fn assert_same(copy: &Request<ReplayBody>, original: &Request<ReplayBody>) {
        assert_eq!(copy.method(), original.method());
        assert_eq!(copy.uri(), original.uri());
        assert_eq!(copy.version(), original.version());
        assert_eq!(copy.headers(), original.headers());
        assert!(
            copy.headers().iter().eq(original.headers().iter()),
            "same fields in the same order"
        );
        assert!(copy.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(copy.extensions().get::<Marker>(), Some(&Marker(7)));
        assert_eq!(copy.body().as_bytes(), original.body().as_bytes());
    }

    #[test]
    fn a_copy_rebuilds_the_same_request_with_few_or_many_fields() {
        for fields in [3, 6, 20] {
            let original = request(fields);
            assert_eq!(original.headers().len(), fields);
            let copy = RequestCopy::of(&original).unwrap().into_request();
            assert_same(&copy, &original);
        }
    }

    #[test]
    fn a_streaming_body_is_not_copied() {
        let stream = http_body_util::Full::new(bytes::Bytes::from_static(b"x"));
        let request = Request::new(ReplayBody::streaming(stream));
        assert!(RequestCopy::of(&request).is_none());
    }
}

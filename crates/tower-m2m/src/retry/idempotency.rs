use http::{Method, Request};

/// Whether repeating a request is safe: a request extension that overrides the method's default.
///
/// Without it, GET, HEAD, OPTIONS, PUT and DELETE are idempotent, as HTTP defines them. The
/// Kinde client sets it from its operation table, where some PUTs (rotating a key) are not; a
/// caller sets [`Idempotency::Idempotent`] on a POST that carries an idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Repeating the request has the same effect as sending it once.
    Idempotent,
    /// Repeating the request may act twice (create two users, rotate a key twice).
    NotIdempotent,
}

impl Idempotency {
    /// The idempotency of `request`: its extension, else its method's.
    pub fn of<B>(request: &Request<B>) -> Idempotency {
        match request.extensions().get::<Idempotency>() {
            Some(idempotency) => *idempotency,
            None => Self::of_method(request.method()),
        }
    }

    /// The idempotency HTTP gives `method`.
    pub fn of_method(method: &Method) -> Idempotency {
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        );
        if idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        }
    }

    /// Whether this is [`Idempotency::Idempotent`].
    pub fn is_idempotent(self) -> bool {
        self == Idempotency::Idempotent
    }
}

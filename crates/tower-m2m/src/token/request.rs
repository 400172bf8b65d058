//! The token request: a form-encoded `POST` of the client-credentials grant.

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request};

use super::credentials::{ClientAuthentication, ClientCredentials};
use crate::body::ReplayBody;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Builds the request for one token fetch.
///
/// The body (and, with Basic authentication, the header) holds the secret, so the request is
/// built just before it is sent and dropped right after.
pub(crate) fn token_request(credentials: &ClientCredentials) -> Request<ReplayBody> {
    let mut form = String::with_capacity(256);
    push_field(&mut form, "grant_type", "client_credentials");
    if credentials.authentication == ClientAuthentication::RequestBody {
        push_field(&mut form, "client_id", &credentials.client_id);
        push_field(
            &mut form,
            "client_secret",
            credentials.client_secret.expose_secret(),
        );
    }
    for audience in &credentials.audiences {
        push_field(&mut form, "audience", audience);
    }
    if !credentials.scopes.is_empty() {
        push_field(&mut form, "scope", &credentials.scopes.join(" "));
    }

    let mut request = Request::new(ReplayBody::from(form));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = credentials.token_url.clone();

    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if credentials.authentication == ClientAuthentication::BasicHeader {
        headers.insert(AUTHORIZATION, basic_authorization(credentials));
    }
    request
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 section 2.3.1 asks.
fn basic_authorization(credentials: &ClientCredentials) -> HeaderValue {
    let mut pair = String::new();
    form_encode_into(&mut pair, &credentials.client_id);
    pair.push(':');
    form_encode_into(&mut pair, credentials.client_secret.expose_secret());

    let mut value = HeaderValue::try_from(format!("Basic {}", base64(pair.as_bytes())))
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

fn push_field(form: &mut String, name: &str, value: &str) {
    if !form.is_empty() {
        form.push('&');
    }
    form.push_str(name);
    form.push('=');
    form_encode_into(form, value);
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0F)]));
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648, section 4).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for (index, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((group >> shift) & 0x3F) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn credentials(authentication: ClientAuthentication) -> ClientCredentials {
        ClientCredentials::builder("https://auth.example.com/oauth2/token", "my id", "p&ss=")
            .audiences(["https://a.example/api", "https://b.example/api"])
            .scopes(["write:users", "read:users"])
            .authentication(authentication)
            .build()
            .unwrap()
    }

    async fn body_text(request: Request<ReplayBody>) -> String {
        let bytes = request.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn form_fields_carry_every_parameter() {
        let request = token_request(&credentials(ClientAuthentication::RequestBody));
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.headers()[CONTENT_TYPE], FORM_CONTENT_TYPE);
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(
            body_text(request).await,
            "grant_type=client_credentials&client_id=my+id&client_secret=p%26ss%3D\
             &audience=https%3A%2F%2Fa.example%2Fapi&audience=https%3A%2F%2Fb.example%2Fapi\
             &scope=read%3Ausers+write%3Ausers"
        );
    }

    #[tokio::test]
    async fn basic_authentication_moves_the_secret_to_a_sensitive_header() {
        let request = token_request(&credentials(ClientAuthentication::BasicHeader));
        let header = request.headers()[AUTHORIZATION].clone();
        assert!(header.is_sensitive());
        // base64("my+id:p%26ss%3D")
        assert_eq!(header, "Basic bXkraWQ6cCUyNnNzJTNE");
        assert!(!body_text(request).await.contains("client_secret"));
    }

    #[test]
    fn base64_pads_like_rfc_4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}

//! Turning an operation and its parameters into an HTTP request.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use kinde_api::{OPERATIONS, Operation};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use tower_m2m::ReplayBody;

use crate::error::Error;

/// Characters escaped in a path segment: everything but RFC 3986's unreserved characters, so a
/// value can never add a segment (`/`), start a query (`?`) or hide an escape (`%`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The operation at `index` of the table; the generated code names its id as a check.
pub(crate) fn operation(index: usize, id: &str) -> &'static Operation {
    let operation = &OPERATIONS[index];
    debug_assert_eq!(operation.id, id, "the generated client is out of date");
    operation
}

/// A request under construction: the operation, its parameters and its body.
#[derive(Debug)]
pub(crate) struct OperationRequest {
    operation: &'static Operation,
    path: Vec<(&'static str, String)>,
    query: Vec<(String, String)>,
    body: Option<(&'static str, Bytes)>,
    problem: Option<Error>,
}

impl OperationRequest {
    pub(crate) fn new(operation: &'static Operation) -> Self {
        Self {
            operation,
            path: Vec::new(),
            query: Vec::new(),
            body: None,
            problem: None,
        }
    }

    /// The operation being called.
    pub(crate) fn operation(&self) -> &'static Operation {
        self.operation
    }

    /// Sets a path parameter. An empty value, `.` or `..` is refused: each would change which
    /// route Kinde matches (HTTP clients resolve dot segments before sending, so
    /// `applications/../connections/x` would reach a different operation).
    pub(crate) fn path(&mut self, name: &'static str, value: &str) {
        if value.is_empty() {
            self.refuse(format!("path parameter `{name}` is empty"));
            return;
        }
        if value == "." || value == ".." {
            self.refuse(format!("path parameter `{name}` may not be `.` or `..`"));
            return;
        }
        self.path.push((name, value.to_owned()));
    }

    /// Adds a query parameter; absent optional values add nothing.
    pub(crate) fn query(&mut self, name: &'static str, value: &impl QueryValue) {
        value.append(name, &mut self.query);
    }

    /// Sets a JSON body.
    pub(crate) fn json<T: Serialize>(&mut self, body: &T) {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some(("application/json", Bytes::from(bytes))),
            Err(error) => self.refuse(format!("the request body cannot be encoded: {error}")),
        }
    }

    /// Sets a `multipart/form-data` body holding one file field.
    pub(crate) fn file(&mut self, name: &'static str, bytes: &[u8]) {
        const BOUNDARY: &str = "kinde-management-upload-boundary";
        if bytes
            .windows(BOUNDARY.len())
            .any(|w| w == BOUNDARY.as_bytes())
        {
            self.refuse("the uploaded file contains the multipart boundary".to_owned());
            return;
        }
        let mut body = Vec::with_capacity(bytes.len() + 256);
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "content-disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\
                 content-type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        self.body = Some((
            "multipart/form-data; boundary=kinde-management-upload-boundary",
            Bytes::from(body),
        ));
    }

    fn refuse(&mut self, message: String) {
        if self.problem.is_none() {
            self.problem = Some(Error::invalid_parameter(self.operation, message));
        }
    }

    /// The HTTP request, or the first problem met while building it.
    pub(crate) fn into_http(self, base_url: &str) -> Result<http::Request<ReplayBody>, Error> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let op = self.operation;
        for param in op.required_params() {
            let given = self.path.iter().any(|(name, _)| *name == param.name)
                || self
                    .query
                    .iter()
                    .any(|(name, value)| name == param.name && !value.is_empty());
            if !given {
                let message = format!("required parameter `{}` is missing", param.name);
                return Err(Error::invalid_parameter(op, message));
            }
        }

        let mut uri = String::with_capacity(base_url.len() + op.path.len() + 32);
        uri.push_str(base_url);
        for segment in op.path.split('/').skip(1) {
            uri.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match self.path.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => uri.extend(utf8_percent_encode(value, PATH_SEGMENT)),
                    None => {
                        let message = format!("path parameter `{name}` is missing");
                        return Err(Error::invalid_parameter(op, message));
                    }
                },
                None => uri.push_str(segment),
            }
        }
        if !self.query.is_empty() {
            uri.push('?');
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &self.query {
                query.append_pair(name, value);
            }
            uri.push_str(&query.finish());
        }

        let (content_type, body) = match self.body {
            Some((content_type, bytes)) => (Some(content_type), ReplayBody::from(bytes)),
            None => (None, ReplayBody::empty()),
        };
        let mut builder = http::Request::builder()
            .method(op.method.as_str())
            .uri(uri)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder
            .body(body)
            .map_err(|e| Error::invalid_parameter(op, format!("invalid request: {e}")))
    }
}

/// A value that can travel in the query string.
pub(crate) trait QueryValue {
    /// Appends `name=value` pairs for this value; nothing for an absent one.
    fn append(&self, name: &str, out: &mut Vec<(String, String)>);
}

impl QueryValue for String {
    fn append(&self, name: &str, out: &mut Vec<(String, String)>) {
        out.push((name.to_owned(), self.clone()));
    }
}

impl QueryValue for i64 {
    fn append(&self, name: &str, out: &mut Vec<(String, String)>) {
        out.push((name.to_owned(), self.to_string()));
    }
}

impl QueryValue for bool {
    fn append(&self, name: &str, out: &mut Vec<(String, String)>) {
        out.push((name.to_owned(), self.to_string()));
    }
}

/// An OpenAPI `deepObject`: `name[key]=value`, list values joined with commas as Kinde's other
/// list filters are.
impl QueryValue for BTreeMap<String, Vec<String>> {
    fn append(&self, name: &str, out: &mut Vec<(String, String)>) {
        for (key, values) in self {
            out.push((format!("{name}[{key}]"), values.join(",")));
        }
    }
}

impl<T: QueryValue> QueryValue for Option<T> {
    fn append(&self, name: &str, out: &mut Vec<(String, String)>) {
        if let Some(value) = self {
            value.append(name, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str) -> &'static Operation {
        kinde_api::operation(id).expect("known operation")
    }

    #[test]
    fn path_values_cannot_escape_their_segment() {
        let mut request = OperationRequest::new(op("GetOrganizationUsers"));
        request.path("org_code", "org_1/../../users?x=1#y");
        let http = request.into_http("https://biz.kinde.com").expect("builds");
        assert_eq!(
            http.uri().path(),
            "/api/v1/organizations/org_1%2F..%2F..%2Fusers%3Fx%3D1%23y/users"
        );
        assert_eq!(http.uri().query(), None);
    }

    #[test]
    fn query_values_are_encoded_and_absent_ones_left_out() {
        let mut request = OperationRequest::new(op("getUsers"));
        request.query("email", &Some("a+b@example.com".to_owned()));
        request.query("page_size", &Some(5_i64));
        request.query("next_token", &None::<String>);
        let http = request.into_http("http://127.0.0.1:1").expect("builds");
        assert_eq!(
            http.uri().query(),
            Some("email=a%2Bb%40example.com&page_size=5")
        );
        assert_eq!(http.method(), http::Method::GET);
    }

    #[test]
    fn missing_or_empty_required_parameters_are_refused_before_sending() {
        let request = OperationRequest::new(op("getUserData"));
        let error = request
            .into_http("http://127.0.0.1:1")
            .expect_err("id is required");
        assert!(error.to_string().contains("`id`"), "{error}");

        let mut request = OperationRequest::new(op("deleteOrganization"));
        request.path("org_code", "");
        let error = request
            .into_http("http://127.0.0.1:1")
            .expect_err("empty path");
        assert!(error.to_string().contains("org_code"), "{error}");
    }
}

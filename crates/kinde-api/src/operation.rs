//! The types of the operation table: what each Management API operation is and needs.
//!
//! The table itself is [`OPERATIONS`](crate::OPERATIONS), generated from the spec. Everything in
//! it is a fact read from the spec (or from the generator's committed overrides, each with its
//! reason), so a client, a server emulating Kinde and a gateway can all route, authorize and
//! validate from one source.

use std::fmt;

/// An HTTP method used by the Management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a parameter travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    /// A `{name}` segment of the path template.
    Path,
    /// A query-string parameter.
    Query,
    /// A top-level field of the request body.
    Body,
}

/// The JSON kind of a parameter or body field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A string (also string enums; see [`Param::values`]).
    String,
    /// An integer.
    Integer,
    /// A number that may have a fraction.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// An object.
    Object,
    /// Any JSON value (the spec allows several types).
    Any,
}

/// One parameter of an operation: path, query, or a top-level body field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// The name exactly as Kinde spells it.
    pub name: &'static str,
    /// Where it travels.
    pub location: ParamLocation,
    /// Its JSON kind.
    pub kind: ValueKind,
    /// The OpenAPI `format` of a string (`date-time`, `binary`), if any.
    pub format: Option<&'static str>,
    /// Whether the operation requires it.
    pub required: bool,
    /// Whether `null` is allowed.
    pub nullable: bool,
    /// The allowed values of a string enum; empty when any string is allowed.
    pub values: &'static [&'static str],
    /// A query object sent as `name[key]=value` pairs (OpenAPI `style: deepObject`).
    pub deep_object: bool,
}

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/json`.
    Json,
    /// `multipart/form-data` (logo uploads).
    Multipart,
}

impl MediaType {
    /// The `content-type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Multipart => "multipart/form-data",
        }
    }
}

/// The request body of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Body {
    /// How it is encoded.
    pub media_type: MediaType,
    /// Whether the operation requires a body at all.
    pub required: bool,
    /// The generated model in [`models`](crate::models).
    pub type_name: &'static str,
    /// Its top-level fields, with [`ParamLocation::Body`].
    pub fields: &'static [Param],
}

/// The two pagination styles of the Management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageStyle {
    /// `page_size` and an opaque `next_token` from the previous response. The last page has an
    /// absent or empty `next_token`.
    NextToken,
    /// `page_size` and `starting_after` (the id of the last item seen), with `has_more` in the
    /// response (except `searchUsers`, whose last page is the one shorter than `page_size`).
    Cursor,
}

/// How a list operation pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pagination {
    /// The style.
    pub style: PageStyle,
    /// The response field that holds the page's items.
    pub items_field: &'static str,
    /// Whether the response declares `has_more`.
    pub has_more: bool,
    /// Whether the request also takes `ending_before`.
    pub ending_before: bool,
    /// Whether the request takes `page_size`.
    pub page_size: bool,
}

/// One Management API operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The spec's `operationId`, with its own spelling and casing (`getUsers`,
    /// `GetEnvironementFeatureFlags`).
    pub id: &'static str,
    /// The spec tag that groups it (and names its gRPC service).
    pub tag: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path template, with `{name}` segments for path parameters.
    pub path: &'static str,
    /// Path and query parameters.
    pub params: &'static [Param],
    /// The request body, if the operation takes one.
    pub body: Option<Body>,
    /// The scope the access token needs, from `x-scope` or the description; `None` only for
    /// `verifyApiKey`.
    pub scope: Option<&'static str>,
    /// The documented success statuses.
    pub success: &'static [u16],
    /// The documented error statuses.
    pub errors: &'static [u16],
    /// The generated model of the success body, if one is declared.
    pub response: Option<&'static str>,
    /// How the operation pages, if it takes pagination parameters.
    pub pagination: Option<Pagination>,
    /// Whether repeating the request has the same effect as sending it once, so a retry after
    /// it may have reached Kinde is safe. Starts from the method and is corrected by the
    /// generator's overrides.
    pub idempotent: bool,
    /// Why `idempotent` differs from what the method suggests, where it does.
    pub idempotency_reason: Option<&'static str>,
}

impl Operation {
    /// The example body of the success response, if one is declared.
    pub fn response_example(&self) -> Option<&'static str> {
        self.response.and_then(crate::response_example)
    }

    /// The path and query parameters (not body fields) that the operation requires.
    pub fn required_params(&self) -> impl Iterator<Item = &'static Param> + use<> {
        self.params.iter().filter(|p| p.required)
    }

    /// The path parameters, in the order they appear in the template.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }
}

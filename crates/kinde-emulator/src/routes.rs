//! Matches a request to its operation, from the generated operation table.
//!
//! Each template in [`kinde_api::OPERATIONS`] is split into segments once. A request path matches
//! a template of the same method with as many segments, where every literal segment is equal.
//! When several templates match, the one whose first differing segment is literal wins, so
//! `/api/v1/users/{user_id}/identities` never swallows a literal route beside it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kinde_api::{OPERATIONS, Operation};

/// One segment of a path template.
#[derive(Debug, Clone, Copy)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

#[derive(Debug)]
struct Route {
    operation: &'static Operation,
    segments: Vec<Segment>,
}

/// An operation matched to a request, with its path parameters (percent-decoded).
#[derive(Debug)]
pub(crate) struct Matched {
    /// The operation.
    pub(crate) operation: &'static Operation,
    /// Path parameters by name.
    pub(crate) params: BTreeMap<&'static str, String>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        OPERATIONS
            .iter()
            .map(|operation| Route {
                operation,
                segments: operation
                    .path
                    .split('/')
                    .map(|segment| {
                        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => Segment::Param(name),
                            None => Segment::Literal(segment),
                        }
                    })
                    .collect(),
            })
            .collect()
    })
}

/// The operation for `method` and `path`, if any.
pub(crate) fn match_route(method: &http::Method, path: &str) -> Option<Matched> {
    let parts: Vec<&str> = path.split('/').collect();

    let best = routes()
        .iter()
        .filter(|route| route.operation.method.as_str() == method.as_str())
        .filter(|route| route.segments.len() == parts.len())
        .filter(|route| {
            route
                .segments
                .iter()
                .zip(&parts)
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => literal == part,
                    Segment::Param(_) => !part.is_empty(),
                })
        })
        .max_by_key(|route| {
            route
                .segments
                .iter()
                .map(|segment| matches!(segment, Segment::Literal(_)))
                .collect::<Vec<_>>()
        })?;

    let params = best
        .segments
        .iter()
        .zip(&parts)
        .filter_map(|(segment, part)| match segment {
            Segment::Param(name) => Some((*name, percent_decode(part))),
            Segment::Literal(_) => None,
        })
        .collect();
    Some(Matched {
        operation: best.operation,
        params,
    })
}

/// Decodes `%XX` escapes in a path segment (a `+` stays a `+`).
fn percent_decode(segment: &str) -> String {
    let escaped = segment.replace('+', "%2B");
    form_urlencoded::parse(format!("v={escaped}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(method: http::Method, path: &str) -> Option<&'static str> {
        match_route(&method, path).map(|matched| matched.operation.id)
    }

    #[test]
    fn singular_and_plural_paths_are_distinct() {
        assert_eq!(id(http::Method::GET, "/api/v1/user"), Some("getUserData"));
        assert_eq!(id(http::Method::GET, "/api/v1/users"), Some("getUsers"));
        assert_eq!(
            id(http::Method::GET, "/api/v1/organization"),
            Some("getOrganization")
        );
        assert_eq!(
            id(http::Method::GET, "/api/v1/organizations"),
            Some("getOrganizations")
        );
    }

    #[test]
    fn path_params_are_decoded() {
        let matched = match_route(&http::Method::GET, "/api/v1/organizations/org_1%20x/users")
            .expect("a route");
        assert_eq!(matched.operation.id, "GetOrganizationUsers");
        assert_eq!(matched.params["org_code"], "org_1 x");
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        assert_eq!(id(http::Method::GET, "/api/v1/nope"), None);
        assert_eq!(id(http::Method::GET, "/api/v1/users/"), None);
        assert_eq!(id(http::Method::PUT, "/api/v1/users"), None);
    }

    #[test]
    fn every_template_routes_to_its_own_operation() {
        for operation in OPERATIONS {
            let path = operation
                .path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "x1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = http::Method::from_bytes(operation.method.as_str().as_bytes())
                .expect("a valid method");
            assert_eq!(id(method, &path), Some(operation.id), "{path}");
        }
    }
}

//! The two pagination styles: `page_size` + opaque `next_token`, and `starting_after` /
//! `ending_before` cursors by id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::request::{ApiRequest, INVALID_PARAMETER};
use crate::error::ApiError;

/// The page size when a request sends none: the spec says "defaults to 10 if not sent".
pub(crate) const DEFAULT_PAGE_SIZE: usize = 10;

/// The code of the 400 for a `page_size` over the limit.
const PAGE_SIZE_LIMIT_EXCEEDED: &str = "PAGE_SIZE_LIMIT_EXCEEDED";
/// The code of the 400 for sending both cursors.
const TOO_MANY_PARAMETERS: &str = "TOO_MANY_PARAMETERS";
/// The code of the 400 for a `next_token` this emulator did not issue.
const INVALID_NEXT_TOKEN: &str = "INVALID_NEXT_TOKEN";

/// The `page_size` of a request, checked against `limit`.
///
/// # Errors
///
/// `PAGE_SIZE_LIMIT_EXCEEDED` above the limit, `INVALID_PARAMETER` below 1.
pub(crate) fn page_size(request: &ApiRequest, limit: u32) -> Result<usize, ApiError> {
    let Some(raw) = request.query("page_size") else {
        return Ok(DEFAULT_PAGE_SIZE.min(limit as usize).max(1));
    };
    let size: i64 = raw
        .parse()
        .map_err(|_| ApiError::bad_request(INVALID_PARAMETER, "page_size must be an integer"))?;
    if size > i64::from(limit) {
        return Err(ApiError::bad_request(
            PAGE_SIZE_LIMIT_EXCEEDED,
            format!("page_size cannot be greater than {limit}"),
        ));
    }
    usize::try_from(size)
        .ok()
        .filter(|size| *size >= 1)
        .ok_or_else(|| ApiError::bad_request(INVALID_PARAMETER, "page_size must be at least 1"))
}

/// A page of a `next_token` list: where it starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    offset: usize,
    size: usize,
}

impl Window {
    /// The window a request asks for.
    ///
    /// # Errors
    ///
    /// As [`page_size`], and `INVALID_NEXT_TOKEN` for a token this emulator did not issue.
    pub(crate) fn from_request(request: &ApiRequest, limit: u32) -> Result<Self, ApiError> {
        let size = page_size(request, limit)?;
        let offset = match request.query("next_token") {
            None => 0,
            Some(token) => decode_token(token).ok_or_else(|| {
                ApiError::bad_request(INVALID_NEXT_TOKEN, "the next_token is not valid")
            })?,
        };
        Ok(Self { offset, size })
    }

    /// This page of `items`, and the token of the next page if there is one.
    pub(crate) fn apply<T>(self, items: Vec<T>, sort: &str) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let end = self.offset.saturating_add(self.size).min(total);
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.size)
            .collect();
        let next = (end < total).then(|| encode_token(end, self.size, sort));
        (page, next)
    }
}

/// Encodes an offset like Kinde's tokens (`<offset>:<page size>:<sort>`, base64).
fn encode_token(offset: usize, size: usize, sort: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{size}:{sort}"))
}

fn decode_token(token: &str) -> Option<usize> {
    let decoded = URL_SAFE_NO_PAD.decode(token).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    decoded.split(':').next()?.parse().ok()
}

/// The page of a cursor list: items after `starting_after` or before `ending_before`, and
/// whether more follow in that direction.
///
/// # Errors
///
/// As [`page_size`], and `TOO_MANY_PARAMETERS` when both cursors are sent.
pub(crate) fn cursor_page<T>(
    request: &ApiRequest,
    limit: u32,
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
) -> Result<(Vec<T>, bool), ApiError> {
    let size = page_size(request, limit)?;
    let after = request.query("starting_after");
    let before = request.query("ending_before");

    let (start, end) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                TOO_MANY_PARAMETERS,
                "only one of starting_after or ending_before may be sent",
            ));
        }
        (Some(after), None) => {
            let start = items
                .iter()
                .position(|item| id_of(item) == after)
                .map_or(items.len(), |index| index + 1);
            (start, start.saturating_add(size).min(items.len()))
        }
        (None, Some(before)) => {
            let end = items
                .iter()
                .position(|item| id_of(item) == before)
                .unwrap_or(0);
            (end.saturating_sub(size), end)
        }
        (None, None) => (0, size.min(items.len())),
    };

    let has_more = if before.is_some() {
        start > 0
    } else {
        end < items.len()
    };
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, has_more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token(40, 20, "name_asc")), Some(40));
        assert_eq!(decode_token("not a token"), None);
    }
}

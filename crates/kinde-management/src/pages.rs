//! [`Pages`]: a stream of every item of a paginated list.
//!
//! The Management API pages in two ways: an opaque `next_token` echoed back until it is absent
//! or empty, and a `starting_after` cursor (the id of the last item seen) with `has_more` in the
//! response. `searchUsers` has no `has_more`; its last page is the one shorter than `page_size`.
//! A stream fetches a page only when it is polled past the items it already has, so a caller
//! that stops early costs no extra requests. A token or cursor that comes back a second time
//! (including the one the stream started from) ends the stream with an error instead of looping
//! for ever, as does a full cursor page whose last item has no id to continue after; the items
//! of the page that ended it are not yielded.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::{TryStreamExt, stream};
use kinde_api::Operation;

use crate::Error;

/// How `searchUsers` pages when no `page_size` is given, per Kinde's docs.
const DEFAULT_PAGE_SIZE: i64 = 10;

/// A stream of the items of every page of a list, in order.
pub struct Pages<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>,
}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// How a cursor-paged list marks its last page.
#[derive(Clone, Copy, Debug)]
pub(crate) enum End {
    /// `has_more` is not `true`.
    HasMore,
    /// The page is shorter than the page size (or empty).
    ShortPage(Option<i64>),
}

struct State<F> {
    fetch: F,
    cursor: Option<String>,
    seen: HashSet<String>,
    done: bool,
}

impl<F> State<F> {
    /// Starts at `first`, which counts as seen: a page that points back to it is a loop.
    fn new(fetch: F, first: Option<String>) -> Self {
        let seen = first.iter().cloned().collect();
        Self {
            fetch,
            cursor: first,
            seen,
            done: false,
        }
    }
}

impl<T: Send + 'static> Pages<T> {
    fn from_pages<S>(pages: S) -> Self
    where
        S: Stream<Item = Result<Vec<T>, Error>> + Send + 'static,
    {
        let items = pages
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten();
        Self {
            inner: Box::pin(items),
        }
    }

    /// Pages that follow an opaque `next_token`, starting at `first` (usually `None`).
    pub(crate) fn by_token<F, Fut>(
        operation: &'static Operation,
        first: Option<String>,
        fetch: F,
    ) -> Self
    where
        F: FnMut(Option<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Vec<T>, Option<String>), Error>> + Send + 'static,
    {
        let state = State::new(fetch, first);
        Self::from_pages(stream::try_unfold(state, move |mut state| async move {
            if state.done {
                return Ok(None);
            }
            let (items, next) = (state.fetch)(state.cursor.take()).await?;
            match next.filter(|token| !token.is_empty()) {
                None => state.done = true,
                Some(token) => {
                    if !state.seen.insert(token.clone()) {
                        return Err(Error::repeated_cursor(operation));
                    }
                    state.cursor = Some(token);
                }
            }
            Ok(Some((items, state)))
        }))
    }

    /// Pages that follow a `starting_after` cursor taken from the last item with `cursor_of`.
    pub(crate) fn by_cursor<F, Fut, C>(
        operation: &'static Operation,
        first: Option<String>,
        end: End,
        cursor_of: C,
        fetch: F,
    ) -> Self
    where
        F: FnMut(Option<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Vec<T>, Option<bool>), Error>> + Send + 'static,
        C: Fn(&T) -> Option<String> + Send + 'static,
    {
        let state = (State::new(fetch, first), cursor_of);
        Self::from_pages(stream::try_unfold(
            state,
            move |(mut state, cursor_of)| async move {
                if state.done {
                    return Ok(None);
                }
                let (items, has_more) = (state.fetch)(state.cursor.take()).await?;
                let last_page = match end {
                    End::HasMore => has_more != Some(true),
                    End::ShortPage(size) => {
                        let size = usize::try_from(size.unwrap_or(DEFAULT_PAGE_SIZE)).unwrap_or(0);
                        items.is_empty() || items.len() < size
                    }
                };
                if last_page {
                    state.done = true;
                } else {
                    let Some(next) = items.last().and_then(&cursor_of) else {
                        return Err(Error::missing_cursor(operation));
                    };
                    if !state.seen.insert(next.clone()) {
                        return Err(Error::repeated_cursor(operation));
                    }
                    state.cursor = Some(next);
                }
                Ok(Some((items, (state, cursor_of))))
            },
        ))
    }
}

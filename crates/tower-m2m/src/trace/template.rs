/// The route template of a request (`/api/v1/users/{user_id}`), a request extension that the
/// client sets from its operation table, so spans and metrics group by operation, not by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UrlTemplate(pub &'static str);

//! What the gateway takes from a call's metadata besides the caller: the request id, the
//! caller's trace context and the deadline.

use std::time::Duration;

use http::HeaderValue;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataMap, MetadataValue};
use tower_http::request_id::RequestId;
use tower_m2m::correlation::{is_valid_request_id, new_request_id};

/// The metadata key of the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// How much earlier than the caller's `grpc-timeout` the gateway gives up: a tenth of it, at
/// most 20 ms. The answer must reach the caller before its own deadline; and tonic's server
/// answers `CANCELLED` when the timeout elapses, so the gateway's `DEADLINE_EXCEEDED` has to
/// come first.
pub const DEADLINE_HEADROOM: Duration = Duration::from_millis(20);

/// When a call reached the gateway: a request extension set by the outermost layer, so that the
/// caller's `grpc-timeout` counts from the same moment as tonic's own timer, however long
/// authentication and decoding took. Without it the timeout counts from when it is read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival(tokio::time::Instant);

impl Arrival {
    /// Now.
    pub(crate) fn now() -> Self {
        Self(tokio::time::Instant::now())
    }

    /// The arrival recorded in `extensions`, or now.
    pub(crate) fn of(extensions: &http::Extensions) -> tokio::time::Instant {
        extensions
            .get::<Self>()
            .map_or_else(tokio::time::Instant::now, |arrival| arrival.0)
    }
}

/// The caller's request id if it sent a valid one (1 to 128 visible ASCII characters), else a
/// new one. An invalid id is replaced, not refused: a caller's logging bug must not fail calls.
pub(crate) fn request_id(metadata: &MetadataMap) -> RequestId {
    metadata
        .get(REQUEST_ID)
        .and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
        .filter(is_valid_request_id)
        .map(RequestId::new)
        .unwrap_or_else(new_request_id)
}

/// The request id as metadata for the response.
pub(crate) fn request_id_value(id: &RequestId) -> Option<MetadataValue<tonic::metadata::Ascii>> {
    MetadataValue::try_from(id.header_value().as_bytes()).ok()
}

/// The caller's W3C trace context (`traceparent`, `tracestate`), if it sent a valid one. Passed
/// to the client, every upstream attempt carries the caller's trace id.
pub(crate) fn trace_context(metadata: &MetadataMap) -> Option<opentelemetry::Context> {
    metadata.get("traceparent")?;
    let context = TraceContextPropagator::new().extract(&MetadataExtractor(metadata));
    context.span().span_context().is_valid().then_some(context)
}

/// Reads W3C trace headers from gRPC metadata.
struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => Some(key.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// The time the caller allows, from `grpc-timeout` (`<digits><unit>`, at most 8 digits, unit
/// one of `H M S m u n`), as sent. `None` when absent or malformed.
pub(crate) fn requested_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    parse_grpc_timeout(value)
}

/// The [requested timeout](requested_timeout) less [`DEADLINE_HEADROOM`]: when the gateway
/// gives up.
pub(crate) fn timeout(metadata: &MetadataMap) -> Option<Duration> {
    let timeout = requested_timeout(metadata)?;
    let headroom = DEADLINE_HEADROOM.min(timeout / 10);
    Some(timeout - headroom)
}

fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(key: &'static str, value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(key, value.parse().unwrap());
        metadata
    }

    #[test]
    fn a_valid_request_id_is_kept_and_an_invalid_one_replaced() {
        let kept = request_id(&metadata(REQUEST_ID, "caller-7"));
        assert_eq!(kept.header_value(), "caller-7");

        let long = "x".repeat(200);
        for bad in [long.as_str(), "has space", ""] {
            let replaced = request_id(&metadata(REQUEST_ID, bad));
            assert_ne!(replaced.header_value(), bad);
            assert_eq!(replaced.header_value().len(), 36, "a UUID");
        }
        assert_eq!(request_id(&MetadataMap::new()).header_value().len(), 36);
    }

    #[test]
    fn a_valid_traceparent_is_continued_and_an_invalid_one_ignored() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = trace_context(&metadata("traceparent", parent)).unwrap();
        assert_eq!(
            context.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(trace_context(&metadata("traceparent", "00-zz-00-01")).is_none());
        assert!(trace_context(&MetadataMap::new()).is_none());
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_leave_headroom() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("200m"), Some(Duration::from_millis(200)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "1", "123456789S", "1x", "-1S", "1.5S", "١S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
        assert_eq!(
            timeout(&metadata("grpc-timeout", "200m")),
            Some(Duration::from_millis(180))
        );
        // The shortest timeout served is judged on the value as sent, before the headroom.
        let shortest = metadata("grpc-timeout", "1m");
        assert_eq!(
            requested_timeout(&shortest),
            Some(crate::audit::MIN_TIMEOUT)
        );
        assert!(timeout(&shortest) < Some(crate::audit::MIN_TIMEOUT));
        assert_eq!(
            timeout(&metadata("grpc-timeout", "100m")),
            Some(Duration::from_millis(90))
        );
    }
}

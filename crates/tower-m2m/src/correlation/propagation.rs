use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// Writes W3C `traceparent` (and `tracestate`) for `context` into `headers`, using
/// OpenTelemetry's propagator. A context without a valid span writes nothing.
pub(crate) fn inject(context: &Context, headers: &mut HeaderMap) {
    if !context.span().span_context().is_valid() {
        return;
    }

    TraceContextPropagator::new().inject_context(context, &mut HeaderInjector(headers));
}

/// Reads a caller's W3C trace context from `headers`, if it sent a valid one.
pub(crate) fn extract(headers: &HeaderMap) -> Option<Context> {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    context.span().span_context().is_valid().then_some(context)
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = HeaderName::from_bytes(key.as_bytes());
        let value = HeaderValue::try_from(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

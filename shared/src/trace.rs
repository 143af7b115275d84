//! W3C Trace Context (`traceparent`) carried across the pipeline: from the upload's HTTP
//! request (or a new trace), through the job's and the status events' AMQP headers, so one
//! task can be followed through ingest, processor and result-writer by its `trace_id` in the
//! logs, and by any tracing system that reads the header.
//!
//! Only the header's format is implemented here (a version, two ids, flags); no tracing SDK is
//! needed to pass it on and log it.

use std::fmt;

use lapin::types::{AMQPValue, FieldTable, LongString};

/// The header name, in HTTP and in AMQP message headers.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace, and the span that is the parent of what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let chunk = *uuid::Uuid::new_v4().as_bytes();
        let take = (N - filled).min(chunk.len());
        out[filled..filled + take].copy_from_slice(&chunk[..take]);
        filled += take;
    }
    out
}

impl TraceContext {
    /// A new trace, for work that arrives without one.
    pub fn new_root() -> Self {
        Self {
            trace_id: random_bytes(),
            span_id: random_bytes(),
            sampled: true,
        }
    }

    /// The next hop: same trace, a new span id.
    pub fn child(&self) -> Self {
        Self {
            span_id: random_bytes(),
            ..*self
        }
    }

    /// Parse a `traceparent` value; `None` for anything malformed (then start a new trace).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || trace.len() != 32 || span.len() != 16 {
            return None;
        }
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(span, &mut span_id).ok()?;
        let flags = u8::from_str_radix(flags.get(..2)?, 16).ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// From an AMQP delivery's headers, if present and valid.
    pub fn from_amqp(headers: Option<&FieldTable>) -> Option<Self> {
        match headers?.inner().get(TRACEPARENT)? {
            AMQPValue::LongString(value) => Self::parse(&value.to_string()),
            AMQPValue::ShortString(value) => Self::parse(value.as_str()),
            _ => None,
        }
    }

    /// Add this context to AMQP message headers.
    pub fn insert_into(&self, headers: &mut FieldTable) {
        headers.insert(
            TRACEPARENT.into(),
            AMQPValue::LongString(LongString::from(self.to_string())),
        );
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.span_id),
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_the_trace_across_hops() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceContext::parse(header).unwrap();
        assert_eq!(parsed.to_string(), header);
        let next = parsed.child();
        assert_eq!(next.trace_id, parsed.trace_id);
        assert_ne!(next.span_id, parsed.span_id);
        assert_eq!(next.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-xyz92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn new_traces_are_valid_and_distinct() {
        let a = TraceContext::new_root();
        let b = TraceContext::new_root();
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(TraceContext::parse(&a.to_string()), Some(a));
    }
}

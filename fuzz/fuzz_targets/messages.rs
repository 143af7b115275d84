//! The message decoders: jobs and cancellations (processor), status events (result-writer)
//! and the dead-letter judge (result-writer), on any body and failure headers. Never a
//! panic; a decoded message encodes and decodes back to itself.
#![no_main]

use amq_protocol_types::{AMQPValue, FieldTable, LongString};
use imagepipe_wire::dead_letters::judge_message;
use imagepipe_wire::messages::{CancelMessage, JobMessage, StatusEvent, decode, headers};
use libfuzzer_sys::fuzz_target;

fn round_trips<T>(body: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(message) = decode::<T>(body) {
        let again: T = decode(&serde_json::to_vec(&message).unwrap()).unwrap();
        assert_eq!(again, message);
    }
}

fuzz_target!(|input: &[u8]| {
    // Optional failure headers before a 0 byte, `code\tmessage`; the body after it.
    let (head, body) = match input.iter().position(|&b| b == 0) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (&[][..], input),
    };
    round_trips::<JobMessage>(body);
    round_trips::<StatusEvent>(body);
    round_trips::<CancelMessage>(body);
    let mut table = FieldTable::default();
    let head = String::from_utf8_lossy(head);
    let mut parts = head.splitn(3, '\t');
    for name in [
        headers::FAILURE_CODE,
        headers::FAILURE_MESSAGE,
        "x-first-death-reason",
    ] {
        if let Some(value) = parts.next() {
            table.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
        }
    }
    let _ = judge_message(&table, body);
});

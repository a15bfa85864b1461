//! Any bytes given to the trace reader: no panic, no unbounded allocation,
//! and reading always ends with a verdict (complete, truncated, corrupt).
//! The corpus is seeded with the shipped samples, one of format version 1
//! and one of version 2, so both readers are explored.
#![no_main]

use dax_trace::trace::{End, Reader, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    let mut events = 0u64;
    let mut summaries = 0;
    for record in reader.by_ref() {
        match record {
            Ok(Record::Event(_)) => events += 1,
            Ok(Record::Summary(_)) => summaries += 1,
            Ok(Record::Stack(_) | Record::State(_)) => {}
            Err(_) => {}
        }
    }
    assert!(summaries <= 1);
    assert_eq!(events, reader.events_read());
    match reader.end() {
        Some(End::Complete) => assert_eq!(summaries, 1),
        Some(_) => {}
        None => panic!("iteration ended without a verdict"),
    }
    // Nothing follows the end.
    assert!(reader.next().is_none());
});

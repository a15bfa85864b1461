use super::*;
use dax_trace_common::kind;

fn event(body: EventBody) -> Event {
    Event {
        ts_ns: 42,
        cpu: 1,
        pid: 7,
        tid: 8,
        comm: Comm::from_c_bytes(b"mount"),
        point: 3,
        body,
    }
}

/// Every kind, decoded from a payload of patterned bytes.
fn every_kind() -> Vec<EventBody> {
    // `as u8` after the range: payloads are longer than 255 bytes (`state-mount`).
    let pattern: Vec<u8> = (0..MAX_PAYLOAD_SIZE)
        .map(|i| (i as u8).wrapping_mul(7) | 1)
        .collect();
    kind::ALL
        .iter()
        .map(|(num, name)| {
            let size = (0..=MAX_PAYLOAD_SIZE)
                .find(|n| EventBody::from_payload(*num, 0, &pattern[..*n]).is_ok())
                .unwrap_or_else(|| panic!("no payload size decodes as {name}"));
            EventBody::from_payload(*num, 0, &pattern[..size]).expect("decodes")
        })
        .collect()
}

#[test]
fn binary_form_round_trips_for_every_kind() {
    let bodies = every_kind();
    assert_eq!(bodies.len(), kind::ALL.len());
    for body in bodies {
        let e = event(body);
        let mut buf = [0u8; MAX_EVENT_SIZE];
        let n = encode_into(&e, &mut buf);
        assert_eq!(n, HEADER_SIZE + body.payload_bytes().len());
        assert_eq!(decode_bytes(&buf[..n]), Ok(e.clone()), "{}", body.name());
        // A byte more or less is an error, never a misread.
        let mut longer = buf[..n].to_vec();
        longer.push(0);
        assert!(decode_bytes(&buf[..n - 1]).is_err());
        assert!(decode_bytes(&longer).is_err());
    }
}

#[test]
fn names_and_numbers_follow_the_kind_list() {
    for (body, (num, name)) in every_kind().iter().zip(kind::ALL) {
        assert_eq!(body.kind(), *num);
        assert_eq!(body.name(), *name);
        let json = serde_json::to_value(event(*body)).expect("serializes");
        assert_eq!(json["body"]["type"], *name);
    }
}

#[test]
fn json_form_round_trips_for_every_kind() {
    for body in every_kind() {
        let json = serde_json::to_string(&event(body)).expect("serializes");
        let back: Event = serde_json::from_str(&json).expect("deserializes");
        let again = serde_json::to_string(&back).expect("serializes");
        assert_eq!(again, json, "{}", body.name());
    }
}

#[test]
fn claim_json_names_its_fields_as_the_exports_always_did() {
    let claim = Claim {
        dax_dev: 0xffff_1000,
        holder: 0xffff_2000,
        holder_ops: 0xffff_3000,
        bdev: Dev::new(259, 0),
        disk: DiskName::from_str_lossy("pmem0"),
        granted: Flag::new(true),
        api: ClaimApiCode::new(ClaimApi::FsDaxGetByBdev),
        _pad: 0,
        start_off: 4096,
        ..Default::default()
    };
    let json = serde_json::to_value(event(claim.into())).expect("serializes");
    assert_eq!(
        json["body"],
        serde_json::json!({
            "type": "claim", "dax_dev": 0xffff_1000u64, "holder": 0xffff_2000u64,
            "holder_ops": 0xffff_3000u64, "bdev": (259u32 << 20), "disk": "pmem0",
            "granted": true, "api": "fs-dax-get-by-bdev", "start_off": 4096
        })
    );
}

#[test]
fn unknown_values_have_explicit_forms() {
    let busy = BusyPage {
        index: OptU64::NONE,
        ..BusyPage::default()
    };
    let json = serde_json::to_value(EventBody::from(busy)).expect("serializes");
    assert!(json.get("index").is_none(), "{json}");
    let end = WaitEnd {
        api: WaitApiCode(99),
        busy_pfn: OptU64::NONE,
        ..WaitEnd::default()
    };
    let json = serde_json::to_value(EventBody::from(end)).expect("serializes");
    assert_eq!(json["busy_pfn"], serde_json::Value::Null);
    assert_eq!(json["api"], "unknown");
}

#[test]
fn short_records_and_unknown_kinds_are_errors() {
    assert_eq!(decode_bytes(&[0u8; 10]), Err(DecodeError::Short(10)));
    let mut buf = [0u8; MAX_EVENT_SIZE];
    let n = encode_into(&event(PagemapDestroy { pgmap: 1 }.into()), &mut buf);
    buf[8..10].copy_from_slice(&999u16.to_le_bytes());
    assert_eq!(
        decode_bytes(&buf[..n]),
        Err(DecodeError::UnknownKind(999, 3))
    );
}

#[test]
fn an_event_in_memory_stays_small() {
    // Every event is as large as the largest payload: the state kinds'
    // names are sized so that an event stays within 256 bytes.
    assert!(size_of::<Event>() <= 256, "{}", size_of::<Event>());
}

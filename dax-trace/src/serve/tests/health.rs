//! `/healthz` and the family gauge when a live capture lacks families: a
//! missing claim or release is "degraded" (503), never "ok".
use http_body_util::BodyExt as _;
use hyper::Request;

use super::super::http::respond;
use super::super::scrape::Scrape;
use super::super::*;
use crate::session::probe_report::PointStatus;
use crate::testkit::synthetic;

/// The synthetic session with `family`'s points refused.
fn without(family: &str) -> crate::session::SessionInfo {
    let mut info = synthetic::session();
    for f in info
        .probes
        .families
        .iter_mut()
        .filter(|f| f.family == family)
    {
        for p in &mut f.points {
            p.status = PointStatus::Missing {
                reason: "fentry failed: load: Operation not permitted (os error 1)".into(),
            };
        }
    }
    info
}

fn get(shared: &Shared, path: &str) -> (u16, String) {
    let req = Request::get(path).body(()).expect("request");
    let response = respond(shared, &req);
    let status = response.status().as_u16();
    let body = futures_body(response.into_body());
    (status, body)
}

fn futures_body(body: http_body_util::Full<hyper::body::Bytes>) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let bytes = rt.block_on(body.collect()).expect("full body").to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_live_capture_without_release_is_degraded() {
    let shared = Shared::new(without("release"), Mode::Live);
    let (status, body) = get(&shared, "/healthz");
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["families_missing"], serde_json::json!(["release"]));
    assert_eq!(
        json["degraded_because"],
        serde_json::json!(["probe family release not attached"])
    );
}

#[test]
fn a_live_capture_with_claim_and_release_is_ok_though_others_miss() {
    let shared = Shared::new(without("layout-wait"), Mode::Live);
    let (status, body) = get(&shared, "/healthz");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["families_missing"], serde_json::json!(["layout-wait"]));
}

#[test]
fn a_replay_is_not_degraded_by_the_recording_kernel() {
    let shared = Shared::new(without("claim"), Mode::Replay);
    assert_eq!(get(&shared, "/healthz").0, 200);
}

#[test]
fn every_family_has_a_gauge_of_one_or_zero() {
    let shared = Shared::new(without("claim"), Mode::Live);
    let scrape = Scrape::take(&shared.lock());
    let families = shared.lock().info.probes.families.clone();
    assert!(!families.is_empty());
    let (_, text) = get(&shared, "/metrics");
    for f in &families {
        let value = u8::from(f.family != "claim");
        let line = format!(
            "daxtrace_probe_family_attached{{family=\"{}\"}} {value}",
            f.family
        );
        assert!(text.contains(&line), "{line} in {text}");
        assert_eq!(scrape.families_attached.get(&f.family), Some(&(value == 1)));
    }
}

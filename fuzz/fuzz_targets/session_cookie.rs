//! Session and login-flow cookie decoding (`RequestCookies::parse`, `SessionCodec::read_session`,
//! `SessionCodec::read_flow`) with a fixed fuzzing key ([`FUZZ_KEY`]).
//!
//! Input starting with a NUL byte is a round trip: the NUL-separated fields after it make a
//! session and a flow; the codec's `Set-Cookie` values, sent back as a `Cookie` header, must
//! decode to exactly what was sealed (large sessions are chunked across cookies).
//!
//! Any other input is what a browser sends: the first line is the `state` of a login callback,
//! every further line one `Cookie` header. Decoding it must never panic, and must yield `Some`
//! only for a value the codec sealed: the seeds in fuzz/corpus-seed/session_cookie hold cookies
//! sealed with [`FUZZ_KEY`] from [`known_sessions`] and [`known_flows`], so any other decoded
//! value would be a forgery (AES-GCM must reject every mutation of a sealed value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tenant_gateway::auth::{is_gateway_cookie, RequestCookies, SessionCodec};
use tenant_gateway::config::Secret;
use tenant_gateway::fuzzing::{FlowData, SessionData};

/// The session key of the fuzz seeds (not used anywhere else).
const FUZZ_KEY: &str = "fuzz-only-session-key-0123456789abcdef";
const FAR: u64 = 4_102_444_800; // 2100-01-01

/// The sessions whose sealed cookies are in the seeds (the second is chunked).
fn known_sessions() -> Vec<SessionData> {
    vec![
        SessionData {
            tid: "11111111-1111-4111-8111-111111111111".into(),
            id_token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln".into(),
            access_token: Some("access-token-1".into()),
            refresh_token: Some("refresh-token-1".into()),
            exp: FAR,
            max_until: FAR,
        },
        SessionData {
            tid: "22222222-2222-4222-8222-222222222222".into(),
            id_token: "x".repeat(5000),
            access_token: None,
            refresh_token: None,
            exp: FAR,
            max_until: FAR,
        },
    ]
}

/// The login flows whose sealed cookies are in the seeds.
fn known_flows() -> Vec<FlowData> {
    vec![FlowData {
        state: "fuzzstate0001abcdef".into(),
        nonce: "nonce-1".into(),
        verifier: "verifier-0123456789-0123456789-0123456789".into(),
        return_to: "/app/home?tab=1".into(),
        iat: FAR,
    }]
}

struct Known {
    codec: SessionCodec,
    sessions: Vec<SessionData>,
    flows: Vec<FlowData>,
}

fn known() -> &'static Known {
    static K: OnceLock<Known> = OnceLock::new();
    K.get_or_init(|| Known {
        codec: SessionCodec::new(&Secret::new(FUZZ_KEY)).expect("key of 32+ bytes"),
        sessions: known_sessions(),
        flows: known_flows(),
    })
}

/// The `Cookie` header a browser sends back for these `Set-Cookie` values.
fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("; ")
}

fn round_trip(data: &[u8]) {
    let k = known();
    let mut fields = data
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut next = || fields.next().unwrap_or_default();
    let secure = data.len() % 2 == 1;
    let s = SessionData {
        tid: next(),
        id_token: next(),
        access_token: Some(next()).filter(|a| !a.is_empty()),
        refresh_token: Some(next()).filter(|r| !r.is_empty()),
        exp: data.len() as u64,
        max_until: u64::MAX - data.len() as u64,
    };
    let set = k.codec.session_cookies(&s, secure, 3600, data.len() % 4);
    if set.is_empty() {
        // Too large for the cookies the reader accepts: nothing written, nothing to read.
        return;
    }
    let header = cookie_header(&set);
    let cookies = RequestCookies::parse(std::iter::once(header.as_bytes()));
    assert_eq!(
        k.codec.read_session(&cookies).as_ref(),
        Some(&s),
        "session round trip"
    );

    let f = FlowData {
        state: next(),
        nonce: next(),
        verifier: next(),
        return_to: next(),
        iat: data.len() as u64,
    };
    let set = k
        .codec
        .flow_cookie(&f, "/oauth2/callback", secure)
        .expect("flow cookie");
    let header = cookie_header(&[set]);
    let cookies = RequestCookies::parse(std::iter::once(header.as_bytes()));
    assert_eq!(
        k.codec.read_flow(&cookies, &f.state).as_ref(),
        Some(&f),
        "flow round trip"
    );
}

fn decode(data: &[u8]) {
    let k = known();
    let mut lines = data.split(|b| *b == b'\n');
    let state = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let cookies = RequestCookies::parse(lines);
    assert!(cookies.session_chunks() <= 10);
    if let Some(s) = k.codec.read_session(&cookies) {
        assert!(k.sessions.contains(&s), "forged session decoded: {s:?}");
    }
    if let Some(f) = k.codec.read_flow(&cookies, &state) {
        assert!(k.flows.contains(&f), "forged flow decoded: {f:?}");
    }
    let _ = is_gateway_cookie(&state);
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => round_trip(rest),
        _ => decode(data),
    }
});

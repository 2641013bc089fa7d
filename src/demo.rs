//! Demo backends: a tiny echo server that answers every request with a JSON description of
//! what it received (method, path, headers). `run --demo-backends` starts one on each
//! loopback backend address of the shipped configuration; tests run them as real processes.
//! `?sleep_ms=N` delays the answer and `?status=N` picks the status, for timeout and error
//! demonstrations.

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::collections::BTreeMap;
use std::time::Duration;

/// Echoes requests back as JSON.
pub struct EchoApp {
    name: String,
}

impl EchoApp {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[async_trait]
impl ServeHttp for EchoApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let mut body_len = 0usize;
        while let Ok(Some(chunk)) = session.read_request_body().await {
            body_len += chunk.len();
        }
        let req = session.req_header();
        let query = req.uri.query();
        if let Some(ms) = query_param(query, "sleep_ms").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        }
        let status = query_param(query, "status")
            .and_then(|v| v.parse::<u16>().ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in req.headers.iter() {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            headers
                .entry(k.as_str().to_string())
                .and_modify(|e| {
                    e.push_str(", ");
                    e.push_str(&v);
                })
                .or_insert(v);
        }
        let body = serde_json::to_vec_pretty(&serde_json::json!({
            "backend": self.name,
            "method": req.method.as_str(),
            "path": req.uri.path_and_query().map_or("/", |p| p.as_str()),
            "headers": headers,
            "body_bytes": body_len,
        }))
        .unwrap_or_default();
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(body)
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "demo_tests.rs"]
mod tests;

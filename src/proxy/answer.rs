//! Every response the gateway makes itself (rejections, auth denials, login and HTTPS
//! redirects, ACME answers) is an [`Answer`], written by [`Answer::write`]: one JSON schema
//! (`error`, optional `reason`, `message`, `request_id`), `Cache-Control: no-store`,
//! `X-Request-Id`, HEAD-aware, and one metric for every error answer.

use super::RequestCtx;
use crate::metrics::METRICS;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;
use std::borrow::Cow;

/// What the body of an answer is.
#[derive(Debug)]
enum Body {
    /// The standard JSON error object.
    Json,
    Html(String),
    Text(String),
    /// A document the gateway publishes (the assertion JWKS), cacheable.
    Document(&'static str, Bytes),
    Empty,
}

/// A response the gateway writes on its own.
#[derive(Debug)]
pub struct Answer {
    status: u16,
    /// Stable machine code: `error` in the JSON body, the access log's `error`, metrics.
    error: &'static str,
    /// A finer code where one error has several causes (`invalid_path`: `encoded_slash`, ...).
    reason: Option<&'static str>,
    message: Cow<'static, str>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    /// Leave the client connection open after the answer (redirects, auth challenges).
    keep_alive: bool,
}

impl Answer {
    /// A JSON error answer.
    pub fn error(status: u16, error: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            error,
            reason: None,
            message: message.into(),
            headers: Vec::new(),
            body: Body::Json,
            keep_alive: true,
        }
    }

    /// A redirect with no body; `code` is what the access log records (`login_redirect`, ...).
    pub fn redirect(status: u16, code: &'static str, location: &str) -> Self {
        let mut a = Self::error(status, code, "");
        a.body = Body::Empty;
        if let Ok(v) = HeaderValue::from_str(location) {
            a.headers.push((http::header::LOCATION, v));
        }
        a
    }

    /// A plain-text body (ACME key authorizations).
    pub fn text(status: u16, code: &'static str, text: String) -> Self {
        let mut a = Self::error(status, code, "");
        a.body = Body::Text(text);
        a
    }

    /// A document with its content type, cacheable for `max_age` seconds.
    pub fn document(
        code: &'static str,
        content_type: &'static str,
        body: Bytes,
        max_age: u32,
    ) -> Self {
        let mut a = Self::error(200, code, "");
        a.body = Body::Document(content_type, body);
        if let Ok(v) = HeaderValue::from_str(&format!("max-age={max_age}")) {
            a.headers.push((http::header::CACHE_CONTROL, v));
        }
        a
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Sends an HTML page instead of JSON (errors shown to a browser).
    pub fn with_html(mut self, page: String) -> Self {
        self.body = Body::Html(page);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_cookies(mut self, cookies: Vec<String>) -> Self {
        for c in cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                self.headers.push((http::header::SET_COOKIE, v));
            }
        }
        self
    }

    /// Closes the client connection after the answer (malformed or oversized requests).
    pub fn closing(mut self) -> Self {
        self.keep_alive = false;
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.error
    }

    /// The JSON error object for `request_id`.
    pub fn json(&self, request_id: &HeaderValue) -> Bytes {
        let mut v = serde_json::json!({
            "error": self.error,
            "message": self.message,
            "request_id": request_id.to_str().unwrap_or(""),
        });
        if let Some(r) = self.reason {
            v["reason"] = r.into();
        }
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    /// Writes the answer and records it on the request: the access log's `error` and the
    /// `gateway_rejected_requests_total{reason}` label are the reason where there is one.
    pub async fn write(self, session: &mut Session, ctx: &mut RequestCtx) -> Result<()> {
        let logged = self.reason.unwrap_or(self.error);
        ctx.reject = Some(logged);
        if self.status >= 400 {
            METRICS.rejected.with_label_values(&[logged]).inc();
        }
        let (ctype, body) = match self.body {
            Body::Json => ("application/json", self.json(&ctx.request_id)),
            Body::Html(page) => ("text/html; charset=utf-8", Bytes::from(page)),
            Body::Text(text) => ("text/plain", Bytes::from(text)),
            Body::Document(ctype, bytes) => (ctype, bytes),
            Body::Empty => ("", Bytes::new()),
        };
        let mut resp = ResponseHeader::build(self.status, Some(5 + self.headers.len()))?;
        if !ctype.is_empty() {
            resp.insert_header(http::header::CONTENT_TYPE, ctype)?;
        }
        resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
        if !self
            .headers
            .iter()
            .any(|(n, _)| n == http::header::CACHE_CONTROL)
        {
            resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
        }
        resp.insert_header("x-request-id", ctx.request_id.clone())?;
        for (name, value) in self.headers {
            resp.append_header(name, value)?;
        }
        if !self.keep_alive {
            if !session.is_http2() {
                resp.insert_header(http::header::CONNECTION, "close")?;
            }
            session.set_keepalive(None);
        }
        let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
        session
            .write_response_header(Box::new(resp), head_only)
            .await?;
        if !head_only {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;

//! Admin authentication: a static bearer token compared in constant time. With no token
//! configured, every protected endpoint is refused rather than left open.

use super::error;
use http::{Response, StatusCode};
use pingora::http::RequestHeader;
use subtle::ConstantTimeEq;

pub fn check(token: Option<&str>, req: &RequestHeader) -> Result<(), Box<Response<Vec<u8>>>> {
    let Some(expected) = token else {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "no admin token is configured (admin.token_env or admin.token_file)",
        )));
    };
    let presented = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin bearer token is required",
        );
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"tenant-gateway-admin\""),
        );
        Err(Box::new(resp))
    }
}

//! Bounded reads of IdP responses: every body the gateway reads from an identity provider
//! (JWKS, discovery document, token endpoint) goes through [`read_capped`], so a huge or
//! endless answer costs at most the cap in memory and ends as "IdP unavailable".

/// The outbound client for IdP calls, with the size cap its response bodies obey.
#[derive(Clone)]
pub struct IdpHttp {
    pub client: reqwest::Client,
    /// `auth.idp_max_response_bytes`.
    pub max_body: u64,
}

impl IdpHttp {
    /// The body of `resp`, at most `max_body` bytes.
    pub async fn body(&self, resp: reqwest::Response) -> Result<Vec<u8>, BodyError> {
        read_capped(resp, self.max_body).await
    }
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("response body larger than {0} bytes")]
    TooLarge(u64),
    #[error("reading the response body: {0}")]
    Read(#[from] reqwest::Error),
}

/// Reads the whole body of `resp` unless it is larger than `max` bytes: a larger
/// `Content-Length` is refused before reading, and a body without one is read chunk by chunk
/// and abandoned as soon as it passes the cap.
pub async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Vec<u8>, BodyError> {
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge(max));
    }
    // Capacity from a declared length (already <= max), bounded for a body of unknown length.
    let initial = declared.unwrap_or(0).min(max).min(64 * 1024);
    let mut body = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
#[path = "http_body_tests.rs"]
mod tests;
